import * as assert from 'node:assert/strict';
import { enrichModel } from '../../../../src/metadata/entityDefinitions';
import { MetadataIndex } from '../../../../src/metadata/lookup';
import { parseDocument } from '../../../../src/odata/document/parser';
import { getCompletions } from '../../../../src/odata/language/completion';
import { documentDiagnostics } from '../../../../src/odata/language/diagnostics';
import { getHover } from '../../../../src/odata/language/hover';
import { resolvePath } from '../../../../src/odata/language/resolvePath';
import { parseODataUrl } from '../../../../src/odata/url/parseUrl';
import { realMetadata } from './metadata';

const ID = '00000000-0000-0000-0000-000000000001';

/** The real metadata with these alternate keys on these tables, as an org that defined them has. */
function withAlternateKeys(keys: Record<string, string[][]>): MetadataIndex {
  const model = realMetadata().model;
  const entityTypes = new Map(model.entityTypes);
  for (const [name, alternateKeys] of Object.entries(keys)) {
    entityTypes.set(name, {
      ...model.entityTypes.get(name)!,
      alternateKeys: alternateKeys.map((columns) => ({ columns })),
    });
  }
  return new MetadataIndex({ ...model, entityTypes });
}

function resolve(url: string) {
  return resolvePath(realMetadata(), parseODataUrl(url).path);
}

/** `code@covered text` of the diagnostics of a one-request document, with their severity. */
function located(text: string): string[] {
  return documentDiagnostics(parseDocument(text), { metadata: realMetadata() }).map(
    (d) => `${d.severity} ${d.code}@${text.slice(d.span.start, d.span.end)}`,
  );
}

function completionLabels(source: string): string[] {
  const offset = source.indexOf('|');
  const text = source.slice(0, offset) + source.slice(offset + 1);
  return (
    getCompletions(parseDocument(text), text, offset, { metadata: realMetadata() })?.items.map((i) => i.label) ?? []
  );
}

