/**
 * What the parser knows about functions: canonical OData functions with their arity, and the
 * `Microsoft.Dynamics.CRM` query functions with their parameters (dataverse-webapi.md §5). The
 * language server reuses these tables for completion and hover.
 */

export interface CanonicalFunction {
  readonly name: string;
  readonly minArgs: number;
  readonly maxArgs: number;
}

const canonical = (name: string, minArgs: number, maxArgs = minArgs): CanonicalFunction => ({
  name,
  minArgs,
  maxArgs,
});

export const CANONICAL_FUNCTIONS: ReadonlyMap<string, CanonicalFunction> = new Map(
  [
    canonical('contains', 2),
    canonical('startswith', 2),
    canonical('endswith', 2),
    canonical('indexof', 2),
    canonical('substring', 2, 3),
    canonical('length', 1),
    canonical('tolower', 1),
    canonical('toupper', 1),
    canonical('trim', 1),
    canonical('concat', 2),
    canonical('matchespattern', 2),
    canonical('hassubset', 2),
    canonical('hassubsequence', 2),
    canonical('year', 1),
    canonical('month', 1),
    canonical('day', 1),
    canonical('hour', 1),
    canonical('minute', 1),
    canonical('second', 1),
    canonical('fractionalseconds', 1),
    canonical('totalseconds', 1),
    canonical('date', 1),
    canonical('time', 1),
    canonical('totaloffsetminutes', 1),
    canonical('now', 0),
    canonical('maxdatetime', 0),
    canonical('mindatetime', 0),
    canonical('round', 1),
    canonical('floor', 1),
    canonical('ceiling', 1),
    canonical('cast', 1, 2),
    canonical('isof', 1, 2),
    canonical('geo.distance', 2),
    canonical('geo.length', 1),
    canonical('geo.intersects', 2),
  ].map((f) => [f.name, f]),
);

export const QUERY_FUNCTION_NAMESPACE = 'Microsoft.Dynamics.CRM';

export type QueryFunctionParameters = 'name' | 'value' | 'values' | 'value1value2';

export interface QueryFunction {
  /** Unqualified, e.g. `LastXDays`. */
  readonly name: string;
  /** Which parameters besides `PropertyName` it takes. */
  readonly parameters: QueryFunctionParameters;
}

const group = (parameters: QueryFunctionParameters, names: string): QueryFunction[] =>
  names.split(' ').map((name) => ({ name, parameters }));

export const QUERY_FUNCTIONS: ReadonlyMap<string, QueryFunction> = new Map(
  [
    ...group(
      'name',
      'Today Tomorrow Yesterday Last7Days Next7Days LastWeek ThisWeek NextWeek LastMonth ThisMonth NextMonth ' +
        'LastYear ThisYear NextYear LastFiscalPeriod ThisFiscalPeriod NextFiscalPeriod LastFiscalYear ThisFiscalYear ' +
        'NextFiscalYear EqualUserId NotEqualUserId EqualBusinessId NotEqualBusinessId EqualUserOrUserHierarchy ' +
        'EqualUserOrUserHierarchyAndTeams EqualUserOrUserTeams EqualUserTeams EqualUserLanguage',
    ),
    ...group(
      'value',
      'LastXHours LastXDays LastXWeeks LastXMonths LastXYears LastXFiscalPeriods LastXFiscalYears NextXHours ' +
        'NextXDays NextXWeeks NextXMonths NextXYears NextXFiscalPeriods NextXFiscalYears OlderThanXMinutes ' +
        'OlderThanXHours OlderThanXDays OlderThanXWeeks OlderThanXMonths OlderThanXYears On OnOrAfter OnOrBefore ' +
        'InFiscalPeriod InFiscalYear Above AboveOrEqual Under UnderOrEqual NotUnder Contains DoesNotContain',
    ),
    ...group('value1value2', 'InFiscalPeriodAndYear InOrAfterFiscalPeriodAndYear InOrBeforeFiscalPeriodAndYear'),
    ...group('values', 'ContainValues DoesNotContainValues Between NotBetween In NotIn'),
  ].map((f) => [f.name, f]),
);

/** Parameter names a query function requires, in their usual order. */
export function queryFunctionParameterNames(fn: QueryFunction): readonly string[] {
  switch (fn.parameters) {
    case 'name':
      return ['PropertyName'];
    case 'value':
      return ['PropertyName', 'PropertyValue'];
    case 'values':
      return ['PropertyName', 'PropertyValues'];
    case 'value1value2':
      return ['PropertyName', 'PropertyValue1', 'PropertyValue2'];
  }
}

export const AGGREGATE_METHODS: ReadonlySet<string> = new Set(['sum', 'min', 'max', 'average', 'countdistinct']);

/** Closest name by edit distance, for "did you mean" messages; undefined when nothing is close. */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  // Long names are never typos of short ones, and edit distance is quadratic.
  if (name.length > 64) return undefined;
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    if (Math.abs(c.length - lower.length) >= bestDistance) continue;
    const distance = c === lower ? 0 : editDistance(lower, c);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, k) => k);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = current;
  }
  return previous[b.length]!;
}
