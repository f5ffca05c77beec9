import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { describeError } from '../../core/errors';
import type { EndpointRow, ImageRow, Registrations } from '../../webhooks/registrations';
import { saveRegistration } from '../../webhooks/registrations';
import type { FormRegistration, HostMessage, PageMessage } from '../../webview/registrationProtocol';
import { parsePageMessage } from '../../webview/registrationProtocol';
import { renderRegistrationHtml } from '../../webview/registration/html';
import type { Connection } from '../connections';
import { emptyRegistration, planSummary, registrationOfRows, specOfRegistration } from './registrationFormModel';

export const REGISTRATION_VIEW_TYPE = 'dataverse.registrationForm';

export interface RegistrationFormTarget {
  readonly connection: Connection;
  readonly registrations: Registrations;
  /** The endpoint to edit; absent for a new registration. */
  readonly endpointId?: string;
}

export interface RegistrationSaved {
  readonly connection: Connection;
  readonly endpointId: string;
  readonly name: string;
  readonly created: boolean;
  readonly summary: string;
}

/**
 * The registration form: one webview for an endpoint with its steps and images. The page asks for
 * messages and columns as the user picks a table; Save turns the form into a registration-file fragment
 * and sends the plan's minimal set of requests. Secrets typed in the page reach the host on Save only
 * and are never posted back or logged.
 */
export class RegistrationPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private target: RegistrationFormTarget | undefined;
  private readonly panelDisposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly inspectorUrl: () => string | undefined,
    private readonly onSaved: (saved: RegistrationSaved) => void,
  ) {}

  /** Opens the form for a new registration, or pre-filled with the endpoint to edit. */
  open(target: RegistrationFormTarget): void {
    this.target = target;
    const panel = this.ensurePanel();
    panel.title = target.endpointId === undefined ? `Register: ${target.connection.name}` : 'Edit Registration';
    // A reloaded page says ready and gets the target's form; an open one is reloaded for the new target.
    panel.webview.html = this.html(panel);
    panel.reveal(vscode.ViewColumn.Active, false);
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** Whether an unsaved draft survives the form's tab being hidden. */
  get keepsDraftWhenHidden(): boolean {
    return this.panel?.options.retainContextWhenHidden === true;
  }

  dispose(): void {
    this.panel?.dispose();
  }

  /**
   * One message from the page: validated, handled, and the answer posted back (and returned, so the
   * integration tests drive the form through the same protocol as the page).
   */
  async receive(raw: unknown): Promise<HostMessage | undefined> {
    const parsed = parsePageMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`Ignored a malformed message from the registration form: ${parsed.error}`);
      return undefined;
    }
    const answer = await this.answer(parsed.message);
    if (answer !== undefined) void this.panel?.webview.postMessage(answer);
    return answer;
  }

  private async answer(message: PageMessage): Promise<HostMessage | undefined> {
    const target = this.target;
    if (target === undefined) return undefined;
    switch (message.type) {
      case 'ready':
        return this.init(target);
      case 'cancel':
        this.panel?.dispose();
        return undefined;
      case 'messages':
        try {
          const messages = await target.registrations.messagesForTable(message.table);
          return { type: 'messages', requestId: message.requestId, table: message.table, messages };
        } catch (error) {
          return { type: 'failed', requestId: message.requestId, error: describeError(error) };
        }
      case 'columns':
        try {
          const columns = await target.registrations.columns(message.table);
          return { type: 'columns', requestId: message.requestId, table: message.table, columns };
        } catch (error) {
          return { type: 'failed', requestId: message.requestId, error: describeError(error) };
        }
      case 'save':
        return this.save(target, message.requestId, message.registration);
    }
  }

  private async init(target: RegistrationFormTarget): Promise<HostMessage> {
    const inspectorUrl = this.inspectorUrl();
    const tables = await target.registrations.tables().catch((error: unknown) => {
      this.log.warn(`Registration form: no table list (${describeError(error)})`);
      return [];
    });
    let registration: FormRegistration = emptyRegistration(inspectorUrl);
    let secretSet = false;
    if (target.endpointId !== undefined) {
      const endpoint = await target.registrations.endpoint(target.endpointId);
      registration = await this.registered(target.registrations, endpoint);
      secretSet = endpoint.secretSet;
    }
    return {
      type: 'init',
      mode: target.endpointId === undefined ? 'create' : 'edit',
      environment: target.connection.name,
      registration,
      secretSet,
      tables,
      ...(inspectorUrl === undefined ? {} : { inspectorUrl }),
    };
  }

  private async registered(registrations: Registrations, endpoint: EndpointRow): Promise<FormRegistration> {
    const steps = await registrations.steps(endpoint.id);
    const images = new Map<string, readonly ImageRow[]>();
    for (const step of steps) images.set(step.id, await registrations.images(step.id));
    return registrationOfRows(endpoint, steps, images);
  }

  private async save(target: RegistrationFormTarget, requestId: number, form: FormRegistration): Promise<HostMessage> {
    try {
      const { spec, secrets, edited } = specOfRegistration(form, target.endpointId);
      const saved = await saveRegistration(target.registrations, spec, secrets, edited);
      const summary = planSummary(saved.plan);
      const name = form.endpoint.name.trim();
      this.log.info(`Saved the registration "${name}" on ${target.connection.name}: ${summary}`);
      this.target = { ...target, endpointId: saved.endpointId };
      if (this.panel !== undefined) this.panel.title = 'Edit Registration';
      this.onSaved({
        connection: target.connection,
        endpointId: saved.endpointId,
        name,
        created: target.endpointId === undefined,
        summary,
      });
      const endpoint = await target.registrations.endpoint(saved.endpointId);
      return { type: 'saved', requestId, summary, registration: await this.registered(target.registrations, endpoint) };
    } catch (error) {
      this.log.warn(`Registration form: ${describeError(error)}`);
      return { type: 'failed', requestId, error: describeError(error) };
    }
  }

  private html(panel: vscode.WebviewPanel): string {
    const media = (...path: string[]): string =>
      panel.webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, ...path)).toString();
    return renderRegistrationHtml({
      cspSource: panel.webview.cspSource,
      nonce: randomBytes(18).toString('base64'),
      scriptUri: media('dist', 'webview', 'registration.js'),
      styleUri: media('media', 'registration.css'),
    });
  }

  private ensurePanel(): vscode.WebviewPanel {
    if (this.panel) return this.panel;
    const panel = vscode.window.createWebviewPanel(
      REGISTRATION_VIEW_TYPE,
      'Register',
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      {
        enableScripts: true,
        // The page holds a draft (a typed secret among it) that a hidden tab must not lose. Saving it with the
        // webview's setState would write the secret to disk, so the page is kept alive instead.
        retainContextWhenHidden: true,
        localResourceRoots: [
          vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview'),
          vscode.Uri.joinPath(this.extensionUri, 'media'),
        ],
      },
    );
    this.panel = panel;
    this.panelDisposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        this.receive(raw).catch((error: unknown) => this.log.error(`Registration form: ${describeError(error)}`));
      }),
      panel.onDidDispose(() => {
        this.panel = undefined;
        this.target = undefined;
        for (const disposable of this.panelDisposables.splice(0)) disposable.dispose();
      }),
    );
    return panel;
  }
}
