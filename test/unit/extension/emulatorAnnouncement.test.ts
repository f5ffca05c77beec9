import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  dataFileOwnerOf,
  inUseMessage,
  isProcessAlive,
  parseEmulatorAnnouncement,
  parseSharedEmulator,
  serializeSharedEmulator,
} from '../../../src/extension/emulatorAnnouncement';

// emulatorAnnouncement.ts imports no `vscode`: what one window publishes for another is checked in plain Node.
const LINE = {
  url: 'http://127.0.0.1:5555',
  webApi: 'http://127.0.0.1:5555/api/data/v9.2/',
  token: 'token-value',
  authority: 'https://127.0.0.1:5556/00000000-0000-0000-0000-000000000001',
  tenantId: '00000000-0000-0000-0000-000000000001',
  clientId: 'client-id',
  clientSecret: 'client-secret',
  certificatePath: '/tmp/emulator-cert.pem',
};

function shared(overrides: Record<string, unknown>): string {
  return JSON.stringify({ ...LINE, pid: 4242, ...overrides });
}

describe('emulator announcement', () => {
  it('parses the --json line into the running emulator, without extra fields', () => {
    const running = parseEmulatorAnnouncement(JSON.stringify(LINE));
    assert.equal(running.url, LINE.url);
    assert.equal(running.clientSecret, LINE.clientSecret);
    assert.equal((running as unknown as Record<string, unknown>).tenantId, undefined);
    assert.throws(() => parseEmulatorAnnouncement('Listening…'), /something other than its JSON line/);
    assert.throws(() => parseEmulatorAnnouncement(JSON.stringify({ url: LINE.url })), /announced no webApi/);
  });

  it('round-trips what a window publishes, with the process id', () => {
    const text = serializeSharedEmulator(parseEmulatorAnnouncement(JSON.stringify(LINE)), 4242);
    const value = parseSharedEmulator(text);
    assert.ok(value);
    assert.equal(value.pid, 4242);
    assert.equal(value.webApi, LINE.webApi);
    assert.equal(value.clientSecret, LINE.clientSecret);
    assert.equal((JSON.parse(text) as Record<string, unknown>).tenantId, undefined, 'only the known fields');
  });

  it('refuses stored values that are not a complete loopback emulator', () => {
    const refused: (string | undefined)[] = [
      undefined,
      '',
      'not json',
      '[]',
      'null',
      '42',
      shared({ pid: undefined }),
      shared({ pid: '4242' }),
      shared({ pid: 0 }),
      shared({ pid: 1 }),
      shared({ pid: -4242 }),
      shared({ pid: 42.5 }),
      shared({ clientSecret: undefined }),
      shared({ clientSecret: '' }),
      shared({ token: 7 }),
      shared({ url: 'https://contoso.crm.dynamics.com', webApi: 'https://contoso.crm.dynamics.com/api/data/v9.2/' }),
      shared({ url: 'http://example.com:5555', webApi: 'http://example.com:5555/api/data/v9.2/' }),
      shared({ webApi: 'http://127.0.0.1:6666/api/data/v9.2/' }),
      shared({ webApi: 'http://127.0.0.1:5555.evil.example/api/data/v9.2/' }),
      shared({ url: 'http://127.0.0.1:5555/path' }),
      shared({ url: 'http://user:pass@127.0.0.1:5555', webApi: 'http://user:pass@127.0.0.1:5555/api/data/v9.2/' }),
      shared({ authority: 'https://login.microsoftonline.com/common' }),
      shared({ authority: 'http://127.0.0.1:5556/tenant' }),
      `${shared({})}${' '.repeat(70_000)}`,
    ];
    for (const text of refused) assert.equal(parseSharedEmulator(text), undefined, String(text).slice(0, 200));
    assert.ok(parseSharedEmulator(shared({})));
    assert.ok(
      parseSharedEmulator(shared({ url: 'http://localhost:5555', webApi: 'http://localhost:5555/api/data/v9.2/' })),
    );
  });

  it('recognizes the data file owner failure and says what to do', () => {
    const reason = 'dvw: the data file /x/emulator.sqlite is in use by another emulator (process 7034)';
    assert.equal(dataFileOwnerOf(reason), 7034);
    assert.equal(dataFileOwnerOf('dvw: listen EADDRINUSE 127.0.0.1:5555'), undefined);
    assert.match(inUseMessage(7034), /already running in another VS Code window \(process 7034\); use that window/);
  });

  it('tells a live process from an ended one', () => {
    assert.equal(isProcessAlive(process.pid), true);
    const ended = spawnSync(process.execPath, ['-e', '']);
    assert.ok(ended.pid);
    assert.equal(isProcessAlive(ended.pid), false);
  });
});
