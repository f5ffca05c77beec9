import * as vscode from 'vscode';
import { describeError, isWorkbenchError } from '../core/errors';
import type { CommandId } from './constants';

export interface CommandContext {
  readonly log: vscode.LogOutputChannel;
}

/**
 * The one way commands are registered: every failure is logged and shown once, cancellation is
 * silent, and nothing escapes as an unhandled rejection.
 */
export function registerCommand(
  context: CommandContext,
  id: CommandId,
  handler: (...args: unknown[]) => unknown,
): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await handler(...args);
    } catch (error) {
      if (isWorkbenchError(error) && error.kind === 'cancelled') return undefined;
      const message = describeError(error);
      context.log.error(`${id}: ${message}`);
      if (isWorkbenchError(error) && error.kind === 'invalidInput') {
        void vscode.window.showWarningMessage(message);
      } else {
        void vscode.window.showErrorMessage(message, 'Show Log').then((choice) => {
          if (choice) context.log.show(true);
        });
      }
      return undefined;
    }
  });
}
