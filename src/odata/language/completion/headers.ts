/** Completion of header names and of the values of the headers Dataverse gives meaning to. */
import type { CompletionResult } from '../types';

export const HEADERS: readonly { name: string; detail: string }[] = [
  { name: 'Prefer', detail: 'return=representation, odata.maxpagesize, odata.include-annotations, …' },
  { name: 'If-Match', detail: '* or an ETag: update only an existing row, or only this version' },
  { name: 'If-None-Match', detail: 'null to bypass caches, * to refuse updates in an upsert' },
  { name: 'Content-Type', detail: 'application/json is added when missing' },
  { name: 'Accept', detail: 'application/json is added when missing' },
  { name: 'Content-ID', detail: 'names a request in a change set: later ones use $n' },
  { name: 'Consistency', detail: 'Strong: bypass metadata and permission caches' },
  { name: 'CallerObjectId', detail: 'impersonate this Entra object id' },
  { name: 'MSCRM.SolutionUniqueName', detail: 'add new components to this solution' },
  { name: 'MSCRM.SuppressDuplicateDetection', detail: 'false turns duplicate detection on' },
  { name: 'MSCRM.BypassCustomPluginExecution', detail: 'true skips custom plug-ins' },
  { name: 'OData-MaxVersion', detail: '4.0 is added when missing' },
  { name: 'OData-Version', detail: '4.0 is added when missing' },
];

const HEADER_VALUES: Readonly<Record<string, readonly string[]>> = {
  prefer: [
    'return=representation',
    'odata.include-annotations="*"',
    'odata.include-annotations="OData.Community.Display.V1.FormattedValue"',
    'odata.maxpagesize=100',
    'odata.track-changes',
    'odata.continue-on-error',
  ],
  'if-match': ['*'],
  'if-none-match': ['null', '*'],
  'content-type': ['application/json', 'multipart/mixed; boundary=batch_1'],
  accept: ['application/json'],
  consistency: ['Strong'],
  'mscrm.suppressduplicatedetection': ['false'],
  'mscrm.bypasscustompluginexecution': ['true'],
  'odata-maxversion': ['4.0'],
  'odata-version': ['4.0'],
};

export function headerCompletion(linePrefix: string, offset: number): CompletionResult | undefined {
  const colon = linePrefix.indexOf(':');
  if (colon < 0) {
    if (!/^[\w.-]*$/.test(linePrefix)) return undefined;
    return {
      span: { start: offset - linePrefix.length, end: offset },
      items: HEADERS.map((h, i) => ({
        label: h.name,
        kind: 'header' as const,
        detail: h.detail,
        insertText: `${h.name}: `,
        sortText: String(i).padStart(2, '0'),
      })),
    };
  }
  const values = HEADER_VALUES[linePrefix.slice(0, colon).trim().toLowerCase()];
  if (!values) return undefined;
  const valuePart = linePrefix.slice(colon + 1);
  const from = Math.max(valuePart.lastIndexOf(','), -1) + 1;
  let start = from;
  while (start < valuePart.length && /\s/.test(valuePart[start]!)) start++;
  return {
    span: { start: offset - (valuePart.length - start), end: offset },
    items: values.map((v) => ({ label: v, kind: 'headerValue' as const })),
  };
}
