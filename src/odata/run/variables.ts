/**
 * Variable expansion for running a block (docs/odata-files.md, Variables). Everything the outside
 * world decides (settings, earlier responses, clock, randomness) is injected through `RunContext`,
 * so expansion is deterministic under test and runs anywhere.
 */
import type { ODataDocument, TextSpan, VariableDefinition, VariableUse } from '../document/syntax';
import { encodeQueryValue } from '../url/printer';
import { isJsonObject } from '../../core/json';

/** What a request named with `# @name label` answered, as later `{{label.…}}` uses read it. */
export interface NamedResult {
  readonly status?: number;
  /** Response headers; names are matched without regard to case. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON, text, or undefined when the answer had no body. */
  readonly body: unknown;
}

export interface NamedResults {
  get(label: string): NamedResult | undefined;
}

export interface RunContext {
  /** Variables of the environment's settings; file variables win over them. */
  readonly environmentVariables: Readonly<Record<string, string>>;
  /** Values that win over file variables too (`dvw run --var name=value`). */
  readonly overrides?: Readonly<Record<string, string>>;
  /** Results of named requests run earlier (a `Map<string, NamedResult>` will do). */
  readonly namedResults: NamedResults;
  readonly now: () => Date;
  /** In [0, 1), like `Math.random`. */
  readonly random: () => number;
  readonly newGuid: () => string;
}

export type RunProblemCode =
  | 'undefinedVariable'
  | 'variableCycle'
  | 'missingResult'
  | 'missingValue'
  | 'invalidVariable'
  | 'invalidHeaderValue'
  | 'invalidUrl'
  | 'noRequest'
  | 'emptyBatch'
  | 'batchHeader';

export interface RunProblem {
  readonly message: string;
  readonly span: TextSpan;
  /** A `RunProblemCode`, or the code of the document diagnostic that keeps the block from running. */
  readonly code: string;
}

/**
 * A value ready to be placed: `text` comes from the file, settings or the system and is source text;
 * `json` comes from a response body and keeps its JSON type (a string stays a string in a JSON body).
 */
export type Resolved =
  { readonly kind: 'text'; readonly text: string } | { readonly kind: 'json'; readonly value: unknown };

/** How a value is written where it is used. */
export type Placement = 'urlPath' | 'urlQuery' | 'header' | 'jsonString' | 'jsonValue' | 'xml' | 'text';

const XML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

