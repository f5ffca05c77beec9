import * as vscode from 'vscode';
import type { EnvironmentConfig } from '../core/environments';
import { WorkbenchError } from '../core/errors';
import { MetadataCache } from '../dataverse/metadataCache';
import type { ClientEvent, RequestExchange, TokenProvider } from '../dataverse/webApiClient';
import { WebApiClient } from '../dataverse/webApiClient';
import { emulatorTokenProvider } from '../dataverse/auth/index';
import type { EnvironmentSecrets } from './auth/environmentSecrets';
import type { SignInUi } from './auth/signInPorts';
import { environmentTokenProvider, vscodeSignInUi } from './auth/tokenProviders';
import type { EmulatorHost } from './emulatorHost';
import type { EnvironmentStore } from './environmentStore';
import { createWriteGuard } from './writeGuard';

/** Something the tools can talk to: the running local emulator or a configured environment. */
export interface Connection {
  /** `emulator`, or `environment:<name>`. */
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly kind: 'emulator' | 'environment';
}

export const EMULATOR_CONNECTION_ID = 'emulator';
const ACTIVE_KEY = 'dataverse.activeConnection';

interface ConnectionServices {
  readonly client: WebApiClient;
  readonly tokens: TokenProvider;
  readonly metadata: MetadataCache;
  /** What the services were built for; a change (new emulator port or token) builds new ones. */
  readonly signature: string;
}

/**
 * The environments the extension knows (settings plus the running emulator), which one is active,
 * and one Web API client and metadata cache per connection, shared by every feature.
 */
export class ConnectionManager implements vscode.Disposable {
  private readonly services = new Map<string, ConnectionServices>();
  private readonly activeChanged = new vscode.EventEmitter<Connection | undefined>();
  /** Fires when the active connection changes, or when what it points at does (e.g. emulator restart). */
  readonly onDidChangeActive = this.activeChanged.event;
  private readonly exchanged = new vscode.EventEmitter<{ connection: Connection; exchange: RequestExchange }>();
  /** Every request any client of this manager sent, once it is over (the request history listens). */
  readonly onDidExchange = this.exchanged.event;
  private readonly subscriptions: vscode.Disposable[];
  private lastActiveSignature: string | undefined;

  constructor(
    private readonly store: EnvironmentStore,
    private readonly emulator: EmulatorHost,
    private readonly memento: vscode.Memento,
    private readonly storageUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly secrets: EnvironmentSecrets,
    private readonly signInUi: SignInUi = vscodeSignInUi,
    /** Asks before a write to a production environment; true to send. */
    private readonly confirmWrite: (message: string) => Promise<boolean> = async (message) =>
      (await vscode.window.showWarningMessage(message, { modal: true }, 'Send')) === 'Send',
  ) {
    this.lastActiveSignature = this.signatureOf(this.active);
    this.subscriptions = [
      store.onDidChange(() => this.fireIfActiveChanged()),
      emulator.onDidChange(() => this.fireIfActiveChanged()),
    ];
  }

  list(): Connection[] {
    const running = this.emulator.running;
    const emulator: Connection[] = running
      ? [{ id: EMULATOR_CONNECTION_ID, name: 'Local emulator', url: running.url, kind: 'emulator' }]
      : [];
    return [...emulator, ...this.store.read().environments.map(environmentConnection)];
  }

  /** The chosen connection when it still exists; else the emulator when running; else the first. */
  get active(): Connection | undefined {
    const connections = this.list();
    const chosen = this.memento.get<string>(ACTIVE_KEY);
    return connections.find((c) => c.id === chosen) ?? connections[0];
  }

  async setActive(id: string): Promise<void> {
    if (!this.list().some((c) => c.id === id)) throw new WorkbenchError('invalidInput', `No connection "${id}".`);
    await this.memento.update(ACTIVE_KEY, id);
    this.fireIfActiveChanged();
  }

  /** Finds a connection by its name (as `@environment = name` in a file says), case-insensitively. */
  byName(name: string): Connection | undefined {
    return this.list().find((c) => c.name.toLowerCase() === name.toLowerCase());
  }

  /** The active connection, or an error that tells the user how to get one. */
  requireActive(): Connection {
    const active = this.active;
    if (!active) {
      throw new WorkbenchError(
        'invalidInput',
        'No Dataverse environment: start the local emulator or connect to an environment first.',
      );
    }
    return active;
  }

