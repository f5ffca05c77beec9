import * as vscode from 'vscode';
import type { AuthMethod, EnvironmentAuth, EnvironmentConfig } from '../../core/environments';
import {
  authMethodOf,
  authorityOf,
  normalizeEnvironmentUrl,
  validateAuthority,
  validateCertificateFile,
  validateClientId,
  validateEnvironmentName,
  validateTenantId,
} from '../../core/environments';
import { describeError, isWorkbenchError, WorkbenchError } from '../../core/errors';
import { certificateTokenProvider } from '../../dataverse/auth/index';
import type { EnvironmentSecrets } from '../auth/environmentSecrets';
import type { ConnectionManager } from '../connections';
import type { EnvironmentStore } from '../environmentStore';
import type { ExplorerNode } from '../explorer/explorerTree';
import type { UserInput } from '../userInput';

function cancelled(): never {
  throw new WorkbenchError('cancelled', 'Cancelled.');
}

/** What the environment commands change besides settings: secrets, and clients that hold old tokens. */
export interface EnvironmentServices {
  readonly store: EnvironmentStore;
  readonly secrets: EnvironmentSecrets;
  readonly connections: ConnectionManager;
  readonly input: UserInput;
}

interface MethodItem extends vscode.QuickPickItem {
  readonly method: AuthMethod;
}

/** The labels double as the answers integration tests script. */
export const AUTH_METHOD_ITEMS: readonly MethodItem[] = [
  { method: 'microsoftAccount', label: 'Microsoft account', description: "VS Code's Microsoft sign-in" },
  {
    method: 'clientSecret',
    label: 'Client secret',
    description: 'An app registration (service principal) with a client secret',
  },
  {
    method: 'clientCertificate',
    label: 'Client certificate',
    description: 'An app registration (service principal) with a certificate in a PEM file',
  },
  { method: 'deviceCode', label: 'Device code', description: 'Enter a code on any device with a browser' },
  { method: 'browser', label: 'Browser', description: 'Sign in through the system browser' },
  { method: 'azureCli', label: 'Azure CLI', description: 'The account signed in with az login' },
];

interface AuthAnswer {
  readonly auth: EnvironmentAuth;
  /** Only for `clientSecret`; goes to SecretStorage, never to settings. */
  readonly secret?: string;
}

/** Asks for an organization URL, a name and a sign-in; settings get the non-secret part only. */
export async function addEnvironment(services: EnvironmentServices): Promise<string> {
  const { store, secrets, input } = services;
  const rawUrl = await input.showInputBox({
    title: 'Add Dataverse Environment (1/3)',
    prompt: 'Organization URL',
    placeHolder: 'https://contoso.crm.dynamics.com',
    ignoreFocusOut: true,
    validateInput: (value) => validationMessage(() => normalizeEnvironmentUrl(value)),
  });
  if (rawUrl === undefined) cancelled();
  const url = normalizeEnvironmentUrl(rawUrl);

  const taken = store.read().environments.map((e) => e.name);
  const suggestion = new URL(url).hostname.split('.')[0] ?? '';
  const rawName = await input.showInputBox({
    title: 'Add Dataverse Environment (2/3)',
    prompt: 'A name for this environment',
    value: suggestion,
    ignoreFocusOut: true,
    validateInput: (value) => validationMessage(() => validateEnvironmentName(value, taken)),
  });
  if (rawName === undefined) cancelled();
  const name = validateEnvironmentName(rawName, taken);

  const method = await askMethod(input, 'Add Dataverse Environment (3/3)');
  const answer = await askAuth(input, { name, url }, method, undefined);
  // The secret first: an entry in settings without its secret would fail on first use.
  if (answer.secret !== undefined) await secrets.setClientSecret(name, answer.secret);
  // A secret or tokens left by an earlier environment of the same name must not sign this one in.
  else await secrets.deleteClientSecret(name);
  await secrets.deleteTokenCache(name);
  await store.add({ name, url, auth: answer.auth });
  return name;
}

type EditChoice = 'url' | 'name' | 'auth' | 'secret';

