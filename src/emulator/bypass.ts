import type { IncomingHttpHeaders } from 'node:http';
import { guessed } from './errors';

// Dataverse's optional parameters that skip custom logic, as Web API headers ("Bypass custom Dataverse logic",
// learn.microsoft.com/power-apps/developer/data-platform/bypass-custom-business-logic):
//   MSCRM.BypassCustomPluginExecution: true            synchronous custom logic (the older parameter; the same as
//                                                      BypassBusinessLogicExecution: CustomSync)
//   MSCRM.BypassBusinessLogicExecution: CustomSync | CustomAsync | CustomSync,CustomAsync
//   MSCRM.BypassBusinessLogicExecutionStepIds: <step id>,<step id>   those registered steps only
// Dataverse requires prvBypassCustomPlugins / prvBypassCustomBusinessLogic; the emulator's one user is the
// admin and holds every privilege. Every step registered in the emulator is custom (none is Microsoft's).

/** What one operation skips; undefined when nothing is. */
export interface Bypass {
  readonly sync: boolean;
  readonly async: boolean;
  /** Lower-case step ids. */
  readonly stepIds: ReadonlySet<string>;
}

/** The headers, lower-case as Node names them; a `$batch` part inherits each one the part does not set. */
export const BYPASS_HEADERS = [
  'mscrm.bypasscustompluginexecution',
  'mscrm.bypassbusinesslogicexecution',
  'mscrm.bypassbusinesslogicexecutionstepids',
] as const;

/**
 * How many step ids one request may name. Microsoft documents a limit without a number or an error message the
 * corpus could confirm; three is the guess, and the error uses the guessed `bypassInvalid` code.
 */
export const MAX_BYPASS_STEP_IDS = 3;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOGIC: ReadonlyMap<string, 'sync' | 'async'> = new Map([
  ['customsync', 'sync'],
  ['customasync', 'async'],
]);

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : value;
}

/** A value echoed in an error: short, one line. */
function shown(value: string): string {
  const line = value.replace(/[\r\n]+/g, ' ').trim();
  return line.length > 100 ? `${line.slice(0, 100)}…` : line;
}

/** The bypass the request asks for; throws a 400 for a value Dataverse would not accept. */
export function parseBypass(headers: IncomingHttpHeaders): Bypass | undefined {
  let sync = false;
  let async = false;
  const stepIds = new Set<string>();

  const plugins = headerValue(headers, BYPASS_HEADERS[0]);
  if (plugins !== undefined) {
    const value = plugins.trim().toLowerCase();
    if (value === 'true') sync = true;
    else if (value !== 'false') {
      throw guessed(
        400,
        'bypassInvalid',
        `The value '${shown(plugins)}' of the MSCRM.BypassCustomPluginExecution header is not valid. Use true or false.`,
      );
    }
  }

  const logic = headerValue(headers, BYPASS_HEADERS[1]);
  if (logic !== undefined) {
    const parts = logic.split(',').map((part) => part.trim());
    for (const part of parts) {
      const kind = LOGIC.get(part.toLowerCase());
      if (kind === undefined) {
        throw guessed(
          400,
          'bypassInvalid',
          `The value '${shown(logic)}' of the MSCRM.BypassBusinessLogicExecution header is not valid. ` +
            'Use CustomSync, CustomAsync or CustomSync,CustomAsync.',
        );
      }
      if (kind === 'sync') sync = true;
      else async = true;
    }
  }

  const steps = headerValue(headers, BYPASS_HEADERS[2]);
  if (steps !== undefined) {
    for (const part of steps.split(',').map((id) => id.trim())) {
      if (!GUID.test(part)) {
        throw guessed(
          400,
          'bypassInvalid',
          `The value '${shown(part)}' of the MSCRM.BypassBusinessLogicExecutionStepIds header is not a step id. ` +
            'Use a comma-separated list of sdkmessageprocessingstep ids.',
        );
      }
      stepIds.add(part.toLowerCase());
    }
    if (stepIds.size > MAX_BYPASS_STEP_IDS) {
      throw guessed(
        400,
        'bypassInvalid',
        `The MSCRM.BypassBusinessLogicExecutionStepIds header names ${stepIds.size} steps; ` +
          `at most ${MAX_BYPASS_STEP_IDS} can be bypassed in one request.`,
      );
    }
  }

  return sync || async || stepIds.size > 0 ? { sync, async, stepIds } : undefined;
}

/** Whether a step of that id and mode is skipped. */
export function bypasses(bypass: Bypass | undefined, stepId: string, mode: 'sync' | 'async'): boolean {
  if (bypass === undefined) return false;
  return (mode === 'sync' ? bypass.sync : bypass.async) || bypass.stepIds.has(stepId.toLowerCase());
}