describe('resolvePath (one resolver for completion, diagnostics and hover)', function () {
  this.timeout(30000);
  before(() => realMetadata());

  it('resolves entity sets, keys and navigation properties to the entity type the options apply to', () => {
    assert.equal(resolve('accounts').scope?.name, 'account');
    assert.equal(resolve('accounts').single, false);
    assert.equal(resolve(`accounts(${ID})`).single, true);
    assert.equal(resolve(`accounts(${ID})/primarycontactid`).scope?.name, 'contact');
    assert.equal(resolve(`accounts(${ID})/primarycontactid`).single, true);
    assert.equal(resolve(`accounts(${ID})/Account_Tasks`).scope?.name, 'task');
    assert.equal(resolve(`accounts(${ID})/Account_Tasks`).single, false);
    assert.equal(resolve(`accounts(${ID})/name`).scope, undefined, 'a column ends the path');
    assert.equal(resolve('accounts/$count').scope, undefined);
    assert.equal(resolve('WhoAmI()').scope, undefined, 'a complex-typed result has no entity scope');
  });

  // "Every query begins with a collection of entities ... A collection returned by a function."
  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-data-web-api
  // Completion used to strip Collection(...) from a function's return type and analysis did not, so the
  // query options of such a request were completed against `dependency` but never checked. Both now
  // take the collection's entity type: checked, completed and hovered alike.
  it('takes the entity type of a function returning Collection(...) for completion, diagnostics and hover', () => {
    const url = `RetrieveDependenciesForDelete(ComponentType=1,ObjectId=${ID})`;
    const resolved = resolve(url);
    assert.equal(resolved.scope?.name, 'dependency');
    assert.equal(resolved.single, false);
    assert.ok(completionLabels(`GET ${url}?$select=|`).includes('dependentcomponenttype'));
    assert.deepEqual(located(`GET ${url}?$select=dependentcomponenttype,dependentcomponenttyp`), [
      'error unknownColumn@dependentcomponenttyp',
    ]);
    const text = `GET ${url}?$select=dependentcomponenttype`;
    const hover = getHover(parseDocument(text), text.indexOf('dependentcomponenttype') + 2, {
      metadata: realMetadata(),
    });
    assert.match(hover?.markdown ?? '', /column of `dependency`/);
  });

  it('gives completion the scope diagnostics use, for every kind of path', () => {
    const paths = [
      'accounts',
      `accounts(${ID})`,
      `accounts(${ID})/primarycontactid`,
      `accounts(${ID})/Account_Tasks`,
      `contacts(${ID})/parentcustomerid_account`,
      `RetrieveDependenciesForDelete(ComponentType=1,ObjectId=${ID})`,
    ];
    for (const path of paths) {
      const scope = resolve(path).scope!;
      const columns = completionLabels(`GET ${path}?$select=|`);
      assert.deepEqual(
        columns.slice().sort(),
        realMetadata()
          .properties(scope)
          .map((p) => p.name)
          .sort(),
        path,
      );
    }
  });

  it('reports a navigation property spelled in another case: Dataverse names are case-sensitive', () => {
    assert.deepEqual(located(`GET accounts(${ID})/PrimaryContactId?$select=fullname`), [
      'error unknownMember@PrimaryContactId',
    ]);
  });

  describe('keys', () => {
    // "Retrieve a record": GET [Organization URI]/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)
    // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api
    it('lets a GUID key through, and a variable standing for it', () => {
      assert.deepEqual(located(`GET accounts(${ID})?$select=name`), []);
      assert.deepEqual(located(`GET accounts(${ID.toUpperCase()})`), []);
      assert.deepEqual(located('@id = x\nGET accounts({{id}})'), []);
      assert.deepEqual(located(`GET accounts(${ID})/Account_Tasks(${ID})?$select=subject`), []);
    });

    it('refuses a key of the wrong type: the key of account is a GUID', () => {
      const text = 'GET accounts(123)';
      const [diagnostic] = documentDiagnostics(parseDocument(text), { metadata: realMetadata() });
      assert.equal(diagnostic?.code, 'keyType');
      assert.equal(diagnostic.severity, 'error');
      assert.equal(text.slice(diagnostic.span.start, diagnostic.span.end), '123');
      assert.match(diagnostic.message, /accountid.*Edm\.Guid/);
      assert.deepEqual(located("GET accounts('not a guid')"), ["error keyType@'not a guid'"]);
      assert.deepEqual(located(`GET accounts(${ID})/Account_Tasks(42)`), ['error keyType@42']);
    });

    // "Retrieve using an alternate key": accounts(accountnumber='ABC123'),
    // contacts(firstname='Joe',emailaddress1='abc@example.com'), accounts(_primarycontactid_value=<guid>)
    // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api#retrieve-using-an-alternate-key
    // These work where the key is defined; the fixture's org defines none on account or contact.
    it('lets the documented alternate keys through where the metadata defines them', () => {
      const index = withAlternateKeys({
        account: [['accountnumber'], ['_primarycontactid_value']],
        contact: [['firstname', 'emailaddress1']],
      });
      const diagnostics = (text: string): string[] =>
        documentDiagnostics(parseDocument(text), { metadata: index }).map((d) => d.code);
      assert.deepEqual(diagnostics("GET accounts(accountnumber='ABC123')?$select=name"), []);
      assert.deepEqual(diagnostics("GET contacts(emailaddress1='abc@example.com',firstname='Joe')"), []);
      assert.deepEqual(diagnostics(`GET accounts(_primarycontactid_value=${ID})`), []);
      assert.deepEqual(diagnostics(`GET accounts(accountid=${ID})`), [], 'the primary key, named');
    });

    it('warns (never an error that blocks Run) when the metadata defines no such alternate key', () => {
      assert.deepEqual(located("GET accounts(accountnumber='ABC123')?$select=name"), [
        "warning unknownAlternateKey@(accountnumber='ABC123')",
      ]);
      const [diagnostic] = documentDiagnostics(parseDocument("GET accounts(accountnumber='A')"), {
        metadata: realMetadata(),
      });
      assert.match(diagnostic!.message, /account has no alternate key of \(accountnumber\).*It has none/);
      // systemuser defines one (azureactivedirectoryobjectid) in the real $metadata: named, it passes.
      assert.deepEqual(located(`GET systemusers(azureactivedirectoryobjectid=${ID})`), []);
      const [partial] = documentDiagnostics(parseDocument(`GET appnotifications(partitionid='p')`), {
        metadata: realMetadata(),
      });
      assert.match(partial!.message, /Its alternate keys: \(partitionid, appnotificationid\)/);
    });

    it("reads the table's EntityDefinitions keys once they were read, a lookup column named as in the URL", () => {
      // EntityKeyMetadata lists a lookup by its logical name (primarycontactid); the URL names _primarycontactid_value.
      const { model } = enrichModel(realMetadata().model, {
        LogicalName: 'account',
        Keys: [{ LogicalName: 'ak_contact', KeyAttributes: ['primarycontactid'], EntityKeyIndexStatus: 'Active' }],
      });
      const index = new MetadataIndex(model);
      const codes = (text: string): string[] =>
        documentDiagnostics(parseDocument(text), { metadata: index }).map((d) => d.code);
      assert.deepEqual(codes(`GET accounts(_primarycontactid_value=${ID})`), []);
      // The same request against $metadata alone, which lists no key on account, is warned about.
      assert.deepEqual(located(`GET accounts(_primarycontactid_value=${ID})`), [
        `warning unknownAlternateKey@(_primarycontactid_value=${ID})`,
      ]);
    });

    it('warns (never blocks Run) when the named key exists but its index is not Active yet', () => {
      // EntityKeyIndexStatus: Pending, InProgress and Failed keys address no record until the index is Active
      // (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitykeyindexstatus).
      const { model } = enrichModel(realMetadata().model, {
        LogicalName: 'account',
        Keys: [
          { LogicalName: 'ak_number', KeyAttributes: ['accountnumber'], EntityKeyIndexStatus: 'Pending' },
          { LogicalName: 'ak_name', KeyAttributes: ['name'], EntityKeyIndexStatus: 'Active' },
          { LogicalName: 'ak_email', KeyAttributes: ['emailaddress1'] },
        ],
      });
      const index = new MetadataIndex(model);
      const found = (text: string) => documentDiagnostics(parseDocument(text), { metadata: index });
      const [pending, ...rest] = found("GET accounts(accountnumber='A1')");
      assert.equal(rest.length, 0);
      assert.equal(pending?.code, 'alternateKeyNotActive');
      assert.equal(pending?.severity, 'warning');
      assert.match(pending.message, /ak_number of account has index status Pending/);
      assert.deepEqual(found("GET accounts(name='Contoso')"), [], 'an Active key passes');
      assert.deepEqual(found("GET accounts(emailaddress1='a@b.c')"), [], 'a key without a known status passes');
    });

    it('checks the columns an alternate key names, and warns on a value of another kind', () => {
      const index = withAlternateKeys({ account: [['accountnumber']] });
      const located = (text: string): string[] =>
        documentDiagnostics(parseDocument(text), { metadata: index }).map(
          (d) => `${d.severity} ${d.code}@${text.slice(d.span.start, d.span.end)}`,
        );
      assert.deepEqual(located("GET accounts(acountnumber='ABC123')"), ['error unknownColumn@acountnumber']);
      assert.deepEqual(located('GET accounts(accountnumber=123)'), ['warning keyType@123']);
    });

    it('says nothing of alternate keys when the metadata does not list them (no Keys vocabulary)', () => {
      const model = realMetadata().model;
      const entityTypes = new Map(
        [...model.entityTypes].map(([name, type]) => [name, { ...type, alternateKeys: undefined }]),
      );
      const index = new MetadataIndex({ ...model, entityTypes });
      assert.deepEqual(documentDiagnostics(parseDocument("GET accounts(accountnumber='A')"), { metadata: index }), []);
    });
  });
});
