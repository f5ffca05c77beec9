/**
 * What a request's headers may say, shared by the checks on a `.odata` file (odata/language), its
 * preparation (odata/run) and the batch sender (dataverse/batch.ts), so all three agree.
 */

/** Headers only the client writes, lower case: the access token and the HTTP framing. Never from a file. */
export const CLIENT_ONLY_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
]);

/** The preferences of a `Prefer` value, split at commas outside quoted strings. */
export function splitPreferences(value: string): string[] {
  const result: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && quoted && i + 1 < value.length) {
      current += c + value[i + 1]!;
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      result.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  result.push(current);
  return result.map((p) => p.trim()).filter((p) => p !== '');
}

/** `odata.maxpagesize=5` → `odata.maxpagesize`; names compare without case (RFC 7240). */
export function preferenceName(preference: string): string {
  return (/^[^=;\s]*/.exec(preference)?.[0] ?? '').toLowerCase();
}

/** Dataverse's display text for option labels, lookup names, money and dates. */
export const FORMATTED_VALUE_ANNOTATION = 'OData.Community.Display.V1.FormattedValue';

/**
 * A read shown in the grid asks for formatted values unless its `Prefer` already says which annotations
 * it wants: the grid's "Formatted values" toggle then only changes what is shown, never what was asked.
 * Other preferences (`odata.maxpagesize`) are kept.
 */
export function withFormattedValues(
  headers: readonly (readonly [name: string, value: string])[],
): (readonly [name: string, value: string])[] {
  const at = headers.findIndex(([name]) => name.toLowerCase() === 'prefer');
  const wanted = `odata.include-annotations="${FORMATTED_VALUE_ANNOTATION}"`;
  if (at === -1) return [...headers, ['Prefer', wanted]];
  const [name, value] = headers[at]!;
  const preferences = splitPreferences(value);
  if (preferences.some((preference) => preferenceName(preference) === 'odata.include-annotations')) {
    return [...headers];
  }
  const result = [...headers];
  result[at] = [name, [...preferences, wanted].join(',')];
  return result;
}
