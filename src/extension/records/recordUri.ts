import * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';

/**
 * Records opened for editing: `dataverse:/<connection id>/<entity set>/<id>/<title>`. The last segment is
 * the tab's title (`account: Contoso Ltd`, VS Code titles a tab by the path's last segment); only the
 * segments before it name the record.
 */
export const RECORD_SCHEME = 'dataverse';
/** The server's current version of a record, read-only, shown beside the user's in a save conflict. */
export const SERVER_RECORD_SCHEME = 'dataverse-server';

export interface RecordAddress {
  readonly connectionId: string;
  readonly entitySet: string;
  readonly id: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ENTITY_SET = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Long enough for any sensible name, short enough for a tab. */
const TITLE_LENGTH = 80;

/** `<table logical name>: <primary name, or the id when it has none>`, fit to be a path segment. */
export function recordTitle(logicalName: string, name: string | undefined, id: string): string {
  const shown = (name ?? '').replace(/[\\/\s]+/g, ' ').trim();
  const title = `${logicalName}: ${shown === '' ? id.toLowerCase() : shown}`;
  return title.length > TITLE_LENGTH ? `${title.slice(0, TITLE_LENGTH - 1)}…` : title;
}

export function recordUri(address: RecordAddress, title: string, scheme: string = RECORD_SCHEME): vscode.Uri {
  // The connection id (`environment:Contoso Dev`) is one path segment whatever characters it holds.
  return vscode.Uri.from({
    scheme,
    path: `/${encodeURIComponent(address.connectionId)}/${address.entitySet}/${address.id.toLowerCase()}/${title}`,
  });
}

/** One key per record, whatever title its URI carries. */
export function recordKey(address: RecordAddress): string {
  return `${address.connectionId}\n${address.entitySet}\n${address.id.toLowerCase()}`;
}

/** The record a URI names; a URI typed or edited by hand is checked before it reaches a request. */
export function parseRecordUri(uri: vscode.Uri): RecordAddress {
  const parts = uri.path.split('/');
  const [empty, connection, entitySet, id, title] = parts;
  if (
    parts.length !== 5 ||
    empty !== '' ||
    connection === undefined ||
    entitySet === undefined ||
    !ENTITY_SET.test(entitySet) ||
    id === undefined ||
    !GUID.test(id) ||
    title === undefined
  ) {
    throw new WorkbenchError(
      'invalidInput',
      `${uri.toString()} does not name a record (dataverse:/<connection>/<table>/<id>/<title>).`,
    );
  }
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(connection);
  } catch {
    throw new WorkbenchError('invalidInput', `${uri.toString()} names no connection.`);
  }
  return { connectionId, entitySet, id: id.toLowerCase() };
}

/** The record `uri` names, or undefined when it is not a record's URI. */
export function recordAddressOf(uri: vscode.Uri): RecordAddress | undefined {
  if (uri.scheme !== RECORD_SCHEME) return undefined;
  try {
    return parseRecordUri(uri);
  } catch {
    return undefined;
  }
}

/** A record not created yet: `dataverse:/<connection id>/<entity set>/new-<n>.json`. */
export interface DraftAddress {
  readonly connectionId: string;
  readonly entitySet: string;
  readonly draft: number;
}

export function draftUri(address: DraftAddress): vscode.Uri {
  return vscode.Uri.from({
    scheme: RECORD_SCHEME,
    path: `/${encodeURIComponent(address.connectionId)}/${address.entitySet}/new-${address.draft}.json`,
  });
}

/** The draft a URI names, or undefined when it names something else (a record, or nothing). */
export function parseDraftUri(uri: vscode.Uri): DraftAddress | undefined {
  const match = /^\/([^/]+)\/([A-Za-z_][A-Za-z0-9_]*)\/new-([1-9][0-9]{0,8})\.json$/.exec(uri.path);
  if (uri.scheme !== RECORD_SCHEME || match === null) return undefined;
  try {
    return { connectionId: decodeURIComponent(match[1] ?? ''), entitySet: match[2] ?? '', draft: Number(match[3]) };
  } catch {
    return undefined;
  }
}
