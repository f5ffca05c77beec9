import { randomUUID } from 'node:crypto';
import { builtinSchema } from '../../src/emulator/schema/snapshot';
import { bootstrap, ownedColumns } from '../../src/emulator/seed';
import { startEmulator } from '../../src/emulator/server';
import type { Row } from '../../src/emulator/store';
import { Store } from '../../src/emulator/store';
import type { Benchmark } from './harness';
import { formatRatio, measure } from './harness';

const CREATES = 1000;

function batchBody(boundary: string, changeSet: string): string {
  const lines = [`--${boundary}`, `Content-Type: multipart/mixed; boundary=${changeSet}`, ''];
  for (let i = 1; i <= CREATES; i++) {
    lines.push(
      `--${changeSet}`,
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      `Content-ID: ${i}`,
      '',
      'POST /api/data/v9.2/accounts HTTP/1.1',
      'Content-Type: application/json; type=entry',
      '',
      JSON.stringify({ name: `Batch account ${i}`, telephone1: '555-0100', numberofemployees: i }),
    );
  }
  lines.push(`--${changeSet}--`, `--${boundary}--`, '');
  return lines.join('\r\n');
}

/**
 * A 1,000-create `$batch` (one change set, so one transaction) over HTTP, against the same 1,000 account rows
 * inserted straight into SQLite in one transaction: the ratio is what multipart parsing, routing each part,
 * validation, system columns and framing the answer add on top of the database work.
 */
export const batchBenchmark: Benchmark = {
  name: 'batch',
  async run() {
    const emulator = await startEmulator({ port: 0, seed: 'none' });
    const schema = builtinSchema();
    const store = new Store(schema);
    const identity = bootstrap(store);
    const accounts = schema.tables.get('account');
    if (accounts === undefined) throw new Error('no account table');
    try {
      const viaBatch = async (): Promise<void> => {
        const boundary = `batch_${randomUUID()}`;
        const response = await fetch(`${emulator.webApi}$batch`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${emulator.token}`,
            Accept: 'application/json',
            'Content-Type': `multipart/mixed; boundary="${boundary}"`,
          },
          body: batchBody(boundary, `changeset_${randomUUID()}`),
        });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`$batch answered ${response.status}: ${text.slice(0, 300)}`);
        const created = text.match(/^HTTP\/1\.1 204 No Content\r$/gm)?.length ?? 0;
        if (created !== CREATES) throw new Error(`$batch created ${created} accounts`);
      };
      const direct = (): void => {
        const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        store.transaction(() => {
          for (let i = 1; i <= CREATES; i++) {
            const row: Row = {
              accountid: randomUUID(),
              name: `Batch account ${i}`,
              telephone1: '555-0100',
              numberofemployees: i,
              statecode: 0,
              statuscode: 1,
              ...ownedColumns(store, identity, now),
            };
            store.insert(accounts, row);
          }
        });
      };
      const http = await measure(viaBatch, 7);
      const db = await measure(direct, 7);
      return [
        formatRatio(
          `batch-creates (${CREATES} POSTs in one change set)`,
          http,
          db,
          `${CREATES} inserts in one transaction on bare SQLite`,
        ),
      ];
    } finally {
      store.close();
      await emulator.close();
    }
  },
};
