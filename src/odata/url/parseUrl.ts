/**
 * Entry points: a whole Web API URL (relative or absolute, as typed in a `.odata` file or
 * percent-encoded as received on the wire) and single expressions. Nothing here throws.
 */
import { closestName } from './functions';
import { Parser } from './parser';
import type { DecodeOptions, SourceText } from './source';
import { decodeSlice, decodeText } from './source';
import type {
  ExpressionNode,
  ODataDiagnostic,
  ODataUrl,
  ParameterAlias,
  QueryOption,
  QueryOptionKind,
  QueryOptions,
  ServiceRoot,
  TextSpan,
  TextValue,
} from './syntax';
import type { TokenizeOptions } from './tokenizer';
import { tokenize } from './tokenizer';

export interface ParseOptions extends DecodeOptions, TokenizeOptions {}

/** Options Dataverse implements. */
export const SYSTEM_OPTIONS = [
  '$select',
  '$filter',
  '$orderby',
  '$top',
  '$count',
  '$expand',
  '$apply',
  '$skiptoken',
  '$deltatoken',
  '$id',
] as const;
/** Standard OData options Dataverse rejects (dataverse-webapi.md §1.5); parsed, then flagged. */
export const UNSUPPORTED_OPTIONS = [
  '$skip',
  '$search',
  '$format',
  '$compute',
  '$levels',
  '$index',
  '$schemaversion',
] as const;
/** Dataverse's own options (FetchXML, saved and user views). */
export const CUSTOM_OPTIONS = ['fetchXml', 'savedQuery', 'userQuery'] as const;
const ALL_OPTIONS: readonly string[] = [...SYSTEM_OPTIONS, ...UNSUPPORTED_OPTIONS, ...CUSTOM_OPTIONS];

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function isGuid(text: string): boolean {
  return /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(text);
}

function parserFor(source: SourceText, diagnostics: ODataDiagnostic[], options: ParseOptions): Parser {
  return new Parser(tokenize(source, diagnostics, options), diagnostics);
}

/**
 * Splits `text.slice(start, end)` (a query string without its `?`) into options. Values are
 * percent-decoded, spans point into `text`. Whitespace around an option (line continuations in
 * `.odata` files) is not part of it.
 */
export function splitQueryOptions(
  text: string,
  start = 0,
  end: number = text.length,
  options: DecodeOptions = {},
): QueryOption[] {
  const result: QueryOption[] = [];
  const seen = new Set<string>();
  let segmentStart = start;
  while (segmentStart <= end) {
    let segmentEnd = text.indexOf('&', segmentStart);
    if (segmentEnd < 0 || segmentEnd > end) segmentEnd = end;
    let a = segmentStart;
    let b = segmentEnd;
    while (a < b && isSpace(text.charCodeAt(a))) a++;
    while (b > a && isSpace(text.charCodeAt(b - 1))) b--;
    if (a < b) {
      let equals = text.indexOf('=', a);
      if (equals < 0 || equals >= b) equals = -1;
      const nameEnd = equals < 0 ? b : equals;
      let trimmedNameEnd = nameEnd;
      while (trimmedNameEnd > a && isSpace(text.charCodeAt(trimmedNameEnd - 1))) trimmedNameEnd--;
      let valueStart = equals < 0 ? b : equals + 1;
      while (valueStart < b && isSpace(text.charCodeAt(valueStart))) valueStart++;
      const name = decodeText(text, a, trimmedNameEnd, options);
      const value = decodeText(text, valueStart, b, options);
      result.push({
        kind: classifyOption(name),
        name,
        nameSpan: { start: a, end: trimmedNameEnd },
        value,
        rawValue: text.slice(valueStart, b),
        valueSpan: { start: valueStart, end: b },
        hasValue: equals >= 0,
        span: { start: a, end: b },
        duplicate: seen.has(name),
      });
      seen.add(name);
    }
    segmentStart = segmentEnd + 1;
  }
  return result;
}

function classifyOption(name: string): QueryOptionKind {
  if (name.startsWith('@')) return 'alias';
  if (
    (SYSTEM_OPTIONS as readonly string[]).includes(name) ||
    (UNSUPPORTED_OPTIONS as readonly string[]).includes(name)
  ) {
    return 'system';
  }
  if ((CUSTOM_OPTIONS as readonly string[]).includes(name)) return 'custom';
  return 'unknown';
}

