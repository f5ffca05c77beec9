import { randomUUID } from 'node:crypto';
import { builtinSchema } from '../../src/emulator/schema/snapshot';
import { bootstrap, ownedColumns } from '../../src/emulator/seed';
import { startEmulator } from '../../src/emulator/server';
import type { Row } from '../../src/emulator/store';
import { Store } from '../../src/emulator/store';
import type { Benchmark } from './harness';
import { formatRatio, measure } from './harness';

const CREATES = 1000;

/**
 * `CreateMultiple` of 1,000 accounts over HTTP (one request, one transaction), against the same 1,000 rows
 * inserted straight into SQLite in one transaction: what JSON parsing, validation, system columns and the
 * answer add on top of the database work. The goal is at most 2x.
 */
export const bulkBenchmark: Benchmark = {
  name: 'bulk',
  async run() {
    const emulator = await startEmulator({ port: 0, seed: 'none' });
    const schema = builtinSchema();
    const store = new Store(schema);
    const identity = bootstrap(store);
    const accounts = schema.tables.get('account');
    if (accounts === undefined) throw new Error('no account table');
    try {
      const viaCreateMultiple = async (): Promise<void> => {
        const Targets = Array.from({ length: CREATES }, (_, i) => ({
          '@odata.type': 'Microsoft.Dynamics.CRM.account',
          name: `Bulk account ${i}`,
          telephone1: '555-0100',
          numberofemployees: i,
        }));
        const response = await fetch(`${emulator.webApi}accounts/Microsoft.Dynamics.CRM.CreateMultiple`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${emulator.token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ Targets }),
        });
        const body = (await response.json()) as { Ids?: unknown[] };
        if (response.status !== 200 || body.Ids?.length !== CREATES)
          throw new Error(`CreateMultiple: ${response.status}`);
      };
      const direct = (): void => {
        const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        store.transaction(() => {
          for (let i = 0; i < CREATES; i++) {
            const row: Row = {
              accountid: randomUUID(),
              name: `Bulk account ${i}`,
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
      const http = await measure(viaCreateMultiple, 7);
      const db = await measure(direct, 7);
      return [
        formatRatio(
          `bulk-create-multiple (${CREATES} targets, one request)`,
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
