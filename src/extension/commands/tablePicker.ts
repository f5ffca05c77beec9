import { WorkbenchError } from '../../core/errors';
import { logicalNameOf } from '../../dataverse/bulkImport';
import type { Connection, ConnectionManager } from '../connections';
import type { UserInput } from '../userInput';

// The table a table command works on: the explorer's table node it runs on, else a pick among the
// entity sets of the active connection. One picker for import and export.

export interface ChosenTable {
  readonly connection: Connection;
  readonly entitySet: string;
}

/** A table node of the explorer (`{ type: 'table', connection, table: { entitySet } }`), checked structurally. */
function tableOfNode(target: unknown, connections: ConnectionManager, command: string): ChosenTable {
  const node = target as { type?: unknown; connection?: { id?: unknown }; table?: { entitySet?: unknown } };
  const id = node.connection?.id;
  const entitySet = node.table?.entitySet;
  const connection = typeof id === 'string' ? connections.list().find((c) => c.id === id) : undefined;
  if (node.type !== 'table' || connection === undefined || typeof entitySet !== 'string') {
    throw new WorkbenchError('invalidInput', `${command} works on a table of the Dataverse explorer.`);
  }
  return { connection, entitySet };
}

/** The node's table, or one the user picks on the active connection (entity sets, logical name beside). */
export async function chooseTable(
  services: { readonly connections: ConnectionManager; readonly input: UserInput },
  target: unknown,
  command: string,
  placeHolder: string,
): Promise<ChosenTable> {
  if (target !== undefined) return tableOfNode(target, services.connections, command);
  const connection = services.connections.requireActive();
  const { model } = await services.connections.metadata(connection).get();
  const items = [...model.entitySets.keys()]
    .sort((a, b) => a.localeCompare(b))
    .map((entitySet) => ({ label: entitySet, description: logicalNameOf(model, entitySet) }));
  const pick = await services.input.showQuickPick(items, {
    title: `${command}: ${connection.name}`,
    placeHolder,
    matchOnDescription: true,
  });
  if (pick === undefined) throw new WorkbenchError('cancelled', 'Cancelled.');
  return { connection, entitySet: pick.label };
}
