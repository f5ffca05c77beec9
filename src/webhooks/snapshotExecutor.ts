import { randomUUID } from 'node:crypto';
import { WorkbenchError } from '../core/errors';
import type {
  EntitySetName,
  ImageRecord,
  PlanExecutor,
  RegisteredState,
  SdkMessageFilterRecord,
  SdkMessageRecord,
  ServiceEndpointRecord,
  StepRecord,
} from './plan';

// A PlanExecutor over an in-memory RegisteredState, behaving as the Web API does where the plan
// depends on it: write-only secrets come back as `is…set` flags, lookups must point at existing
// rows, and deletes cascade to steps and images. Used to preview an apply and to test plans.

export interface SnapshotExecutor extends PlanExecutor {
  /** The state after the operations so far. */
  state(): RegisteredState;
}

const BIND = /^\/(\w+)\(([0-9a-f-]{36})\)$/i;

type Row = Record<string, unknown>;

export function createSnapshotExecutor(initial: RegisteredState): SnapshotExecutor {
  const endpoints: Row[] = initial.serviceEndpoints.map((r) => ({ ...r }));
  const steps: Row[] = initial.steps.map((r) => ({ ...r }));
  const images: Row[] = initial.images.map((r) => ({ ...r }));
  const messages: SdkMessageRecord[] = [...initial.sdkMessages];
  const filters: SdkMessageFilterRecord[] = [...initial.sdkMessageFilters];
  // Random, not counted: ids must stay unique across executors built on each other's states.
  const newId = (): string => randomUUID();

  const tables: Record<EntitySetName, { rows: Row[]; key: string }> = {
    serviceendpoints: { rows: endpoints, key: 'serviceendpointid' },
    sdkmessageprocessingsteps: { rows: steps, key: 'sdkmessageprocessingstepid' },
    sdkmessageprocessingstepimages: { rows: images, key: 'sdkmessageprocessingstepimageid' },
  };

  const bound = (
    body: Readonly<Record<string, unknown>>,
    property: string,
    set: string,
    ids: readonly unknown[],
  ): string => {
    const value = body[`${property}@odata.bind`];
    const match = typeof value === 'string' ? BIND.exec(value) : null;
    const id = match?.[2];
    if (!match || match[1] !== set || id === undefined) {
      throw new WorkbenchError('odata', `${property}@odata.bind must reference /${set}(<id>).`, { status: 400 });
    }
    if (!ids.includes(id)) {
      throw new WorkbenchError('notFound', `${set}(${id}) does not exist.`, { status: 404 });
    }
    return id;
  };

  /** Secrets are write-only: keep only the fact that one was set. */
  const columns = (body: Readonly<Record<string, unknown>>): Row => {
    const row: Row = {};
    for (const [column, value] of Object.entries(body)) {
      if (column.includes('@odata.bind')) continue;
      if (column === 'authvalue') row.isauthvalueset = true;
      else if (column === 'saskey') row.issaskeyset = true;
      else if (column === 'sastoken') row.issastokenset = true;
      else row[column] = value;
    }
    return row;
  };

  const find = (set: EntitySetName, id: string): Row => {
    const { rows, key } = tables[set];
    const row = rows.find((candidate) => candidate[key] === id);
    if (!row) throw new WorkbenchError('notFound', `${set}(${id}) does not exist.`, { status: 404 });
    return row;
  };

  const remove = (rows: Row[], predicate: (row: Row) => boolean): void => {
    for (let i = rows.length - 1; i >= 0; i--) if (predicate(rows[i] as Row)) rows.splice(i, 1);
  };

  return {
    create: (entitySet, body) => {
      const id = newId();
      const row: Row = { ...columns(body), [tables[entitySet].key]: id };
      if (entitySet === 'sdkmessageprocessingsteps') {
        const endpointIds = endpoints.map((e) => e.serviceendpointid);
        row._eventhandler_value = bound(body, 'eventhandler_serviceendpoint', 'serviceendpoints', endpointIds);
        const messageIds = messages.map((m) => m.sdkmessageid);
        row._sdkmessageid_value = bound(body, 'sdkmessageid', 'sdkmessages', messageIds);
        const filterIds = filters.map((f) => f.sdkmessagefilterid);
        row._sdkmessagefilterid_value = bound(body, 'sdkmessagefilterid', 'sdkmessagefilters', filterIds);
      } else if (entitySet === 'sdkmessageprocessingstepimages') {
        const stepIds = steps.map((step) => step.sdkmessageprocessingstepid);
        row._sdkmessageprocessingstepid_value = bound(
          body,
          'sdkmessageprocessingstepid',
          'sdkmessageprocessingsteps',
          stepIds,
        );
      }
      tables[entitySet].rows.push(row);
      return Promise.resolve(id);
    },
    update: (entitySet, id, body) => {
      Object.assign(find(entitySet, id), columns(body));
      return Promise.resolve();
    },
    delete: (entitySet, id) => {
      find(entitySet, id);
      const stepIds = new Set<unknown>(
        entitySet === 'serviceendpoints'
          ? steps.filter((s) => s._eventhandler_value === id).map((s) => s.sdkmessageprocessingstepid)
          : entitySet === 'sdkmessageprocessingsteps'
            ? [id]
            : [],
      );
      remove(
        images,
        (row) => stepIds.has(row._sdkmessageprocessingstepid_value) || row.sdkmessageprocessingstepimageid === id,
      );
      remove(steps, (row) => stepIds.has(row.sdkmessageprocessingstepid));
      remove(endpoints, (row) => row.serviceendpointid === id);
      return Promise.resolve();
    },
    findMessageId: (name) => {
      let message = messages.find((m) => m.name === name);
      if (!message) {
        message = { sdkmessageid: newId(), name };
        messages.push(message);
      }
      return Promise.resolve(message.sdkmessageid);
    },
    findMessageFilterId: (messageId, table) => {
      let filter = filters.find((f) => f._sdkmessageid_value === messageId && f.primaryobjecttypecode === table);
      if (!filter) {
        filter = { sdkmessagefilterid: newId(), _sdkmessageid_value: messageId, primaryobjecttypecode: table };
        filters.push(filter);
      }
      return Promise.resolve(filter.sdkmessagefilterid);
    },
    state: () => ({
      serviceEndpoints: endpoints.map((row) => ({ ...row }) as unknown as ServiceEndpointRecord),
      steps: steps.map((row) => ({ ...row }) as unknown as StepRecord),
      images: images.map((row) => ({ ...row }) as unknown as ImageRecord),
      sdkMessages: [...messages],
      sdkMessageFilters: [...filters],
    }),
  };
}
