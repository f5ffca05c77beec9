/**
 * The agent tools: names, descriptions and JSON-schema inputs, shared by `dvw mcp` and VS Code's
 * `languageModelTools` (package.json repeats them; test/unit/tools/definitions.test.ts keeps the two equal).
 * Few tools with precise words: clients cap the tools they accept, and models pick badly from long lists.
 */

/** The subset of JSON Schema the tools use; `arguments.ts` checks input against it. */
export interface JsonSchema {
  readonly type: 'object' | 'string' | 'integer' | 'boolean' | 'array';
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean;
  readonly enum?: readonly string[];
  readonly items?: JsonSchema;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly maxItems?: number;
}

export type ToolName =
  | 'list_environments'
  | 'find_tables'
  | 'describe_table'
  | 'check_query'
  | 'run_query'
  | 'get_record'
  | 'write_records'
  | 'run_action'
  | 'webhooks_plan'
  | 'save_as_odata';

export interface ToolDefinition {
  readonly name: ToolName;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: JsonSchema & { readonly type: 'object' };
  /** Changes data in Dataverse: offered only where writes are allowed, and confirmed in VS Code. */
  readonly writes: boolean;
}

export const DEFAULT_ROWS = 50;
export const MAX_ROWS = 500;

const environment: JsonSchema = {
  type: 'string',
  maxLength: 100,
  description:
    'Name of the environment (see list_environments). Omit to use the default one (the local emulator unless configured otherwise).',
};

const table: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  description: 'The table: its logical name (account) or entity set name (accounts).',
};

const query: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 100_000,
  description:
    'An OData request line such as "GET accounts?$select=name&$filter=address1_city eq \'Seattle\'" (the Web API path is relative to /api/data/v9.2/; the method may be left out for GET), a whole .odata block (request line, headers, blank line, body), or a FetchXML document starting with <fetch.',
};

const id: JsonSchema = {
  type: 'string',
  minLength: 36,
  maxLength: 38,
  description: 'The record id (a GUID such as 8f1c4d2e-0b1a-4c6e-9d3f-5a2b7c8e9f01).',
};

