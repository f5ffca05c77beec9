import { WorkbenchError } from './errors';

/** The non-secret part of a connection, as kept in the `dataverse.environments` setting. */
export interface EnvironmentConfig {
  readonly name: string;
  /** The organization URL, e.g. `https://contoso.crm.dynamics.com`, without the Web API path. */
  readonly url: string;
  /** `{{name}}` values for `.odata` files run against this environment. */
  readonly variables?: Readonly<Record<string, string>>;
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
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
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
    if (typeof entry !== 'object' || entry === null) {
      problems.push(`dataverse.environments[${index}] is not an object.`);
      return;
    }
    const { name, url, variables } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || typeof url !== 'string') {
      problems.push(`dataverse.environments[${index}] needs a string "name" and a string "url".`);
      return;
    }
    if (variables !== undefined && !isStringMap(variables)) {
      problems.push(`dataverse.environments[${index}].variables must map names to strings.`);
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
      });
    } catch (error) {
      problems.push(`dataverse.environments[${index}]: ${(error as Error).message}`);
    }
  });
  return { environments, problems };
}

function isStringMap(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value as Record<string, unknown>).every((v) => typeof v === 'string')
  );
}
