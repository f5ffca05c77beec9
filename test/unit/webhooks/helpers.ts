import { readFileSync } from 'node:fs';
import path from 'node:path';

export const root = path.resolve(__dirname, '../../..');

/** The shared fixtures sit beside the repository, in CI as on a workstation. */
export const fixtureDir = path.resolve(root, '../shared/fixtures/webhooks');

export const FIXTURES = [
  'create-account',
  'create-all-column-types',
  'update-activity-with-images',
  'update-contact-docs-sample',
] as const;

export type FixtureName = (typeof FIXTURES)[number];

export function fixturePath(name: FixtureName): string {
  return path.join(fixtureDir, `${name}.json`);
}

export function fixtureText(name: FixtureName): string {
  return readFileSync(fixturePath(name), 'utf8');
}

/** A registration file with a webhook (async Update of account on revenue, with a pre-image) and a queue. */
export function sampleFile(): Record<string, unknown> {
  return {
    $schema: './schemas/dataverse.webhooks.schema.json',
    endpoints: [
      {
        name: 'RevenueHook',
        kind: 'webhook',
        url: 'https://hooks.example.test/api/revenue',
        auth: { kind: 'WebhookKey', value: { env: 'REVENUE_HOOK_KEY' } },
        steps: [
          {
            name: 'Revenue changed',
            message: 'Update',
            table: 'account',
            stage: 'post-operation',
            mode: 'async',
            filteringAttributes: ['revenue'],
            deleteAsyncJobOnSuccess: true,
            images: [{ type: 'pre', alias: 'PreImage', columns: ['revenue', 'name'] }],
          },
        ],
      },
      {
        name: 'Orders',
        kind: 'serviceBusQueue',
        namespace: 'contoso',
        path: 'orders',
        auth: { kind: 'SASKey', keyName: 'RootManageSharedAccessKey', key: { env: 'SB_KEY' } },
        steps: [{ name: 'New order', message: 'Create', table: 'salesorder', stage: 'post-operation', mode: 'async' }],
      },
    ],
  };
}
