import type { ODataUrl } from '../../odata/url';
import { SYSTEM_OPTIONS, UNSUPPORTED_OPTIONS } from '../../odata/url';
import { guessed } from '../errors';

/** Standard OData options Dataverse refuses (reference §1.5). */
const REFUSED_OPTIONS: ReadonlySet<string> = new Set(UNSUPPORTED_OPTIONS);
/** Options each method accepts besides parameter aliases; `savedQuery`/`userQuery` are not served. */
const METHOD_OPTIONS: Record<string, ReadonlySet<string>> = {
  GET: new Set([...SYSTEM_OPTIONS.filter((o) => o !== '$id'), 'fetchXml']),
  POST: new Set(['$select', '$expand']),
  PATCH: new Set(['$select', '$expand']),
  DELETE: new Set(['$id']),
};

/** Rejects what Dataverse rejects before running anything: refused, unknown, misplaced or malformed options. */
export function checkQuery(url: ODataUrl, method: string): void {
  const allowed = METHOD_OPTIONS[method] ?? new Set<string>();
  for (const option of url.options) {
    const name = option.name;
    if (REFUSED_OPTIONS.has(name)) {
      throw guessed(400, 'unsupportedQueryOption', `The query parameter ${name} is not supported`);
    }
    if (option.kind === 'unknown') {
      throw guessed(400, 'unsupportedQueryOption', `The query parameter '${name}' is not supported.`);
    }
    if (option.duplicate) {
      throw guessed(
        400,
        'querySyntax',
        `Query option '${name}' was specified more than once, but it must be specified at most once.`,
      );
    }
    if (option.kind === 'alias' ? method !== 'GET' : !allowed.has(name)) {
      throw guessed(400, 'unsupportedQueryOption', `The query parameter '${name}' is not supported with ${method}.`);
    }
  }
  const queryStart = url.options[0]?.span.start ?? Number.POSITIVE_INFINITY;
  const error = url.diagnostics.find((d) => d.severity === 'error' && d.span.start >= queryStart);
  if (error === undefined) return;
  const fetchXml = url.options.find((o) => o.name === 'fetchXml');
  if (fetchXml !== undefined && error.span.start >= fetchXml.span.start && error.span.end <= fetchXml.span.end) {
    throw guessed(400, 'fetchXml', `The FetchXML is not valid: ${error.message}`);
  }
  throw guessed(400, 'querySyntax', `Syntax error: ${error.message}`);
}