export const TOOL_DEFINITIONS: readonly ToolDefinition[] = [
  {
    name: 'list_environments',
    title: 'List Dataverse environments',
    description:
      'Lists the Dataverse environments these tools may use: name, URL, whether it is the local emulator (a sandbox with sample data), whether it is marked production or read-only, and whether agent writes are allowed there. Call it first when the user names no environment.',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    writes: false,
  },
  {
    name: 'find_tables',
    title: 'Find Dataverse tables',
    description:
      'Searches the tables of an environment by logical name, entity set name, display name and description (words in any order, any case). Returns the best matches with their entity set names, for use in queries. Use it before describe_table when you do not know the exact table name.',
    inputSchema: {
      type: 'object',
      properties: {
        search: {
          type: 'string',
          minLength: 1,
          maxLength: 200,
          description: 'Words to look for, e.g. "contact", "sales order" or "opportunity product".',
        },
        environment,
        maxResults: {
          type: 'integer',
          minimum: 1,
          maximum: 100,
          description: 'At most this many tables (default 20).',
        },
      },
      required: ['search'],
      additionalProperties: false,
    },
    writes: false,
  },
  {
    name: 'describe_table',
    title: 'Describe a Dataverse table',
    description:
      "Describes one table from the environment's metadata: entity set name, primary key and name columns, alternate keys, columns with their types, required level, choice (option set) values and lookup targets, and relationships (navigation properties with their target tables). Use the names it shows in queries; lookups are filtered as _name_value and set with name@odata.bind.",
    inputSchema: {
      type: 'object',
      properties: {
        table,
        environment,
        columns: {
          type: 'string',
          maxLength: 200,
          description:
            'Only columns and relationships whose name or display name contains this text (tables can have hundreds).',
        },
      },
      required: ['table'],
      additionalProperties: false,
    },
    writes: false,
  },
  {
    name: 'check_query',
    title: 'Check a Dataverse query',
    description:
      "Checks an OData request, a .odata block or FetchXML against the environment's metadata without sending it: syntax, table, column and function names, types, and Dataverse's rules. Returns each problem with its line, column and did-you-mean fixes (the same findings as `dvw check`), or that there are none.",
    inputSchema: {
      type: 'object',
      properties: { query, environment },
      required: ['query'],
      additionalProperties: false,
    },
    writes: false,
  },
  {
    name: 'run_query',
    title: 'Run a read-only Dataverse query',
    description:
      'Runs a read-only request (GET, FetchXML, $apply aggregation, $count, functions) and returns the rows as a compact table with formatted values (choice labels, lookup names). The query is checked first: when it has errors nothing is sent and the problems are returned to fix. Rows are capped (default 50); the answer says how many there are and how to read more. Writes are refused: use write_records or run_action.',
    inputSchema: {
      type: 'object',
      properties: {
        query,
        environment,
        maxRows: {
          type: 'integer',
          minimum: 1,
          maximum: MAX_ROWS,
          description: `At most this many rows in the answer (default ${DEFAULT_ROWS}).`,
        },
      },
      required: ['query'],
      additionalProperties: false,
    },
    writes: false,
  },
  {
    name: 'get_record',
    title: 'Get one Dataverse record',
    description:
      'Reads one record by table and id and returns its columns as name: value lines with formatted values. Name the columns you need in select (recommended: records can have hundreds of columns).',
    inputSchema: {
      type: 'object',
      properties: {
        table,
        id,
        select: {
          type: 'array',
          items: { type: 'string', minLength: 1, maxLength: 128 },
          maxItems: 100,
          description: 'Column logical names to read, e.g. ["name", "revenue", "_primarycontactid_value"].',
        },
        environment,
      },
      required: ['table', 'id'],
      additionalProperties: false,
    },
    writes: false,
  },
  {
    name: 'write_records',
    title: 'Create, update or delete Dataverse records',
    description:
      'Changes one record: create, update (only an existing record), upsert (update or create by id), delete, or associate (link two records through a relationship). Only available for environments where agent writes are allowed; never on production. Column names are logical names; set lookups with "name@odata.bind": "accounts(<id>)". The user may be asked to confirm the exact request.',
    inputSchema: {
      type: 'object',
      properties: {
        operation: {
          type: 'string',
          enum: ['create', 'update', 'upsert', 'delete', 'associate'],
          description: 'What to do.',
        },
        table,
        id: { ...id, description: 'The record id: needed for update, upsert, delete and associate.' },
        record: {
          type: 'object',
          description: 'Column values for create, update and upsert, e.g. {"name": "Contoso", "revenue": 1000}.',
        },
        relationship: {
          type: 'string',
          maxLength: 128,
          description:
            'For associate: the navigation property of the table (see describe_table), e.g. "contact_customer_accounts".',
        },
        targetTable: { ...table, description: 'For associate: the table of the record to link to.' },
        targetId: { ...id, description: 'For associate: the id of the record to link to.' },
        environment,
      },
      required: ['operation', 'table'],
      additionalProperties: false,
    },
    writes: true,
  },
  {
    name: 'run_action',
    title: 'Run a Dataverse action',
    description:
      'Calls a Dataverse action (POST), unbound (e.g. WinOpportunity) or bound to one record (give table and id). Actions change data, so this is only available where agent writes are allowed and never on production. Functions are read-only: call them with run_query instead.',
    inputSchema: {
      type: 'object',
      properties: {
        action: {
          type: 'string',
          minLength: 1,
          maxLength: 128,
          description: 'The action name, e.g. "WinOpportunity".',
        },
        parameters: { type: 'object', description: 'The action parameters as a JSON object.' },
        table: { ...table, description: 'For a bound action: the table of the record.' },
        id: { ...id, description: 'For a bound action: the record id.' },
        environment,
      },
      required: ['action'],
      additionalProperties: false,
    },
    writes: true,
  },
  {
    name: 'webhooks_plan',
    title: 'Show Dataverse webhook registrations',
    description:
      'Read-only view of webhook registrations: without a file, lists the registered webhooks and service endpoints with their steps and images; with a dataverse.webhooks.json file, shows what applying it would create, update and delete. Never changes anything.',
    inputSchema: {
      type: 'object',
      properties: {
        file: {
          type: 'string',
          maxLength: 1000,
          description: 'A dataverse.webhooks.json file, relative to the workspace folder.',
        },
        environment,
      },
      additionalProperties: false,
    },
    writes: false,
  },
  {
    name: 'save_as_odata',
    title: 'Save a request as a .odata file',
    description:
      'Saves the final request(s) into a .odata file in the workspace so the user keeps a runnable, reviewable record of what was done (in VS Code the file opens). Give the request text as for check_query; several requests are separated by lines starting with ###. Refuses to overwrite an existing file unless append is true.',
    inputSchema: {
      type: 'object',
      properties: {
        path: {
          type: 'string',
          minLength: 1,
          maxLength: 500,
          description:
            'Where to save, relative to the workspace folder, ending in .odata, e.g. "queries/seattle-accounts.odata".',
        },
        query,
        title: {
          type: 'string',
          maxLength: 200,
          description: 'A short description, written as a ### heading above the request.',
        },
        append: { type: 'boolean', description: 'Add to the end of an existing file instead of refusing.' },
      },
      required: ['path', 'query'],
      additionalProperties: false,
    },
    writes: false,
  },
];

export function toolDefinition(name: string): ToolDefinition | undefined {
  return TOOL_DEFINITIONS.find((tool) => tool.name === name);
}
