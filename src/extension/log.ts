import * as vscode from 'vscode';
import { OUTPUT_CHANNEL_NAME } from './constants';

/** How many recent lines the log keeps in memory. */
const RECENT_LINES = 2_000;

/** The output channel plus the lines written to it lately, at every level (tests read them). */
export interface WorkbenchLog extends vscode.LogOutputChannel {
  recentLines(): readonly string[];
}

/** The extension's one output channel. Never give it tokens, secrets or record payloads. */
export function createLog(): WorkbenchLog {
  return new RecordingLog(vscode.window.createOutputChannel(OUTPUT_CHANNEL_NAME, { log: true }));
}

/**
 * Passes everything to the real channel unchanged and keeps a bounded copy of each line, including those
 * below the user's log level: a check that no secret is ever logged must see the debug lines too.
 */
class RecordingLog implements WorkbenchLog {
  private readonly lines: string[] = [];

  constructor(private readonly channel: vscode.LogOutputChannel) {}

  get name(): string {
    return this.channel.name;
  }

  get logLevel(): vscode.LogLevel {
    return this.channel.logLevel;
  }

  get onDidChangeLogLevel(): vscode.Event<vscode.LogLevel> {
    return this.channel.onDidChangeLogLevel;
  }

  recentLines(): readonly string[] {
    return [...this.lines];
  }

  trace(message: string, ...args: unknown[]): void {
    this.keep('trace', message, args);
    this.channel.trace(message, ...args);
  }

  debug(message: string, ...args: unknown[]): void {
    this.keep('debug', message, args);
    this.channel.debug(message, ...args);
  }

  info(message: string, ...args: unknown[]): void {
    this.keep('info', message, args);
    this.channel.info(message, ...args);
  }

  warn(message: string, ...args: unknown[]): void {
    this.keep('warning', message, args);
    this.channel.warn(message, ...args);
  }

  error(error: string | Error, ...args: unknown[]): void {
    this.keep('error', error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : error, args);
    this.channel.error(error, ...args);
  }

  append(value: string): void {
    this.keep('raw', value, []);
    this.channel.append(value);
  }

  appendLine(value: string): void {
    this.keep('raw', value, []);
    this.channel.appendLine(value);
  }

  replace(value: string): void {
    this.keep('raw', value, []);
    this.channel.replace(value);
  }

  clear(): void {
    this.channel.clear();
  }

  show(preserveFocus?: boolean): void;
  show(column?: vscode.ViewColumn, preserveFocus?: boolean): void;
  show(columnOrPreserveFocus?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    if (typeof columnOrPreserveFocus === 'boolean' || columnOrPreserveFocus === undefined) {
      this.channel.show(columnOrPreserveFocus);
    } else {
      this.channel.show(columnOrPreserveFocus, preserveFocus);
    }
  }

  hide(): void {
    this.channel.hide();
  }

  dispose(): void {
    this.channel.dispose();
  }

  private keep(level: string, message: string, args: readonly unknown[]): void {
    const extra = args.map((arg) => (arg instanceof Error ? `${arg.message}\n${arg.stack ?? ''}` : safeString(arg)));
    this.lines.push([`[${level}] ${message}`, ...extra].join(' '));
    if (this.lines.length > RECENT_LINES) this.lines.splice(0, this.lines.length - RECENT_LINES);
  }
}

function safeString(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
