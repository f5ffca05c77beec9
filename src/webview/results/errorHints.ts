// What a user can do about the HTTP statuses Dataverse answers most often, in their words.
const HINTS: Readonly<Record<number, string>> = {
  400: 'The service could not read the request. Check the URL, the query options and the JSON body against the table’s columns.',
  401: 'You are not signed in, or your sign-in expired. Sign in to the environment again (Dataverse: Connect to an Environment…) and run the request again.',
  403: 'You are signed in, but your security role does not allow this. Ask an administrator for the privilege named in the message, or run it as another user.',
  404: 'Nothing is at this address: the record may have been deleted, or the entity set, id or column name is misspelled. Entity sets are plural logical names, e.g. accounts.',
  412: 'The record changed since you read it (its ETag no longer matches If-Match). Read it again, then repeat your change on the fresh copy.',
  429: 'Too many requests: Dataverse’s service protection limits were reached. Wait for the time in Retry-After, then run it again; page with smaller batches or fewer parallel requests.',
};

/** The host's hint when it sent one, else ours for the status, else none. */
export function hintFor(status: number | undefined, hostHint?: string): string | undefined {
  if (hostHint !== undefined && hostHint.trim() !== '') return hostHint;
  return status === undefined ? undefined : HINTS[status];
}
