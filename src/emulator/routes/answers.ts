import type { Reply } from '../reply';
import type { GuessedCode } from '../errors';
import { DataverseHttpError, errorBody } from '../errors';
import { finishJson } from '../exactNumber';

/** Every answer's JSON content type, as Dataverse sends it. */
export const JSON_TYPE = 'application/json; odata.metadata=minimal';

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': JSON_TYPE, ...headers }, body: finishJson(JSON.stringify(value)) };
}

/** What ASP.NET Web API answers for a path it has no route for (outside `/api/data/v9.x/`, a POST to a function). */
export function noResource(uri: string): DataverseHttpError {
  return new DataverseHttpError(404, '', `No HTTP resource was found that matches the request URI '${uri}'.`);
}

export interface ErrorAnswers {
  /** A Dataverse error as its reply, with the configured code for a guessed one. */
  readonly reply: (error: DataverseHttpError) => Reply;
  /**
   * Any thrown value as a reply: a Dataverse error as itself, anything else as a 500 that names the request id
   * and, because the answer must not echo internals (they may hold record data), logs the cause under that id.
   */
  readonly fromThrown: (error: unknown, requestId: string) => Reply;
}

/** The one place 4xx/5xx answers are built, top-level and in `$batch` parts alike. */
export function errorAnswers(
  errorCodes: Partial<Record<GuessedCode, string>> | undefined,
  log: (line: string) => void,
): ErrorAnswers {
  const reply = (error: DataverseHttpError): Reply => {
    const code = error.guess === undefined ? undefined : errorCodes?.[error.guess];
    const answer =
      code === undefined ? error : new DataverseHttpError(error.status, code, error.message, { ...error.headers });
    return {
      status: answer.status,
      headers: { 'Content-Type': JSON_TYPE, ...answer.headers },
      body: errorBody(answer),
    };
  };
  const fromThrown = (error: unknown, requestId: string): Reply => {
    if (error instanceof DataverseHttpError) return reply(error);
    log(`dvw emulator: 500 for request ${requestId}: ${describeCause(error)}\n`);
    return reply(new DataverseHttpError(500, '0x80040216', `An unexpected error occurred. Request id: ${requestId}.`));
  };
  return { reply, fromThrown };
}

/** The error's type, message and stack frames; the message is cut short, so a value caught in it stays small. */
function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return `non-error thrown (${typeof error})`;
  const message = error.message.length > 300 ? `${error.message.slice(0, 300)}…` : error.message;
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => line.trimStart().startsWith('at '))
    .slice(0, 8)
    .join('\n');
  return `${error.name}: ${message}${frames === '' ? '' : `\n${frames}`}`;
}
