import * as assert from 'node:assert/strict';
import { parseHostMessage, parsePageMessage } from '../../../src/webview/registrationProtocol';

const endpoint = {
  name: 'Hook',
  kind: 'webhook',
  description: '',
  url: 'https://example.test/',
  authKind: 'WebhookKey',
  keepAuth: false,
  secret: 'k',
  pairs: [],
  namespace: '',
  path: '',
  keyName: '',
  messageFormat: 'json',
};

describe('registration form protocol', () => {
  it('accepts the page messages it defines and refuses anything else', () => {
    assert.ok(parsePageMessage({ type: 'ready' }).ok);
    assert.ok(parsePageMessage({ type: 'columns', requestId: 1, table: 'account' }).ok);
    assert.ok(parsePageMessage({ type: 'save', requestId: 2, registration: { endpoint, steps: [] } }).ok);
    // A table name is a logical name: nothing that could end up in a $filter as code.
    assert.equal(parsePageMessage({ type: 'messages', requestId: 1, table: "account' or 1 eq 1" }).ok, false);
    assert.equal(
      parsePageMessage({
        type: 'save',
        requestId: 2,
        registration: { endpoint: { ...endpoint, kind: 'eventGrid' }, steps: [] },
      }).ok,
      false,
    );
    assert.equal(
      parsePageMessage({ type: 'save', requestId: 2, registration: { endpoint, steps: [], extra: 1 } }).ok,
      false,
    );
    assert.equal(parsePageMessage({ type: 'ready', extra: true }).ok, false);
    assert.equal(parsePageMessage({ type: 'delete' }).ok, false);
    assert.equal(parsePageMessage('ready').ok, false);
  });

  it('refuses host messages with a malformed step', () => {
    const step = {
      name: '',
      message: 'Update',
      table: 'account',
      stage: 'post-operation',
      mode: 'async',
      rank: 1,
      filteringAttributes: ['revenue'],
      description: '',
      deleteAsyncJobOnSuccess: false,
      enabled: true,
      images: [],
    };
    const init = {
      type: 'init',
      mode: 'edit',
      environment: 'e',
      registration: { endpoint, steps: [step] },
      secretSet: true,
      tables: [],
    };
    assert.ok(parseHostMessage(init).ok);
    assert.equal(
      parseHostMessage({ ...init, registration: { endpoint, steps: [{ ...step, stage: 'main' }] } }).ok,
      false,
    );
    assert.equal(
      parseHostMessage({ ...init, registration: { endpoint, steps: [{ ...step, filteringAttributes: ['a b'] }] } }).ok,
      false,
    );
  });
});
