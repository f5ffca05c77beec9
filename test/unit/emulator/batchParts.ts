import type { Client } from './helpers';

/** One request inside a `$batch`: its method, URL (relative to the Web API root) and JSON body text. */
export interface BatchPart {
  readonly method: string;
  readonly url: string;
  readonly body?: string;
}

/** The multipart/mixed text of a batch; writes go into one change set, as Dataverse requires. */
export function batchBody(parts: readonly BatchPart[], boundary = 'batch_t'): string {
  const lines: string[] = [];
  const http = (part: BatchPart, contentId?: number): void => {
    lines.push('Content-Type: application/http', 'Content-Transfer-Encoding: binary');
    if (contentId !== undefined) lines.push(`Content-ID: ${contentId}`);
    lines.push('', `${part.method} ${part.url} HTTP/1.1`);
    if (part.body !== undefined) lines.push('Content-Type: application/json');
    lines.push('', part.body ?? '');
  };
  const reads = parts.filter((p) => p.method === 'GET');
  const writes = parts.filter((p) => p.method !== 'GET');
  for (const part of reads) {
    lines.push(`--${boundary}`);
    http(part);
  }
  if (writes.length > 0) {
    lines.push(`--${boundary}`, 'Content-Type: multipart/mixed; boundary=changeset_t', '');
    writes.forEach((part, i) => {
      lines.push('--changeset_t');
      http(part, i + 1);
    });
    lines.push('--changeset_t--');
  }
  lines.push(`--${boundary}--`, '');
  return lines.join('\r\n');
}

/** The status and body text of each answered part of a batch response, in order. */
export function batchAnswers(text: string): { status: number; body: string }[] {
  const answers: { status: number; body: string }[] = [];
  const statusLine = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r?\n([\s\S]*?)\r?\n\r?\n([\s\S]*?)(?=\r?\n--)/gm;
  for (const match of text.matchAll(statusLine)) {
    answers.push({ status: Number(match[1]), body: match[3] ?? '' });
  }
  return answers;
}

/** Sends a batch; answers the outer status and each part's answer. */
export async function sendBatch(
  client: Client,
  parts: readonly BatchPart[],
): Promise<{ status: number; answers: { status: number; body: string }[]; text: string }> {
  const response = await client.request('POST', '$batch', {
    rawBody: batchBody(parts),
    headers: { 'Content-Type': 'multipart/mixed; boundary=batch_t' },
  });
  const text = await response.text();
  return { status: response.status, answers: batchAnswers(text), text };
}
