import { WorkbenchError } from './errors';
import { isJsonObject } from './json';

/** How an environment signs in. Absent in settings means `microsoftAccount` (VS Code's own session). */
export type AuthMethod =
  'microsoftAccount' | 'clientSecret' | 'clientCertificate' | 'deviceCode' | 'browser' | 'azureCli';
export const AUTH_METHODS: readonly AuthMethod[] = [
  'microsoftAccount',
  'clientSecret',
  'clientCertificate',
  'deviceCode',
  'browser',
  'azureCli',
];

/** The spellings `dvw`'s connections file used before the two front ends shared one vocabulary. */
const AUTH_METHOD_ALIASES: Readonly<Record<string, AuthMethod>> = {
  'client-secret': 'clientSecret',
  'client-certificate': 'clientCertificate',
  'device-code': 'deviceCode',
  interactive: 'browser',
  'azure-cli': 'azureCli',
};

/** A method's name as settings, the connections file or `--auth` spell it (old spellings included). */
export function authMethodFrom(text: unknown): AuthMethod | undefined {
  if (typeof text !== 'string') return undefined;
  if ((AUTH_METHODS as readonly string[]).includes(text)) return text as AuthMethod;
  return AUTH_METHOD_ALIASES[text];
}

/**
 * The non-secret sign-in fields; the client secret and tokens live in SecretStorage only. A certificate's
 * private key stays in the user's own PEM file: settings keep its path, never its content.
 */
export interface EnvironmentAuth {
  readonly method: AuthMethod;
  readonly tenantId?: string;
  readonly clientId?: string;
  /** Replaces `https://login.microsoftonline.com/<tenant>` (a private identity endpoint such as the emulator's). */
  readonly authority?: string;
  /** A PEM file to trust for a loopback `authority` (the emulator's self-signed certificate). */
  readonly caFile?: string;
  /**
   * For `clientCertificate`: the absolute path of a PEM file with the private key and the certificate, as
   * `dvw env add --certificate` keeps it. The file is read at sign-in; its content never reaches settings.
   */
  readonly certificateFile?: string;
}

/** The non-secret part of a connection, as kept in the `dataverse.environments` setting. */
export interface EnvironmentConfig {
  readonly name: string;
  /** The organization URL, e.g. `https://contoso.crm.dynamics.com`, without the Web API path. */
  readonly url: string;
  /** `{{name}}` values for `.odata` files run against this environment. */
  readonly variables?: Readonly<Record<string, string>>;
  readonly auth?: EnvironmentAuth;
  /** Marked production: agent tools never write there, and every write asks first. */
  readonly production?: boolean;
  /** Nothing writes there: agent tools read only. */
  readonly readOnly?: boolean;
  /** Agent tools may write there (each write confirmed in VS Code); never with production or readOnly. */
  readonly agentWrites?: boolean;
}

/** The authority MSAL is given: the configured one, or Entra's for the tenant (or `organizations`). */
export function authorityOf(auth: Pick<EnvironmentAuth, 'authority' | 'tenantId'>): string {
  return auth.authority ?? `https://login.microsoftonline.com/${auth.tenantId ?? 'organizations'}`;
}

/** The marks an environment entry may carry, each a boolean. */
const MARKS = ['production', 'readOnly', 'agentWrites'] as const;

export function authMethodOf(environment: EnvironmentConfig): AuthMethod {
  return environment.auth?.method ?? 'microsoftAccount';
}

const TENANT = /^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Field names that would hold a secret: refused in settings, so a pasted secret is noticed, not used. */
const SECRET_KEY = /secret|password|token|key$/i;
const AUTH_KEYS = new Set(['method', 'tenantId', 'clientId', 'authority', 'caFile', 'certificateFile']);
/** Which optional fields each method reads; any other field is a mistake worth telling. */
const FIELDS_OF: Readonly<Record<AuthMethod, readonly string[]>> = {
  microsoftAccount: ['tenantId', 'clientId'],
  clientSecret: ['tenantId', 'clientId', 'authority', 'caFile'],
  clientCertificate: ['tenantId', 'clientId', 'authority', 'caFile', 'certificateFile'],
  deviceCode: ['tenantId', 'clientId', 'authority', 'caFile'],
  browser: ['tenantId', 'clientId', 'authority', 'caFile'],
  azureCli: ['tenantId'],
};