/** Finds `/api/data/vX.Y/` at `at`; returns the offset after it and the version. */
function matchWebApiRoot(text: string, at: number, end: number): { end: number; version: string } | undefined {
  const prefix = '/api/data/';
  if (text.slice(at, at + prefix.length).toLowerCase() !== prefix) return undefined;
  let i = at + prefix.length;
  if (text[i] !== 'v' && text[i] !== 'V') return undefined;
  const versionStart = i;
  i++;
  while (i < end && /[0-9.]/.test(text[i]!)) i++;
  if (i === versionStart + 1) return undefined;
  const version = text.slice(versionStart, i);
  if (i < end && text[i] !== '/') return undefined;
  return { end: i < end ? i + 1 : i, version };
}

/**
 * Parses a Web API URL: relative to the service root (`accounts?$select=name`), rooted
 * (`/api/data/v9.2/accounts`, as an HTTP server sees it) or absolute.
 */
export function parseODataUrl(text: string, options: ParseOptions = {}): ODataUrl {
  const diagnostics: ODataDiagnostic[] = [];
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  // No fragment handling: servers never receive one, and a `#` typed inside a literal must stay.
  let queryStart = text.indexOf('?', start);
  if (queryStart < 0 || queryStart > end) queryStart = -1;
  const pathEndRaw = queryStart < 0 ? end : queryStart;

  let pathStart = start;
  let serviceRoot: ServiceRoot | undefined;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text.slice(start, Math.min(pathEndRaw, start + 40)));
  if (scheme) {
    const authorityStart = start + scheme[0].length;
    let authorityEnd = text.indexOf('/', authorityStart);
    if (authorityEnd < 0 || authorityEnd > pathEndRaw) authorityEnd = pathEndRaw;
    const root = matchWebApiRoot(text, authorityEnd, pathEndRaw);
    if (root) {
      serviceRoot = { text: text.slice(start, root.end), version: root.version, span: { start, end: root.end } };
      pathStart = root.end;
    } else {
      diagnostics.push({
        code: 'invalidUrl',
        message: 'Not a Dataverse Web API URL: expected /api/data/v9.2/ after the host.',
        span: { start, end: authorityEnd },
        severity: 'warning',
      });
      pathStart = authorityEnd < pathEndRaw ? authorityEnd + 1 : authorityEnd;
      serviceRoot = { text: text.slice(start, pathStart), version: undefined, span: { start, end: pathStart } };
    }
  } else {
    const root = matchWebApiRoot(text, start, pathEndRaw);
    if (root) {
      serviceRoot = { text: text.slice(start, root.end), version: root.version, span: { start, end: root.end } };
      pathStart = root.end;
    } else if (text[start] === '/') {
      pathStart = start + 1;
    }
  }
  let pathEnd = pathEndRaw;
  while (pathEnd > pathStart && isSpace(text.charCodeAt(pathEnd - 1))) pathEnd--;

  // Paths never use `+` for spaces, whatever the query string does.
  const pathSource = decodeSlice(
    text,
    pathStart,
    pathEnd,
    options.plusAsSpace === true ? { ...options, plusAsSpace: false } : options,
  );
  const path = parserFor(pathSource, diagnostics, options).parseResourcePath(pathStart, pathEnd);

  const queryOptions = queryStart < 0 ? [] : splitQueryOptions(text, queryStart + 1, end, options);
  const query = parseQueryOptions(text, queryOptions, diagnostics, options);

  return {
    kind: 'url',
    serviceRoot,
    path,
    options: queryOptions,
    query,
    diagnostics: sortDiagnostics(diagnostics),
    span: { start, end },
  };
}

function sortDiagnostics(diagnostics: ODataDiagnostic[]): ODataDiagnostic[] {
  if (diagnostics.length < 2) return diagnostics;
  return diagnostics
    .map((d, index) => ({ d, index }))
    .sort((x, y) => x.d.span.start - y.d.span.start || x.index - y.index)
    .map((x) => x.d);
}

/** Module functions rather than closures made per call: every URL checked passes here. */
function report(
  diagnostics: ODataDiagnostic[],
  code: ODataDiagnostic['code'],
  message: string,
  at: TextSpan,
  severity: 'error' | 'warning' = 'error',
): void {
  diagnostics.push({ code, message, span: at, severity });
}

function textValue(source: SourceText, option: QueryOption): TextValue {
  return { kind: 'text', value: source.text, span: option.valueSpan };
}

type MutableQuery = { -readonly [K in keyof QueryOptions]: QueryOptions[K] };