/** Changes one thing of an environment: URL, name, sign-in method (with its fields), or the client secret. */
export async function editEnvironment(services: EnvironmentServices, node?: unknown): Promise<string> {
  const { store, secrets, connections, input } = services;
  const environment = await pickEnvironment(store, input, node, 'Edit Dataverse Environment');
  const method = authMethodOf(environment);
  const choices: (vscode.QuickPickItem & { readonly choice: EditChoice })[] = [
    { choice: 'url', label: 'URL', description: environment.url },
    { choice: 'name', label: 'Name', description: environment.name },
    { choice: 'auth', label: 'Sign-in method', description: methodLabel(method) },
    ...(method === 'clientSecret'
      ? [{ choice: 'secret' as const, label: 'Replace client secret', description: 'Stored in secret storage' }]
      : []),
  ];
  const picked = await input.showQuickPick(choices, {
    title: `Edit ${environment.name}`,
    placeHolder: 'What to change',
  });
  if (!picked) cancelled();
  const id = connectionIdOf(environment.name);
  const wasActive = connections.active?.id === id;

  switch (picked.choice) {
    case 'url': {
      const rawUrl = await input.showInputBox({
        title: `Edit ${environment.name}`,
        prompt: 'Organization URL',
        value: environment.url,
        ignoreFocusOut: true,
        validateInput: (value) => validationMessage(() => normalizeEnvironmentUrl(value)),
      });
      if (rawUrl === undefined) cancelled();
      await store.update(environment.name, { ...environment, url: normalizeEnvironmentUrl(rawUrl) });
      connections.forget(id);
      return environment.name;
    }
    case 'name': {
      const taken = store
        .read()
        .environments.map((e) => e.name)
        .filter((n) => n !== environment.name);
      const rawName = await input.showInputBox({
        title: `Edit ${environment.name}`,
        prompt: 'A name for this environment',
        value: environment.name,
        ignoreFocusOut: true,
        validateInput: (value) => validationMessage(() => validateEnvironmentName(value, taken)),
      });
      if (rawName === undefined) cancelled();
      const name = validateEnvironmentName(rawName, taken);
      await secrets.rename(environment.name, name);
      await store.update(environment.name, { ...environment, name });
      connections.forget(id);
      if (wasActive) await connections.setActive(connectionIdOf(name));
      return name;
    }
    case 'auth': {
      const next = await askMethod(input, `Sign-in for ${environment.name}`);
      const answer = await askAuth(input, environment, next, next === method ? environment.auth : undefined);
      if (answer.secret !== undefined) await secrets.setClientSecret(environment.name, answer.secret);
      else await secrets.deleteClientSecret(environment.name);
      // Tokens of another app or authority must not be offered to the new sign-in.
      await secrets.deleteTokenCache(environment.name);
      await store.update(environment.name, { ...environment, auth: answer.auth });
      connections.forget(id);
      return environment.name;
    }
    case 'secret': {
      const secret = await askSecret(input, environment.name);
      await secrets.setClientSecret(environment.name, secret);
      // Tokens got with the old secret would hide a mistyped new one until they expire.
      await secrets.deleteTokenCache(environment.name);
      connections.forget(id);
      return environment.name;
    }
  }
}

/** Removes an environment, from its tree node or, from the palette, picked from the list, with its secrets. */
export async function removeEnvironment(services: EnvironmentServices, node?: unknown): Promise<string> {
  const { store, secrets, connections, input } = services;
  let name = isEnvironmentNode(node) ? node.environment.name : undefined;
  if (name === undefined) {
    const environments = store.read().environments;
    if (environments.length === 0) throw new WorkbenchError('invalidInput', 'There is no environment to remove.');
    const pick = await input.showQuickPick(
      environments.map((e) => ({ label: e.name, description: e.url })),
      { title: 'Remove Dataverse Environment', placeHolder: 'Environment to remove' },
    );
    if (!pick) cancelled();
    name = pick.label;
  }
  const confirm = 'Remove';
  const answer = await input.showWarningMessage(
    `Remove the environment "${name}"? Its saved sign-in is forgotten too.`,
    { modal: true },
    confirm,
  );
  if (answer !== confirm) cancelled();
  await store.remove(name);
  await secrets.deleteAll(name);
  connections.forget(connectionIdOf(name));
  return name;
}