export function isLoopbackHost(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

export function validateTenantId(input: string): string {
  const text = input.trim();
  if (!TENANT.test(text)) {
    throw new WorkbenchError('invalidInput', 'A tenant is a directory id (GUID) or a domain such as contoso.com.');
  }
  return text;
}

export function validateClientId(input: string): string {
  const text = input.trim();
  if (!GUID.test(text)) {
    throw new WorkbenchError('invalidInput', 'A client id is the application (client) id GUID of an app registration.');
  }
  return text;
}

/**
 * A certificate file as settings keep it: an absolute path (`/…`, `C:\…` or `\\server\share\…`), since a
 * relative one would depend on the extension host's working directory.
 */
export function validateCertificateFile(input: string): string {
  const text = input.trim();
  if (!/^(\/|[A-Za-z]:[\\/]|\\\\)/.test(text)) {
    throw new WorkbenchError(
      'invalidInput',
      'The certificate file must be an absolute path to a PEM file with the private key and the certificate.',
    );
  }
  return text;
}

/** An https identity authority such as `https://login.microsoftonline.com/<tenant>`; http is never sent secrets. */
export function validateAuthority(input: string): string {
  const text = input.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WorkbenchError(
      'invalidInput',
      'The authority is not a URL, e.g. https://login.microsoftonline.com/contoso.com',
    );
  }
  if (url.protocol !== 'https:') throw new WorkbenchError('invalidInput', 'The authority must use https.');
  if (url.username || url.password || url.search || url.hash) {
    throw new WorkbenchError('invalidInput', 'The authority is a plain https URL, without credentials or query.');
  }
  return text.replace(/\/+$/, '');
}

/**
 * Checks the `auth` object of an environment entry; throws `invalidInput` naming the field as `nameOf` spells
 * it where the user wrote it (`auth.caFile` in settings, `DATAVERSE_CA_FILE` for `dvw`). Values of unknown or
 * secret-looking fields are never repeated, since they may be secrets pasted in the wrong place.
 */
export function parseEnvironmentAuth(
  raw: unknown,
  nameOf: (field: string) => string = (field) => `auth.${field}`,
): EnvironmentAuth {
  if (!isJsonObject(raw)) {
    throw new WorkbenchError('invalidInput', 'auth must be an object such as { "method": "clientSecret", ... }.');
  }
  const fields = raw;
  for (const key of Object.keys(fields)) {
    if (AUTH_KEYS.has(key)) continue;
    if (SECRET_KEY.test(key)) {
      throw new WorkbenchError(
        'invalidInput',
        `${nameOf(key)} looks like a secret: secrets are kept in VS Code's secret storage, never in settings. Remove it and use "Edit Environment" to store it.`,
      );
    }
    throw new WorkbenchError('invalidInput', `${nameOf(key)} is not a known field (${[...AUTH_KEYS].join(', ')}).`);
  }
  const authMethod = authMethodFrom(fields.method);
  if (authMethod === undefined) {
    throw new WorkbenchError('invalidInput', `${nameOf('method')} must be one of ${AUTH_METHODS.join(', ')}.`);
  }
  const allowed = FIELDS_OF[authMethod];
  for (const key of ['tenantId', 'clientId', 'authority', 'caFile', 'certificateFile']) {
    if (fields[key] === undefined) continue;
    if (!allowed.includes(key))
      throw new WorkbenchError('invalidInput', `${nameOf(key)} is not used by ${authMethod} sign-in.`);
    if (typeof fields[key] !== 'string' || fields[key].trim() === '') {
      throw new WorkbenchError('invalidInput', `${nameOf(key)} must be a non-empty string.`);
    }
  }
  const text = (key: string): string | undefined => (typeof fields[key] === 'string' ? fields[key] : undefined);
  const tenantId = text('tenantId');
  const clientId = text('clientId');
  const authority = text('authority');
  const caFile = text('caFile');
  const certificateFile = text('certificateFile');
  const checked = {
    ...(tenantId === undefined ? {} : { tenantId: prefixed(nameOf('tenantId'), () => validateTenantId(tenantId)) }),
    ...(clientId === undefined ? {} : { clientId: prefixed(nameOf('clientId'), () => validateClientId(clientId)) }),
    ...(authority === undefined
      ? {}
      : { authority: prefixed(nameOf('authority'), () => validateAuthority(authority)) }),
    ...(certificateFile === undefined
      ? {}
      : { certificateFile: prefixed(nameOf('certificateFile'), () => validateCertificateFile(certificateFile)) }),
  };
  if (caFile !== undefined) {
    // A private CA only makes sense for a private identity endpoint on this machine; for Entra it would
    // replace the public roots and for anything else it would invite trusting an interceptor.
    if (checked.authority === undefined || !isLoopbackHost(new URL(checked.authority).hostname)) {
      throw new WorkbenchError(
        'invalidInput',
        `${nameOf('caFile')} is only for a loopback authority (https://127.0.0.1:…).`,
      );
    }
  }
  if (authMethod === 'clientSecret' || authMethod === 'clientCertificate') {
    if (checked.clientId === undefined) {
      throw new WorkbenchError(
        'invalidInput',
        `${nameOf('clientId')} (the app registration) is needed for ${authMethod} sign-in.`,
      );
    }
    if (checked.tenantId === undefined && checked.authority === undefined) {
      throw new WorkbenchError(
        'invalidInput',
        `${nameOf('tenantId')} (or ${nameOf('authority')}) is needed for ${authMethod} sign-in.`,
      );
    }
  }
  if (authMethod === 'clientCertificate' && checked.certificateFile === undefined) {
    throw new WorkbenchError(
      'invalidInput',
      `${nameOf('certificateFile')} (a PEM file with the private key and the certificate) is needed for clientCertificate sign-in.`,
    );
  }
  return { method: authMethod, ...checked, ...(caFile === undefined ? {} : { caFile: caFile.trim() }) };
}

