import * as vscode from 'vscode';
import { normalizeEnvironmentUrl, validateEnvironmentName } from '../../core/environments';
import { describeError, WorkbenchError } from '../../core/errors';
import type { EnvironmentStore } from '../environmentStore';
import type { ExplorerNode } from '../explorer/explorerTree';
import type { UserInput } from '../userInput';

function cancelled(): never {
  throw new WorkbenchError('cancelled', 'Cancelled.');
}

/** Asks for an organization URL and a name, then stores the (non-secret) connection in settings. */
export async function addEnvironment(store: EnvironmentStore, input: UserInput): Promise<string> {
  const rawUrl = await input.showInputBox({
    title: 'Add Dataverse Environment (1/2)',
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
    title: 'Add Dataverse Environment (2/2)',
    prompt: 'A name for this environment',
    value: suggestion,
    ignoreFocusOut: true,
    validateInput: (value) => validationMessage(() => validateEnvironmentName(value, taken)),
  });
  if (rawName === undefined) cancelled();
  const name = validateEnvironmentName(rawName, taken);

  await store.add({ name, url });
  return name;
}

/** Removes an environment, from its tree node or, from the palette, picked from the list. */
export async function removeEnvironment(store: EnvironmentStore, input: UserInput, node?: unknown): Promise<string> {
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
  return name;
}

function isEnvironmentNode(value: unknown): value is Extract<ExplorerNode, { type: 'environment' }> {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'environment';
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