async function pickEnvironment(
  store: EnvironmentStore,
  input: UserInput,
  node: unknown,
  title: string,
): Promise<EnvironmentConfig> {
  const environments = store.read().environments;
  if (isEnvironmentNode(node)) {
    const found = environments.find((e) => e.name === node.environment.name);
    if (found) return found;
  } else if (typeof node === 'string') {
    const found = environments.find((e) => e.name.toLowerCase() === node.toLowerCase());
    if (found) return found;
    throw new WorkbenchError('invalidInput', `No environment named "${node}".`);
  } else if (node !== undefined) {
    throw new WorkbenchError('invalidInput', 'Expected an environment from the explorer or its name.');
  }
  if (environments.length === 0) {
    throw new WorkbenchError('invalidInput', 'There is no environment yet: add one with "Connect to an Environment…".');
  }
  const pick = await input.showQuickPick(
    environments.map((e) => ({ label: e.name, description: e.url })),
    { title, placeHolder: 'Environment' },
  );
  if (!pick) cancelled();
  const found = environments.find((e) => e.name === pick.label);
  if (!found) cancelled();
  return found;
}

async function askMethod(input: UserInput, title: string): Promise<AuthMethod> {
  const pick = await input.showQuickPick(AUTH_METHOD_ITEMS, { title, placeHolder: 'How to sign in' });
  if (!pick) cancelled();
  return pick.method;
}

function methodLabel(method: AuthMethod): string {
  return AUTH_METHOD_ITEMS.find((item) => item.method === method)?.label ?? method;
}

/** Asks for the fields `method` uses; `current` (same method) fills in the present values. */
async function askAuth(
  input: UserInput,
  { name: environment, url }: Pick<EnvironmentConfig, 'name' | 'url'>,
  method: AuthMethod,
  current: EnvironmentAuth | undefined,
): Promise<AuthAnswer> {
  const title = `${methodLabel(method)} sign-in for ${environment}`;
  switch (method) {
    case 'microsoftAccount': {
      const tenantId = await askOptional(
        input,
        title,
        "Tenant ID or domain (empty: your account's home tenant)",
        current?.tenantId,
        validateTenantId,
      );
      const clientId = await askOptional(
        input,
        title,
        "Application (client) ID of your own app registration (empty: VS Code's)",
        current?.clientId,
        validateClientId,
      );
      return { auth: compact({ method, tenantId, clientId }) };
    }
    case 'azureCli': {
      const tenantId = await askOptional(
        input,
        title,
        "Tenant ID or domain (empty: az's default)",
        current?.tenantId,
        validateTenantId,
      );
      return { auth: compact({ method, tenantId }) };
    }
    case 'clientSecret': {
      const { issuer, clientId } = await askApplication(input, title, current);
      const secret = await askSecret(input, environment);
      return { auth: compact({ method, ...issuer, clientId }), secret };
    }
    case 'clientCertificate': {
      const { issuer, clientId } = await askApplication(input, title, current);
      // Checked as the sign-in will read it, with what was entered above (no network yet).
      const certificateFile = await askCertificateFile(input, title, current?.certificateFile, (file) =>
        certificateTokenProvider({ file, authority: authorityOf(issuer), clientId, environmentUrl: url }),
      );
      return { auth: compact({ method, ...issuer, clientId, certificateFile }) };
    }
    case 'deviceCode':
    case 'browser': {
      const issuer = await askIssuer(input, title, current, false);
      const clientId = await askOptional(
        input,
        title,
        'Application (client) ID (empty: the Dataverse sample app)',
        current?.clientId,
        validateClientId,
      );
      return { auth: compact({ method, ...issuer, clientId }) };
    }
  }
}

/** A service principal's issuer (required) and the client id of its app registration. */
async function askApplication(
  input: UserInput,
  title: string,
  current: EnvironmentAuth | undefined,
): Promise<{ issuer: Pick<EnvironmentAuth, 'tenantId' | 'authority' | 'caFile'>; clientId: string }> {
  const issuer = await askIssuer(input, title, current, true);
  const clientId = await askRequired(
    input,
    title,
    'Application (client) ID of the app registration',
    current?.clientId,
    validateClientId,
  );
  return { issuer, clientId };
}