function parseQueryOptions(
  text: string,
  queryOptions: readonly QueryOption[],
  diagnostics: ODataDiagnostic[],
  options: ParseOptions,
): QueryOptions {
  const aliases: ParameterAlias[] = [];
  const query: MutableQuery = { aliases };
  for (const option of queryOptions) {
    const { name } = option;
    if (option.duplicate) {
      report(
        diagnostics,
        'duplicateOption',
        `'${name}' is given more than once; only the first is used.`,
        option.nameSpan,
      );
      continue;
    }
    if (option.kind === 'unknown') {
      const suggestion = closestName(name, ALL_OPTIONS);
      const caseOnly = suggestion !== undefined && suggestion.toLowerCase() === name.toLowerCase();
      report(
        diagnostics,
        'unknownOption',
        caseOnly
          ? `Option names are case-sensitive: '${suggestion}', not '${name}'.`
          : `Unknown query option '${name}'.` + (suggestion ? ` Did you mean '${suggestion}'?` : ''),
        option.nameSpan,
        caseOnly ? 'error' : 'warning',
      );
      continue;
    }
    if ((UNSUPPORTED_OPTIONS as readonly string[]).includes(name)) {
      report(diagnostics, 'unsupportedOption', `Dataverse does not support '${name}'.`, option.nameSpan, 'warning');
    }
    if (!option.hasValue || option.valueSpan.start === option.valueSpan.end) {
      report(diagnostics, 'missingOptionValue', `'${name}' needs a value.`, option.nameSpan);
      continue;
    }
    const source = decodeSlice(text, option.valueSpan.start, option.valueSpan.end, options);
    if (option.kind === 'alias') {
      const parser = parserFor(source, diagnostics, options);
      const value: ExpressionNode = parser.parseStandaloneExpression();
      aliases.push({ kind: 'parameterAlias', name: name.slice(1), value, span: option.span });
      continue;
    }
    switch (name) {
      case '$select':
      case '$filter':
      case '$orderby':
      case '$expand':
      case '$apply':
      case '$top':
      case '$skip':
      case '$count': {
        const parser = parserFor(source, diagnostics, options);
        if (name === '$select') query.select = parser.parseSelect();
        else if (name === '$filter') query.filter = parser.parseStandaloneExpression();
        else if (name === '$orderby') query.orderBy = parser.parseOrderBy();
        else if (name === '$expand') query.expand = parser.parseExpand();
        else if (name === '$apply') query.apply = parser.parseApply();
        else if (name === '$top') query.top = parser.parseInteger(name);
        else if (name === '$skip') query.skip = parser.parseInteger(name);
        else query.count = parser.parseBoolean(name);
        parser.expectEnd();
        break;
      }
      case '$skiptoken':
        query.skipToken = textValue(source, option);
        break;
      case '$deltatoken':
        query.deltaToken = textValue(source, option);
        break;
      case '$search':
        query.search = textValue(source, option);
        break;
      case '$format':
        query.format = textValue(source, option);
        break;
      case '$id':
        query.id = textValue(source, option);
        break;
      case 'fetchXml':
        if (!source.text.trimStart().startsWith('<fetch')) {
          report(diagnostics, 'invalidOptionValue', 'fetchXml must be a <fetch> document.', option.valueSpan);
        }
        query.fetchXml = textValue(source, option);
        break;
      case 'savedQuery':
      case 'userQuery': {
        const value = source.text.trim();
        if (!isGuid(value) && !/^\{\{[^}]*\}\}$/.test(value)) {
          report(diagnostics, 'invalidOptionValue', `'${name}' must be the id (GUID) of a view.`, option.valueSpan);
        }
        if (name === 'savedQuery') query.savedQuery = textValue(source, option);
        else query.userQuery = textValue(source, option);
        break;
      }
      default:
        // $compute, $levels, $index, $schemaversion: reported as unsupported above, value ignored.
        break;
    }
  }
  return query;
}

export interface ExpressionResult {
  readonly expression: ExpressionNode;
  readonly diagnostics: readonly ODataDiagnostic[];
}

/**
 * Parses one expression (a `$filter` value, an `$orderby` item, a parameter value). Spans are
 * offsets into `text`. Percent escapes are decoded only when `percentDecode` is set.
 */
export function parseExpression(text: string, options: ParseOptions = {}): ExpressionResult {
  const diagnostics: ODataDiagnostic[] = [];
  const source = decodeSlice(text, 0, text.length, { percentDecode: false, ...options });
  const expression = parserFor(source, diagnostics, options).parseStandaloneExpression();
  return { expression, diagnostics: sortDiagnostics(diagnostics) };
}