  /** `{{name}}` values from the environment's settings (none for the emulator). */
  variablesOf(connection: Connection): Readonly<Record<string, string>> {
    if (connection.kind === 'emulator') return {};
    return this.store.read().environments.find((e) => e.name === connection.name)?.variables ?? {};
  }

  /** The settings entry behind a configured environment (undefined for the emulator). */
  environmentOf(connection: Connection): EnvironmentConfig | undefined {
    if (connection.kind === 'emulator') return undefined;
    return this.store.read().environments.find((e) => e.name === connection.name);
  }

  /**
   * Drops the client of a connection so the next use signs in again: after its secret was replaced or
   * deleted, when a client that already holds a token would otherwise go on using it.
   */
  forget(connectionId: string): void {
    this.services.delete(connectionId);
  }

  client(connection: Connection): WebApiClient {
    return this.servicesFor(connection).client;
  }

  metadata(connection: Connection): MetadataCache {
    return this.servicesFor(connection).metadata;
  }

  /** The token provider behind `client(connection)`, for a connection test that asks it for a fresh token. */
  tokens(connection: Connection): TokenProvider {
    return this.servicesFor(connection).tokens;
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.activeChanged.dispose();
    this.exchanged.dispose();
    this.services.clear();
  }

  private servicesFor(connection: Connection): ConnectionServices {
    const signature = this.signatureOf(connection) ?? connection.id;
    const existing = this.services.get(connection.id);
    if (existing?.signature === signature) return existing;
    // The client asks the cache for primary keys (safe creates); the cache downloads through the client.
    const tokens = this.tokenProviderFor(connection);
    const client: WebApiClient = new WebApiClient({
      url: connection.url,
      tokenProvider: tokens,
      primaryKeyOf: (entitySet, signal): Promise<string | undefined> => metadata.primaryKeyOf(entitySet, signal),
      onEvent: (event) => this.logEvent(connection, event),
      onExchange: (exchange) => this.exchanged.fire({ connection, exchange }),

      ...(connection.kind === 'emulator'
        ? {}
        : {
            beforeWrite: createWriteGuard({
              environment: () => this.environmentOf(connection),
              confirm: this.confirmWrite,
            }),
          }),
    });
    const metadata: MetadataCache = new MetadataCache({
      client,
      directory: vscode.Uri.joinPath(this.storageUri, 'metadata').fsPath,
    });
    const services = { client, tokens, metadata, signature };
    this.services.set(connection.id, services);
    return services;
  }

  private tokenProviderFor(connection: Connection): TokenProvider {
    if (connection.kind === 'emulator') {
      const running = this.emulator.running;
      if (!running) throw new WorkbenchError('invalidInput', 'The local emulator is not running.');
      // The same MSAL client-credentials path as for a real tenant, against the emulator's identity endpoint.
      return emulatorTokenProvider(running);
    }
    const environment = this.environmentOf(connection);
    if (!environment) throw new WorkbenchError('invalidInput', `No environment named "${connection.name}".`);
    return environmentTokenProvider(environment, this.secrets, this.signInUi);
  }

  /** Method, path and status only: never tokens or payloads. */
  private logEvent(connection: Connection, event: ClientEvent): void {
    this.log.debug(`[${connection.name}] ${JSON.stringify(event)}`);
  }

  private signatureOf(connection: Connection | undefined): string | undefined {
    if (!connection) return undefined;
    // The emulator's token changes with every start, so a restart must build a new client.
    const token = connection.kind === 'emulator' ? (this.emulator.running?.token ?? '') : '';
    // A changed sign-in method, tenant or app in settings needs a new token provider too.
    const auth = JSON.stringify(this.environmentOf(connection)?.auth ?? null);
    return `${connection.id}|${connection.url}|${token.length > 0 ? token.slice(-8) : ''}|${auth}`;
  }

  private fireIfActiveChanged(): void {
    const active = this.active;
    const signature = this.signatureOf(active);
    if (signature === this.lastActiveSignature) return;
    this.lastActiveSignature = signature;
    this.activeChanged.fire(active);
  }
}

function environmentConnection(environment: EnvironmentConfig): Connection {
  return { id: `environment:${environment.name}`, name: environment.name, url: environment.url, kind: 'environment' };
}
