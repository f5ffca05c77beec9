import type * as vscode from 'vscode';
import type { TokenCacheStorage } from '../../dataverse/auth/index';

/**
 * The secrets of configured environments in VS Code's SecretStorage (the OS keychain on desktop), keyed by
 * environment name: the client secret and MSAL's serialized token cache. Nothing here reaches settings.
 */
export class EnvironmentSecrets {
  constructor(private readonly storage: vscode.SecretStorage) {}

  async clientSecret(environment: string): Promise<string | undefined> {
    const value = await this.storage.get(clientSecretKey(environment));
    return value === '' ? undefined : value;
  }

  async setClientSecret(environment: string, secret: string): Promise<void> {
    await this.storage.store(clientSecretKey(environment), secret);
  }

  async deleteClientSecret(environment: string): Promise<void> {
    await this.storage.delete(clientSecretKey(environment));
  }

  /** MSAL's cache for one environment; it holds access and refresh tokens, so it is a secret too. */
  tokenCache(environment: string): TokenCacheStorage {
    const key = tokenCacheKey(environment);
    return {
      read: async () => this.storage.get(key),
      write: async (data) => this.storage.store(key, data),
    };
  }

  async deleteTokenCache(environment: string): Promise<void> {
    await this.storage.delete(tokenCacheKey(environment));
  }

  async deleteAll(environment: string): Promise<void> {
    await Promise.all([this.deleteClientSecret(environment), this.deleteTokenCache(environment)]);
  }

  /** Moves both secrets to a new name, so a rename keeps the sign-in. */
  async rename(from: string, to: string): Promise<void> {
    if (from.toLowerCase() === to.toLowerCase()) return;
    const [secret, cache] = await Promise.all([
      this.storage.get(clientSecretKey(from)),
      this.storage.get(tokenCacheKey(from)),
    ]);
    if (secret !== undefined) await this.storage.store(clientSecretKey(to), secret);
    if (cache !== undefined) await this.storage.store(tokenCacheKey(to), cache);
    await this.deleteAll(from);
  }
}

// Names are unique case-insensitively in settings, so keys are too.
function clientSecretKey(environment: string): string {
  return `dataverse.environment.clientSecret:${environment.toLowerCase()}`;
}

function tokenCacheKey(environment: string): string {
  return `dataverse.environment.tokenCache:${environment.toLowerCase()}`;
}