/** A tenant, or (for a private identity endpoint such as the emulator's) an https authority and its CA file. */
async function askIssuer(
  input: UserInput,
  title: string,
  current: EnvironmentAuth | undefined,
  required: boolean,
): Promise<Pick<EnvironmentAuth, 'tenantId' | 'authority' | 'caFile'>> {
  const check = (value: string): string =>
    /^https?:/i.test(value.trim()) ? validateAuthority(value) : validateTenantId(value);
  const prompt = `Tenant ID or domain, or the https URL of another identity authority${required ? '' : ' (empty: any work account)'}`;
  const value = required
    ? await askRequired(input, title, prompt, current?.authority ?? current?.tenantId, check)
    : await askOptional(input, title, prompt, current?.authority ?? current?.tenantId, check);
  if (value === undefined) return {};
  if (!/^https:/i.test(value)) return { tenantId: value };
  const authority = value;
  if (!isLoopbackAuthority(authority)) return { authority };
  const caFile = await askOptional(
    input,
    title,
    "PEM file of the authority's certificate to trust (empty: the system's trusted roots)",
    current?.caFile,
    (text) => text.trim(),
  );
  return compact({ authority, caFile });
}

function isLoopbackAuthority(authority: string): boolean {
  const host = new URL(authority).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

/**
 * Picks the PEM file (private key and certificate) and checks it; only its path goes to settings. A refused
 * file says why and offers the picker again, so the answers given before it are not lost.
 */
async function askCertificateFile(
  input: UserInput,
  title: string,
  current: string | undefined,
  check: (file: string) => Promise<unknown>,
): Promise<string> {
  const again = 'Choose Another File';
  for (;;) {
    const picked = await input.showOpenDialog({
      title: `${title}: PEM file with the private key and the certificate`,
      openLabel: 'Use This Certificate',
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      filters: { 'PEM files': ['pem', 'crt', 'cer', 'key'], 'All files': ['*'] },
      ...(current === undefined ? {} : { defaultUri: vscode.Uri.file(current) }),
    });
    const uri = picked?.[0];
    if (uri === undefined) cancelled();
    try {
      const file = validateCertificateFile(uri.fsPath);
      await check(file);
      return file;
    } catch (error) {
      if (!(isWorkbenchError(error) && error.kind === 'invalidInput')) throw error;
      const answer = await input.showWarningMessage(error.message, { modal: true }, again);
      if (answer !== again) cancelled();
    }
  }
}

async function askSecret(input: UserInput, environment: string): Promise<string> {
  const secret = await input.showInputBox({
    title: `Client secret for ${environment}`,
    prompt: "Client secret (kept in VS Code's secret storage, never in settings)",
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() === '' ? 'Paste the client secret.' : undefined),
  });
  if (secret === undefined) cancelled();
  if (secret.trim() === '') throw new WorkbenchError('invalidInput', 'The client secret is empty.');
  return secret.trim();
}

async function askRequired(
  input: UserInput,
  title: string,
  prompt: string,
  value: string | undefined,
  check: (text: string) => string,
): Promise<string> {
  const answer = await input.showInputBox({
    title,
    prompt,
    ...(value === undefined ? {} : { value }),
    ignoreFocusOut: true,
    validateInput: (text) => validationMessage(() => check(text)),
  });
  if (answer === undefined) cancelled();
  return check(answer);
}

async function askOptional(
  input: UserInput,
  title: string,
  prompt: string,
  value: string | undefined,
  check: (text: string) => string,
): Promise<string | undefined> {
  const answer = await input.showInputBox({
    title,
    prompt,
    ...(value === undefined ? {} : { value }),
    ignoreFocusOut: true,
    validateInput: (text) => (text.trim() === '' ? undefined : validationMessage(() => check(text))),
  });
  if (answer === undefined) cancelled();
  return answer.trim() === '' ? undefined : check(answer);
}

/** Leaves out the fields the user left empty, so settings hold only what was chosen. */
function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function connectionIdOf(name: string): string {
  return `environment:${name}`;
}

function isEnvironmentNode(value: unknown): value is Extract<ExplorerNode, { type: 'environment' }> {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'environment' &&
    typeof (value as { environment?: { name?: unknown } }).environment?.name === 'string'
  );
}

function validationMessage(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    return describeError(error);
  }
}

export const NEW_ODATA_FILE_TEMPLATE = `# Dataverse Web API requests. Click "Run" above a request, or see docs/odata-files.md.
@top = 10

### Ten accounts
GET accounts?$select=name,accountnumber&$top={{top}}

### Who am I?
GET WhoAmI
`;

/** Opens an untitled `.odata` scratch document with a short example. */
export async function newOdataFile(): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument({ language: 'odata', content: NEW_ODATA_FILE_TEMPLATE });
  return vscode.window.showTextDocument(document);
}
