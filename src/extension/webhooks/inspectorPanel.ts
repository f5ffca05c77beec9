import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { describeError } from '../../core/errors';
import type { RejectedDelivery, WebhookDelivery, WebhookReceiver } from '../../webhooks/receiver';
import { startWebhookReceiver } from '../../webhooks/receiver';
import type { HostMessage, InspectorDelivery, PageMessage } from '../../webview/inspectorProtocol';
import { parsePageMessage } from '../../webview/inspectorProtocol';
import { renderInspectorHtml } from '../../webview/inspector/html';
import { ContextKeys } from '../constants';
import { inspectorDelivery } from './inspectorModel';

export const INSPECTOR_VIEW_TYPE = 'dataverse.webhookInspector';

/** Deliveries kept for a page that is (re)loaded; older ones are dropped. */
const KEPT = 200;

export interface InspectorState {
  readonly url: string;
  readonly port: number;
  /** What was handed to the page, oldest first. */
  readonly deliveries: readonly InspectorDelivery[];
}

/**
 * The delivery inspector: a receiver on 127.0.0.1 and the webview listing what it receives. The key
 * lives only in the receiver's closure; payloads go to the page and nowhere else (never the log).
 * Closing the panel, the Stop command and disposal all stop the receiver.
 */
export class InspectorPanel implements vscode.Disposable {
  private receiver: WebhookReceiver | undefined;
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private keyed = false;
  private sequence = 0;
  private readonly deliveries: InspectorDelivery[] = [];
  private readonly panelDisposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly onDelivery: () => void = () => undefined,
  ) {}

  get state(): InspectorState | undefined {
    const receiver = this.receiver;
    return receiver === undefined
      ? undefined
      : { url: receiver.url, port: receiver.port, deliveries: [...this.deliveries] };
  }

  /** Starts (or restarts) the receiver and shows the panel. */
  async start(port: number, key: string | undefined): Promise<InspectorState> {
    await this.stopReceiver();
    this.sequence = 0;
    this.deliveries.length = 0;
    this.receiver = await startWebhookReceiver({
      host: '127.0.0.1',
      port,
      ...(key === undefined ? {} : { key }),
      onDelivery: (delivery) => this.received(delivery),
      onRejected: (rejection) => this.rejected(rejection),
    });
    this.keyed = key !== undefined;
    void vscode.commands.executeCommand('setContext', ContextKeys.webhookInspectorRunning, true);
    this.log.info(`Webhook inspector listening on ${this.receiver.url}`);
    const panel = this.ensurePanel();
    panel.reveal(vscode.ViewColumn.Active, false);
    this.post({ type: 'clear' });
    this.postStatus();
    return { url: this.receiver.url, port: this.receiver.port, deliveries: [] };
  }

  async stop(): Promise<boolean> {
    const was = await this.stopReceiver();
    this.postStatus();
    return was;
  }

  dispose(): void {
    void this.stopReceiver();
    this.panel?.dispose();
  }

  private async stopReceiver(): Promise<boolean> {
    const receiver = this.receiver;
    if (receiver === undefined) return false;
    this.receiver = undefined;
    void vscode.commands.executeCommand('setContext', ContextKeys.webhookInspectorRunning, false);
    try {
      await receiver.close();
    } catch (error) {
      this.log.warn(`Webhook inspector: ${describeError(error)}`);
    }
    this.log.info('Webhook inspector stopped');
    return true;
  }

  private received(delivery: WebhookDelivery): void {
    this.sequence += 1;
    const shown = inspectorDelivery(this.sequence, delivery);
    this.deliveries.push(shown);
    if (this.deliveries.length > KEPT) this.deliveries.shift();
    // The payload is a record's data: the log gets the fact, not the content.
    this.log.info(`Webhook delivery ${this.sequence} received (${delivery.bodyBytes} bytes)`);
    this.post({ type: 'delivery', delivery: shown });
    this.onDelivery();
  }

  private rejected(rejection: RejectedDelivery): void {
    this.log.info(`Webhook inspector refused a request: ${rejection.status} ${rejection.reason}`);
    this.post({ type: 'rejected', status: rejection.status, reason: rejection.reason });
  }

  private postStatus(): void {
    const receiver = this.receiver;
    this.post(
      receiver === undefined
        ? { type: 'status', state: 'stopped', keyed: this.keyed }
        : { type: 'status', state: 'listening', url: receiver.url, keyed: this.keyed },
    );
  }

  private ensurePanel(): vscode.WebviewPanel {
    if (this.panel) return this.panel;
    const panel = vscode.window.createWebviewPanel(
      INSPECTOR_VIEW_TYPE,
      'Webhook Deliveries',
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      {
        enableScripts: true,
        retainContextWhenHidden: true,
        localResourceRoots: [
          vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview'),
          vscode.Uri.joinPath(this.extensionUri, 'media'),
        ],
      },
    );
    this.panel = panel;
    this.ready = false;
    const media = (...path: string[]): string =>
      panel.webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, ...path)).toString();
    panel.webview.html = renderInspectorHtml({
      cspSource: panel.webview.cspSource,
      nonce: randomBytes(18).toString('base64'),
      scriptUri: media('dist', 'webview', 'inspector.js'),
      styleUri: media('media', 'inspector.css'),
    });
    this.panelDisposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      panel.onDidDispose(() => {
        this.panel = undefined;
        this.ready = false;
        for (const disposable of this.panelDisposables.splice(0)) disposable.dispose();
        // No listener is left running without the panel that shows it.
        void this.stopReceiver();
      }),
    );
    return panel;
  }

  private post(message: HostMessage): void {
    // Before the page says ready, messages would be lost; it gets the status and the kept list then.
    if (this.panel === undefined || !this.ready) return;
    void this.panel.webview.postMessage(message);
  }

  private receive(raw: unknown): void {
    const parsed = parsePageMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`Ignored a malformed message from the inspector page: ${parsed.error}`);
      return;
    }
    this.handle(parsed.message).catch((error: unknown) => this.log.error(`Webhook inspector: ${describeError(error)}`));
  }

  private async handle(message: PageMessage): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        this.postStatus();
        for (const delivery of this.deliveries) this.post({ type: 'delivery', delivery });
        return;
      case 'clear':
        this.deliveries.length = 0;
        return;
      case 'stop':
        await this.stop();
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(message.text);
        return;
    }
  }
}
