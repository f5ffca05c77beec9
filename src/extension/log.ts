import * as vscode from 'vscode';
import { OUTPUT_CHANNEL_NAME } from './constants';

/** The extension's one output channel. Never give it tokens, secrets or record payloads. */
export function createLog(): vscode.LogOutputChannel {
  return vscode.window.createOutputChannel(OUTPUT_CHANNEL_NAME, { log: true });
}
