import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Client } from './helpers';
import { startClient } from './helpers';

interface TraceStep {
  readonly description: string;
  readonly request: { method: string; url: string; headers: Record<string, string>; body: unknown };
  readonly response: { status: string | null; headers: Record<string, string>; body: unknown };
}

const TRACE = new URL('../../../../shared/fixtures/traces/basic-operations.trace.json', import.meta.url);
const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Keys of a response body in order, with the keys of nested objects and of the first item of arrays. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (typeof value !== 'object' || value === null) return typeof value;
  return Object.entries(value).map(([k, v]) => (typeof v === 'object' && v !== null ? { [k]: shape(v) } : k));
}

/** Response headers whose presence and (for these) value the replay compares. */
const COMPARED_HEADERS = ['Preference-Applied'];

describe('emulator replays the Web API basic-operations trace', function () {
  let client: Client;
  const steps = (JSON.parse(readFileSync(TRACE, 'utf8')) as { steps: TraceStep[] }).steps;

  before(async function () {
    client = await startClient();
  });
  after(async function () {
    await client.emulator.close();
  });

  it('answers every traced step with the traced status, headers and body shape, annotations included', async function () {
    // Ids in the trace belong to Microsoft's org: each is mapped to the id the emulator hands out.
    const ids = new Map<string, string>();
    const role = await client.request('POST', 'roles', {
      body: { name: 'Replay role', 'businessunitid@odata.bind': `businessunits(${client.emulator.businessUnitId})` },
    });
    const traceUser = /systemusers\(([0-9a-f-]{36})\)/.exec(steps.map((s) => s.request.url).join(' '))?.[1];
    if (traceUser !== undefined) ids.set(traceUser, client.emulator.userId);
    const traceBu = /businessunits\(([0-9a-f-]{36})\)/.exec(JSON.stringify(steps))?.[1];
    if (traceBu !== undefined) ids.set(traceBu, client.emulator.businessUnitId);
    assert.equal(role.status, 204);
    const mapIds = (text: string): string => text.replace(GUID, (id) => ids.get(id) ?? id);
    let replayed = 0;
    let queries = 0;
    for (const step of steps) {
      const { request, response } = step;
      if (response.status === null) continue;
      const url = mapIds(request.url).replace('[Organization Uri]/api/data/v9.2/', client.emulator.webApi);
      const body =
        request.body === null
          ? undefined
          : (JSON.parse(
              mapIds(
                JSON.stringify(request.body).replace(/https:\/\/[a-z.]+\/api\/data\/v9\.2\//g, client.emulator.webApi),
              ),
            ) as unknown);
      const headers = { ...request.headers };
      const answer = await client.request(request.method, url, { body, headers });
      const status = Number(response.status.split(' ')[0]);
      assert.equal(answer.status, status, `${step.description}: ${await answer.clone().text()}`);
      assert.equal(answer.headers.get('OData-Version'), '4.0', step.description);
      const tracedEntityId = response.headers['OData-EntityId'];
      if (tracedEntityId !== undefined) {
        const ours = answer.headers.get('OData-EntityId') ?? '';
        assert.match(ours, /\([0-9a-f-]{36}\)$/, step.description);
        const tracedId = /\(([0-9a-f-]{36})\)$/.exec(tracedEntityId)?.[1];
        const ourId = /\(([0-9a-f-]{36})\)$/.exec(ours)?.[1];
        if (tracedId !== undefined && ourId !== undefined && !ids.has(tracedId)) ids.set(tracedId, ourId);
        if (tracedId !== undefined && step.description === 'Create role') ids.set(tracedId, ourId ?? '');
      }
      if (step.description.startsWith('Deep insert')) {
        // The nested contact's id is not in the answer; the trace names it in a later retrieve.
        const account = (await (await client.request('GET', answer.headers.get('OData-EntityId') ?? '')).json()) as {
          _primarycontactid_value?: unknown;
        };
        const tracedContact = /contacts\(([0-9a-f-]{36})\)\?\$select=fullname&\$expand=Contact_Tasks/.exec(
          steps.map((s) => s.request.url).join(' '),
        )?.[1];
        if (tracedContact !== undefined && typeof account._primarycontactid_value === 'string')
          ids.set(tracedContact, account._primarycontactid_value);
      }
      for (const name of COMPARED_HEADERS) {
        assert.equal(answer.headers.get(name), response.headers[name] ?? null, `${step.description}: ${name}`);
      }
      if (response.headers.ETag !== undefined) assert.match(answer.headers.get('ETag') ?? '', /^W\/"\d+"$/);
      if (response.body !== null) {
        const ourBody: unknown = await answer.json();
        assert.deepEqual(shape(ourBody), shape(response.body), step.description);
        const context = (response.body as { '@odata.context'?: string })['@odata.context'];
        if (context !== undefined) {
          const ours = (ourBody as { '@odata.context'?: string })['@odata.context'] ?? '';
          assert.equal(
            ours.replace(client.emulator.webApi, ''),
            mapIds(context.replace('[Organization Uri]/api/data/v9.2/', '')),
            step.description,
          );
        }
      }
      if (request.url.includes('?')) queries += 1;
      replayed += 1;
    }
    assert.ok(replayed >= 18, `replayed ${replayed} steps`);
    assert.ok(queries >= 6, `replayed ${queries} query steps`);
  });
});