function textOf(value: Resolved): string {
  if (value.kind === 'text') return value.text;
  if (typeof value.value === 'string') return value.value;
  if (value.value === undefined) return '';
  return JSON.stringify(value.value);
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The text a value becomes at `placement`. */
export function place(value: Resolved, placement: Placement): string {
  switch (placement) {
    case 'urlQuery':
      // The written query is OData syntax; a value inside it is data, so `&` or `#` in a name must
      // not split the option or start a fragment.
      return encodeQueryValue(textOf(value));
    case 'jsonString':
      return JSON.stringify(textOf(value)).slice(1, -1);
    case 'jsonValue':
      // "Stands for a whole value": response values keep their JSON type; source text that is JSON
      // (`5000`, `true`, `{"a":1}`) is written as is, any other text becomes a JSON string.
      if (value.kind === 'json') return value.value === undefined ? 'null' : JSON.stringify(value.value);
      return isJsonText(value.text) ? value.text : JSON.stringify(value.text);
    case 'xml':
      return textOf(value).replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
    case 'urlPath':
    case 'header':
    case 'text':
      return textOf(value);
  }
}

/** The key in an `OData-EntityId` header: `…/accounts(00000000-…)` gives the GUID. */
export function idFromEntityIdHeader(value: string | undefined): string | undefined {
  const match = /\(([^()]*)\)\s*$/.exec(value ?? '');
  return match?.[1] === undefined || match[1] === '' ? undefined : match[1];
}

function headerOf(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

/**
 * Follows `path` into a JSON value. Property names may hold dots (`@odata.etag`,
 * `_x_value@OData.Community.Display.V1.FormattedValue`) while the written path splits at every dot,
 * so at each object the shortest run of steps naming a present property is taken.
 */
export function lookupPath(
  value: unknown,
  path: readonly string[],
): { found: true; value: unknown } | { found: false } {
  let current = value;
  let i = 0;
  while (i < path.length) {
    if (Array.isArray(current)) {
      const step = path[i]!;
      if (!/^\d+$/.test(step) || Number(step) >= current.length) return { found: false };
      current = current[Number(step)];
      i++;
      continue;
    }
    if (!isJsonObject(current)) return { found: false };
    let key = '';
    let matched = -1;
    for (let j = i; j < path.length; j++) {
      key = j === i ? path[j]! : `${key}.${path[j]!}`;
      if (Object.hasOwn(current, key)) {
        matched = j;
        break;
      }
    }
    if (matched < 0) return { found: false };
    current = current[key];
    i = matched + 1;
  }
  return { found: true, value: current };
}

/** Resolves `{{…}}` uses of one document against a context; memoizes file variables per run. */
export class VariableResolver {
  readonly problems: RunProblem[] = [];
  private readonly definitions = new Map<string, VariableDefinition>();
  private readonly fileValues = new Map<string, string | undefined>();
  private readonly resolving: string[] = [];

  constructor(
    private readonly document: ODataDocument,
    private readonly context: RunContext,
  ) {
    // The last definition wins, wherever it is in the file.
    for (const definition of document.variables) this.definitions.set(definition.name, definition);
  }

  /** The uses whose span lies in [start, end), in order. */
  usesIn(start: number, end: number): VariableUse[] {
    const uses = this.document.variableUses;
    let low = 0;
    let high = uses.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (uses[mid]!.span.start < start) low = mid + 1;
      else high = mid;
    }
    const result: VariableUse[] = [];
    for (let i = low; i < uses.length && uses[i]!.span.start < end; i++) result.push(uses[i]!);
    return result;
  }

  /**
   * The text of [start, end) with every use replaced as `placementOf` says; undefined when a use
   * could not be resolved (the problem is recorded). `copy` rewrites the literal text between uses.
   */
  expand(
    start: number,
    end: number,
    placementOf: (use: VariableUse) => Placement,
    copy: (literal: string) => string = (literal) => literal,
  ): string | undefined {
    const text = this.document.text;
    let out = '';
    let at = start;
    let ok = true;
    for (const use of this.usesIn(start, end)) {
      out += copy(text.slice(at, use.span.start));
      at = Math.min(use.span.end, end);
      const value = this.resolve(use);
      if (value === undefined) ok = false;
      else out += place(value, placementOf(use));
    }
    out += copy(text.slice(at, end));
    return ok ? out : undefined;
  }

  resolve(use: VariableUse): Resolved | undefined {
    const reference = use.reference;
    switch (reference.kind) {
      case 'invalid':
        return this.fail(use.span, 'invalidVariable', `'{{${use.text}}}' is not a usable variable.`);
      case 'system':
        return { kind: 'text', text: this.system(reference.name, reference.args) };
      case 'name': {
        const text = this.named(reference.name, use.innerSpan);
        return text === undefined ? undefined : { kind: 'text', text };
      }
      case 'request':
        return this.fromResult(use, reference.label, reference.target, reference.path);
    }
  }

  private fail(span: TextSpan, code: RunProblemCode, message: string): undefined {
    this.problems.push({ message, span, code });
    return undefined;
  }

  private system(name: '$guid' | '$now' | '$timestamp' | '$randomInt', args: readonly number[]): string {
    switch (name) {
      case '$guid':
        return this.context.newGuid();
      case '$now':
        return this.context.now().toISOString();
      case '$timestamp':
        return String(Math.floor(this.context.now().getTime() / 1000));
      case '$randomInt': {
        const min = args[0] ?? 0;
        const max = args[1] ?? min + 1;
        return String(min + Math.floor(this.context.random() * (max - min)));
      }
    }
  }

  private named(name: string, span: TextSpan): string | undefined {
    const overrides = this.context.overrides;
    if (overrides !== undefined && Object.hasOwn(overrides, name)) return overrides[name];
    const definition = this.definitions.get(name);
    if (definition === undefined) {
      const environment = this.context.environmentVariables;
      if (Object.hasOwn(environment, name)) return environment[name];
      return this.fail(span, 'undefinedVariable', `Undefined variable '${name}'.`);
    }
    if (this.fileValues.has(name)) return this.fileValues.get(name);
    if (this.resolving.includes(name)) {
      const chain = [...this.resolving.slice(this.resolving.indexOf(name)), name].join(' → ');
      return this.fail(span, 'variableCycle', `Variable '${name}' refers to itself: ${chain}.`);
    }
    this.resolving.push(name);
    const value = this.expand(definition.valueSpan.start, definition.valueSpan.end, () => 'text');
    this.resolving.pop();
    // A cycle is reported once, where it closes; the outer uses fail quietly.
    this.fileValues.set(name, value);
    return value;
  }

  private fromResult(
    use: VariableUse,
    label: string,
    target: 'id' | 'header' | 'body',
    path: readonly string[],
  ): Resolved | undefined {
    const result = this.context.namedResults.get(label);
    if (result === undefined) {
      return this.fail(
        use.innerSpan,
        'missingResult',
        `No result for '${label}' yet: run the request named '${label}' first.`,
      );
    }
    if (target === 'id') {
      const id = idFromEntityIdHeader(headerOf(result.headers, 'OData-EntityId'));
      if (id === undefined) {
        return this.fail(use.innerSpan, 'missingValue', `The answer to '${label}' has no OData-EntityId header.`);
      }
      return { kind: 'text', text: id };
    }
    if (target === 'header') {
      const name = path[0] ?? '';
      const value = headerOf(result.headers, name);
      if (value === undefined) {
        return this.fail(use.innerSpan, 'missingValue', `The answer to '${label}' has no '${name}' header.`);
      }
      return { kind: 'text', text: value };
    }
    const found = lookupPath(result.body, path);
    if (!found.found) {
      return this.fail(use.innerSpan, 'missingValue', `The answer to '${label}' has no '${path.join('.')}'.`);
    }
    return { kind: 'json', value: found.value };
  }
}
