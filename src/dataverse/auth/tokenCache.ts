import { chmod, readFile, stat } from 'node:fs/promises';
import { writeWholeFile } from '../wholeFile';
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';

/**
 * Where MSAL's serialized token cache lives. The extension backs it with VS Code SecretStorage, `dvw` with
 * `FileTokenCacheStorage`; the cache holds tokens (and refresh tokens), so it is a secret either way.
 */
export interface TokenCacheStorage {
  read(): Promise<string | undefined>;
  write(data: string): Promise<void>;
}

/** MSAL's `cache.cachePlugin`: loads the cache before each access and saves it when MSAL changed it. */
export function tokenCachePlugin(storage: TokenCacheStorage): ICachePlugin {
  return {
    async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
      const data = await storage.read();
      if (data !== undefined && data !== '') context.tokenCache.deserialize(data);
    },
    async afterCacheAccess(context: TokenCacheContext): Promise<void> {
      if (context.cacheHasChanged) await storage.write(context.tokenCache.serialize());
    },
  };
}

function errorCode(error: unknown): string | undefined {
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A cache file readable only by its owner (mode 0600 in a 0700 directory on POSIX; on Windows the profile
 * directory's ACL is what protects it). Writes go to a temporary file renamed into place, so a crash never
 * leaves half a cache.
 */
export class FileTokenCacheStorage implements TokenCacheStorage {
  constructor(readonly path: string) {}

  async read(): Promise<string | undefined> {
    try {
      const info = await stat(this.path);
      // Someone loosened the mode (a copy, an editor): tighten it before trusting the file further.
      if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) await chmod(this.path, 0o600);
      return await readFile(this.path, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  }

  async write(data: string): Promise<void> {
    await writeWholeFile(this.path, data, { mode: 0o600, directoryMode: 0o700 });
  }
}

/** In memory, for tests and for callers that want no persistence. */
export class MemoryTokenCacheStorage implements TokenCacheStorage {
  private data: string | undefined;
  writes = 0;

  read(): Promise<string | undefined> {
    return Promise.resolve(this.data);
  }

  write(data: string): Promise<void> {
    this.data = data;
    this.writes += 1;
    return Promise.resolve();
  }
}
