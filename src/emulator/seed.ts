import { randomUUID } from 'node:crypto';
import type { WriteContext } from './records';
import { STANDARD_TABLE_BULK_MESSAGES } from './bulkOperations';
import { createRecord, nowIso } from './records';
import type { Table } from './schema/schema';
import type { Row, Store } from './store';

export interface Identity {
  readonly organizationId: string;
  readonly userId: string;
  readonly businessUnitId: string;
  readonly teamId: string;
  readonly currencyId: string;
}

/** A small, fast PRNG (mulberry32) so that the sample data is the same on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A GUID drawn from the PRNG (version 4 layout), so seeded ids are stable too. */
const HEX = '0123456789abcdef';

function guid(random: () => number): string {
  let h = '';
  for (let i = 0; i < 32; i++) {
    const digit = Math.floor(random() * 16);
    // Version 4, variant 10xx, drawing the same numbers as ever so that seeded ids stay as they were.
    h += i === 12 ? '4' : i === 16 ? HEX[(digit & 0x3) | 0x8] : HEX[digit];
  }
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function table(store: Store, name: string) {
  const t = store.schema.tables.get(name);
  if (t === undefined) throw new Error(`the schema has no '${name}' table`);
  return t;
}

/**
 * The records every organization has: root business unit, the admin user, the default team and the
 * base currency. Created once per data file; their ids are kept in the file.
 */
export function bootstrap(store: Store): Identity {
  const existing = store.getMeta('identity');
  if (existing !== undefined) {
    const parsed = JSON.parse(existing) as Identity;
    // Data files made before the webhook tables existed get their messages on the next start.
    seedSdkMessagesOnFirstUse(store, parsed);
    return parsed;
  }
  const identity: Identity = {
    organizationId: randomUUID(),
    userId: randomUUID(),
    businessUnitId: randomUUID(),
    teamId: randomUUID(),
    currencyId: randomUUID(),
  };
  store.transaction(() => {
    const now = nowIso();
    const system = (): Row => systemColumns(store, identity, now);
    const insert = (name: string, row: Row): void => store.insert(table(store, name), row);
    insert('businessunit', {
      ...system(),
      businessunitid: identity.businessUnitId,
      name: 'Emulator Organization',
      isdisabled: 0,
    });
    insert('transactioncurrency', {
      ...system(),
      transactioncurrencyid: identity.currencyId,
      currencyname: 'US Dollar',
      isocurrencycode: 'USD',
      currencysymbol: '$',
      currencyprecision: 2,
      exchangerate: 1,
      statecode: 0,
      statuscode: 1,
    });
    insert('systemuser', {
      ...system(),
      systemuserid: identity.userId,
      firstname: 'Emulator',
      lastname: 'Admin',
      fullname: 'Emulator Admin',
      domainname: 'admin@emulator.local',
      internalemailaddress: 'admin@emulator.local',
      isdisabled: 0,
      accessmode: 0,
      businessunitid: identity.businessUnitId,
      businessunitid__type: 'businessunit',
    });
    insert('team', {
      ...system(),
      teamid: identity.teamId,
      name: 'Emulator Organization',
      teamtype: 0,
      isdefault: 1,
      businessunitid: identity.businessUnitId,
      businessunitid__type: 'businessunit',
    });
    store.setMeta('identity', JSON.stringify(identity));
  });
  seedSdkMessagesOnFirstUse(store, identity);
  return identity;
}

/** The messages steps are registered on. Associate and Disassociate are filtered on no table (`none`). */
const SDK_MESSAGES = [
  'Create',
  'Update',
  'Delete',
  'Assign',
  'SetState',
  'SetStateDynamicEntity',
  'Retrieve',
  'RetrieveMultiple',
  'Associate',
  'Disassociate',
] as const;
type SdkMessageName = (typeof SDK_MESSAGES)[number];

/** Which messages a table has a filter for, as in Dataverse: Assign needs an owner, SetState a state column. */
function messagesOf(table: Table): SdkMessageName[] {
  const columns = [...table.columns.values()];
  const messages: SdkMessageName[] = ['Create', 'Update', 'Delete', 'Retrieve', 'RetrieveMultiple'];
  if (columns.some((c) => c.type === 'owner')) messages.push('Assign');
  if (columns.some((c) => c.type === 'state')) messages.push('SetState', 'SetStateDynamicEntity');
  return messages;
}

/** The registration tables themselves take no steps (Dataverse refuses them too). */
const NO_STEPS = new Set([
  'sdkmessage',
  'sdkmessagefilter',
  'sdkmessageprocessingstep',
  'sdkmessageprocessingstepimage',
  'serviceendpoint',
]);

/**
 * `sdkmessages` and their `sdkmessagefilters` for every table of the schema, so steps can be registered
 * against the emulator as against Dataverse. Ids come from a fixed PRNG: the same on every machine. Written when
 * their storage is first used (an organization of 900 tables has 7,000 filters), or now for a data file that
 * holds their storage without them.
 */
function seedSdkMessagesOnFirstUse(store: Store, identity: Identity): void {
  const message = store.schema.tables.get('sdkmessage');
  const filter = store.schema.tables.get('sdkmessagefilter');
  if (message === undefined || filter === undefined) return;
  store.seedOnFirstUse([message, filter], () => seedSdkMessages(store, identity));
}

function seedSdkMessages(store: Store, identity: Identity): void {
  seedMessages(store, identity, 'sdkMessagesSeeded', 13_000_013, SDK_MESSAGES, (table) => messagesOf(table), true);
  // Seeded apart (own PRNG, own marker) so the ids above stay as they were and older data files get them too.
  seedMessages(store, identity, 'bulkMessagesSeeded', 13_000_019, STANDARD_TABLE_BULK_MESSAGES, () => [
    ...STANDARD_TABLE_BULK_MESSAGES,
  ]);
}

function seedMessages<Name extends string>(
  store: Store,
  identity: Identity,
  marker: string,
  seed: number,
  messages: readonly Name[],
  messagesOfTable: (table: Table) => readonly Name[],
  withRelationshipMessages = false,
): void {
  if (store.getMeta(marker) !== undefined) return;
  const messageTable = store.schema.tables.get('sdkmessage');
  const filterTable = store.schema.tables.get('sdkmessagefilter');
  if (messageTable === undefined || filterTable === undefined) return;
  const random = prng(seed);
  store.transaction(() => {
    const now = nowIso();
    const system = (): Row => systemColumns(store, identity, now);
    const messageIds = new Map<string, string>();
    for (const name of messages) {
      const id = guid(random);
      messageIds.set(name, id);
      const read = name === 'Retrieve' || name === 'RetrieveMultiple';
      store.insert(messageTable, {
        ...system(),
        sdkmessageid: id,
        name,
        categoryname: read ? 'Read' : 'Write',
        availability: 2,
        isprivate: 0,
        isactive: 1,
        isvalidforexecuteasync: 1,
        workflowsdkstepenabled: 1,
        autotransact: 1,
        expand: 0,
        template: 0,
        isreadonly: read ? 1 : 0,
        ismanaged: 1,
      });
    }
    // An organization has thousands of filters (one per table and message): they go in with one statement.
    const filters: Row[] = [];
    const filter = (message: string, primary: string): void => {
      const messageId = messageIds.get(message);
      if (messageId === undefined) return;
      filters.push({
        sdkmessagefilterid: guid(random),
        name: `${message} ${primary}`,
        sdkmessageid: messageId,
        primaryobjecttypecode: primary,
      });
    };
    for (const [name, table] of store.schema.tables) {
      if (NO_STEPS.has(name)) continue;
      for (const message of messagesOfTable(table)) filter(message, name);
    }
    if (withRelationshipMessages) {
      filter('Associate', 'none');
      filter('Disassociate', 'none');
    }
    const first = store.reserveVersions(filters.length);
    const shared: Row = {
      createdon: now,
      modifiedon: now,
      createdby: identity.userId,
      createdby__type: 'systemuser',
      modifiedby: identity.userId,
      modifiedby__type: 'systemuser',
      sdkmessageid__type: 'sdkmessage',
      secondaryobjecttypecode: 'none',
      iscustomprocessingstepallowed: 1,
      availability: 0,
      isvisible: 1,
      workflowsdkstepenabled: 1,
      restrictionlevel: 0,
      ismanaged: 1,
    };
    store.insertMany(
      filterTable,
      shared,
      filters.map((row, i) => ({ ...row, versionnumber: first + i })),
    );
    store.setMeta(marker, now);
  });
}

const COMPANY_WORDS = [
  'Contoso',
  'Fabrikam',
  'Northwind',
  'Adventure Works',
  'Litware',
  'Tailspin',
  'Wingtip',
  'Proseware',
  'Alpine Ski',
  'Coho Winery',
  'Fourth Coffee',
  'Blue Yonder',
  'Woodgrove',
  'Lucerne',
  'Humongous',
  'Trey Research',
  'Margie',
  'Graphic Design',
  'City Power',
  'Consolidated',
];
const COMPANY_SUFFIX = ['Ltd', 'Inc.', 'Group', 'Partners', 'Holdings', 'Labs', 'Systems', 'Traders'];
const FIRST = [
  'Yvonne',
  'Susanna',
  'Nancy',
  'Maria',
  'Rafel',
  'Sidney',
  'Scott',
  'Robert',
  'Paul',
  'Rene',
  'Thomas',
  'Jim',
  'Patrick',
  'Cathan',
  'Susan',
  'Eva',
  'Anne',
  'Ali',
  'Kenji',
  'Priya',
];
const LAST = [
  'McKay',
  'Stubberod',
  'Anderson',
  'Campbell',
  'Shillo',
  'Higa',
  'Konersmann',
  'Lyon',
  'Cannon',
  'Valdes',
  'Andersen',
  'Glynn',
  'Hines',
  'Cook',
  'Burk',
  'Corets',
  'Wallace',
  'Khan',
  'Tanaka',
  'Shah',
];
const CITIES = ['Redmond', 'Seattle', 'London', 'Paris', 'Berlin', 'Tokyo', 'Sydney', 'Toronto', 'Madrid', 'Oslo'];
const SUBJECTS = [
  'Follow up call',
  'Send proposal',
  'Schedule demo',
  'Review contract',
  'Prepare quote',
  'Check invoice',
  'Plan workshop',
  'Update pricing',
];

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/**
 * A few hundred related rows (users, teams, accounts, contacts, opportunities, tasks), same every time. A schema
 * snapshot of a few tables (`dvw env snapshot --tables account,contact`) gets the rows of the tables it has, with
 * lookups only to those.
 */
export function seedSample(store: Store, identity: Identity): void {
  if (store.getMeta('sampleSeeded') !== undefined) return;
  const has = (name: string): boolean => store.schema.tables.has(name);
  const random = prng(20240501);
  const ctx: WriteContext = {
    schema: store.schema,
    store,
    caller: { userId: identity.userId, businessUnitId: identity.businessUnitId },
    organization: { organizationId: identity.organizationId, baseCurrencyId: identity.currencyId },
  };
  store.transaction(() => {
    const users: string[] = [identity.userId];
    for (let i = 0; i < 5; i += 1) {
      const first = pick(random, FIRST);
      const last = pick(random, LAST);
      const id = guid(random);
      createRecord(ctx, table(store, 'systemuser'), {
        systemuserid: id,
        firstname: first,
        lastname: last,
        domainname: `${first}.${last}${i}@emulator.local`.toLowerCase(),
        internalemailaddress: `${first}.${last}${i}@emulator.local`.toLowerCase(),
        'businessunitid@odata.bind': `/businessunits(${identity.businessUnitId})`,
      });
      users.push(id);
    }
    const team = guid(random);
    createRecord(ctx, table(store, 'team'), {
      teamid: team,
      name: 'Sales',
      teamtype: 0,
      'businessunitid@odata.bind': `/businessunits(${identity.businessUnitId})`,
    });
    const accounts: string[] = [];
    for (let i = 0; i < (has('account') ? 50 : 0); i += 1) {
      const id = guid(random);
      const owner = random() < 0.1 ? `/teams(${team})` : `/systemusers(${pick(random, users)})`;
      createRecord(ctx, table(store, 'account'), {
        accountid: id,
        name: `${pick(random, COMPANY_WORDS)} ${pick(random, COMPANY_SUFFIX)} ${i + 1}`,
        accountnumber: `ACC-${String(1000 + i)}`,
        telephone1: `555-${String(1000 + Math.floor(random() * 9000))}`,
        address1_city: pick(random, CITIES),
        numberofemployees: Math.floor(random() * 5000),
        revenue: Math.round(random() * 10_000_000),
        industrycode: 1 + Math.floor(random() * 10),
        customertypecode: 1 + Math.floor(random() * 12),
        creditonhold: random() < 0.1,
        'ownerid@odata.bind': owner,
        ...(i > 5 && random() < 0.2 ? { 'parentaccountid@odata.bind': `/accounts(${pick(random, accounts)})` } : {}),
      });
      accounts.push(id);
    }
    const contacts: string[] = [];
    for (let i = 0; i < (has('contact') ? 150 : 0); i += 1) {
      const id = guid(random);
      const first = pick(random, FIRST);
      const last = pick(random, LAST);
      createRecord(ctx, table(store, 'contact'), {
        contactid: id,
        firstname: first,
        lastname: last,
        jobtitle: pick(random, ['Purchasing Manager', 'CEO', 'Developer', 'Sales Lead', 'Office Manager']),
        emailaddress1: `${first}.${last}${i}@example.com`.toLowerCase(),
        annualincome: Math.round(40_000 + random() * 160_000),
        birthdate: `19${60 + Math.floor(random() * 40)}-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 9)}`,
        ...(accounts.length === 0
          ? {}
          : { 'parentcustomerid_account@odata.bind': `/accounts(${pick(random, accounts)})` }),
        'ownerid@odata.bind': `/systemusers(${pick(random, users)})`,
      });
      contacts.push(id);
    }
    for (const account of contacts.length === 0 ? [] : accounts) {
      if (random() < 0.7) {
        ctx.store.update(table(store, 'account'), account, {
          primarycontactid: pick(random, contacts),
          primarycontactid__type: 'contact',
        });
      }
    }
    const opportunities: string[] = [];
    for (let i = 0; i < (has('opportunity') && accounts.length > 0 && contacts.length > 0 ? 60 : 0); i += 1) {
      const id = guid(random);
      createRecord(ctx, table(store, 'opportunity'), {
        opportunityid: id,
        name: `${pick(random, ['Upgrade', 'New licences', 'Renewal', 'Expansion', 'Pilot'])} ${i + 1}`,
        estimatedvalue: Math.round(random() * 500_000),
        closeprobability: Math.floor(random() * 100),
        estimatedclosedate: `2025-${String(1 + Math.floor(random() * 12)).padStart(2, '0')}-15`,
        'customerid_account@odata.bind': `/accounts(${pick(random, accounts)})`,
        'parentcontactid@odata.bind': `/contacts(${pick(random, contacts)})`,
      });
      opportunities.push(id);
    }
    const regards = (navigation: string, set: string, ids: readonly string[]): Record<string, string> =>
      ids.length === 0 ? {} : { [`${navigation}@odata.bind`]: `/${set}(${pick(random, ids)})` };
    for (let i = 0; i < (has('task') ? 120 : 0); i += 1) {
      const regarding = random();
      const bind =
        regarding < 0.4
          ? regards('regardingobjectid_account_task', 'accounts', accounts)
          : regarding < 0.8
            ? regards('regardingobjectid_contact_task', 'contacts', contacts)
            : regards('regardingobjectid_opportunity_task', 'opportunities', opportunities);
      createRecord(ctx, table(store, 'task'), {
        activityid: guid(random),
        subject: pick(random, SUBJECTS),
        scheduledstart: `2025-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 9)}T09:00:00Z`,
        scheduleddurationminutes: 30 * (1 + Math.floor(random() * 4)),
        prioritycode: Math.floor(random() * 3),
        ...bind,
      });
    }
    store.setMeta('sampleSeeded', new Date().toISOString());
  });
}

/** The columns the server maintains on every row, as the built-in admin user writes them. */
export function systemColumns(store: Store, identity: Identity, now: string): Row {
  return {
    createdon: now,
    modifiedon: now,
    createdby: identity.userId,
    createdby__type: 'systemuser',
    modifiedby: identity.userId,
    modifiedby__type: 'systemuser',
    versionnumber: store.nextVersion(),
  };
}

/** `systemColumns` plus the owner of a user-owned row: the built-in admin user and its business unit. */
export function ownedColumns(store: Store, identity: Identity, now: string): Row {
  return {
    ...systemColumns(store, identity, now),
    ownerid: identity.userId,
    ownerid__type: 'systemuser',
    owninguser: identity.userId,
    owninguser__type: 'systemuser',
    owningbusinessunit: identity.businessUnitId,
    owningbusinessunit__type: 'businessunit',
  };
}

/** N generated accounts for benchmarks, in one transaction through one prepared statement. */
export function seedAccounts(store: Store, identity: Identity, count: number): void {
  const accounts = table(store, 'account');
  const random = prng(7_000_000 + count);
  const now = nowIso();
  function* rows(): Generator<Row> {
    for (let i = 0; i < count; i += 1) {
      const revenue = Math.round(random() * 10_000_000);
      const id = guid(random);
      yield {
        accountid: id,
        name: `${pick(random, COMPANY_WORDS)} ${pick(random, COMPANY_SUFFIX)} ${i + 1}`,
        accountnumber: `GEN-${id.slice(0, 8)}-${i + 1}`,
        address1_city: pick(random, CITIES),
        numberofemployees: Math.floor(random() * 10000),
        revenue,
        revenue_base: revenue,
        exchangerate: 1,
        transactioncurrencyid: identity.currencyId,
        transactioncurrencyid__type: 'transactioncurrency',
        industrycode: 1 + Math.floor(random() * 10),
        creditonhold: random() < 0.1 ? 1 : 0,
        statecode: 0,
        statuscode: 1,
        ...ownedColumns(store, identity, now),
      };
    }
  }
  store.bulkInsert(accounts, rows());
}