function prefixed<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new WorkbenchError('invalidInput', `${field}: ${(error as Error).message}`);
  }
}

export interface EnvironmentListResult {
  readonly environments: EnvironmentConfig[];
  /** One message per entry that was skipped, fit to show to the user. */
  readonly problems: string[];
}

/**
 * Checks an organization URL typed by a user. Returns the normalized URL (origin only) or throws an
 * `invalidInput` error that says what to fix. Plain http is accepted only on loopback (the emulator).
 */
export function normalizeEnvironmentUrl(input: string): string {
  const text = input.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WorkbenchError('invalidInput', `"${text}" is not a URL. Expected e.g. https://contoso.crm.dynamics.com`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new WorkbenchError('invalidInput', `Use https for ${url.host}; plain http is accepted only on loopback.`);
  }
  if (url.username || url.password) {
    throw new WorkbenchError('invalidInput', 'Leave credentials out of the URL; they are asked for separately.');
  }
  return url.origin;
}

export function validateEnvironmentName(input: string, taken: readonly string[]): string {
  const name = input.trim();
  if (name.length === 0) throw new WorkbenchError('invalidInput', 'Give the environment a name.');
  if (name.length > 100) throw new WorkbenchError('invalidInput', 'Keep the name under 100 characters.');
  if (taken.some((t) => t.toLowerCase() === name.toLowerCase())) {
    throw new WorkbenchError('invalidInput', `An environment named "${name}" exists already.`);
  }
  return name;
}

/** Reads the setting's raw value, keeping every valid entry and describing every invalid one. */
export function parseEnvironmentList(raw: unknown): EnvironmentListResult {
  const environments: EnvironmentConfig[] = [];
  const problems: string[] = [];
  if (raw === undefined || raw === null) return { environments, problems };
  if (!Array.isArray(raw)) {
    return { environments, problems: ['dataverse.environments must be an array of { "name", "url" } objects.'] };
  }
  raw.forEach((entry: unknown, index) => {
    if (!isJsonObject(entry)) {
      problems.push(`dataverse.environments[${index}] is not an object.`);
      return;
    }
    const { name, url, variables, auth } = entry;
    const badMark = MARKS.find((mark) => !['boolean', 'undefined'].includes(typeof entry[mark]));
    if (badMark !== undefined) {
      problems.push(`dataverse.environments[${index}].${badMark} must be true or false.`);
      return;
    }
    if (typeof name !== 'string' || typeof url !== 'string') {
      problems.push(`dataverse.environments[${index}] needs a string "name" and a string "url".`);
      return;
    }
    if (variables !== undefined && !isStringMap(variables)) {
      problems.push(`dataverse.environments[${index}].variables must map names to strings.`);
      return;
    }
    const secretKey = Object.keys(entry).find((key) => SECRET_KEY.test(key));
    if (secretKey !== undefined) {
      problems.push(
        `dataverse.environments[${index}].${secretKey} looks like a secret: secrets are kept in VS Code's secret storage, never in settings. Remove it.`,
      );
      return;
    }
    let parsedAuth: EnvironmentAuth | undefined;
    try {
      parsedAuth = auth === undefined ? undefined : parseEnvironmentAuth(auth);
    } catch (error) {
      problems.push(`dataverse.environments[${index}].${(error as Error).message}`);
      return;
    }
    try {
      environments.push({
        name: validateEnvironmentName(
          name,
          environments.map((e) => e.name),
        ),
        url: normalizeEnvironmentUrl(url),
        ...(variables === undefined ? {} : { variables }),
        ...(parsedAuth === undefined ? {} : { auth: parsedAuth }),
        ...Object.fromEntries(
          MARKS.filter((mark) => (entry as Record<string, unknown>)[mark] === true).map((m) => [m, true]),
        ),
      });
    } catch (error) {
      problems.push(`dataverse.environments[${index}]: ${(error as Error).message}`);
    }
  });
  return { environments, problems };
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isJsonObject(value) && Object.values(value).every((v) => typeof v === 'string');
}
