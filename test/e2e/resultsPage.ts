// The results page in a real Chromium: served by pageServer.ts with the host's messages posted as
// the host would, and the theme variables of VS Code's themes.
import type { Page } from 'playwright-core';
import type { HostMessage, PageMessage, ResultRow } from '../../src/webview/resultsProtocol';
import { renderResultsHtml } from '../../src/webview/results/html';
import type { PageServer } from './pageServer';
import { startPageServer } from './pageServer';

export { launchChromium } from './pageServer';
export type ResultsServer = PageServer;

export function startResultsServer(): Promise<ResultsServer> {
  return startPageServer('results', renderResultsHtml);
}

/**
 * Posts as the host would. The message crosses into the page as JSON text: playwright's own
 * serialization of a 5,000-row object takes seconds, which would only measure playwright.
 */
export async function postToPage(page: Page, message: HostMessage): Promise<void> {
  await page.evaluate(
    (json) => (window as unknown as { __host: { post(m: unknown): void } }).__host.post(JSON.parse(json)),
    JSON.stringify(message),
  );
}

export async function postedMessages(page: Page): Promise<PageMessage[]> {
  return page.evaluate(() => (window as unknown as { __posted: PageMessage[] }).__posted.slice());
}

// ---- Themes ---------------------------------------------------------------------------------------

export type ThemeKind = 'light' | 'dark' | 'high-contrast';

/**
 * The theme variables the page uses, with the values of VS Code's Light+, Dark+ and Dark High Contrast
 * themes. High contrast leaves hover and selection backgrounds unset (VS Code emits no variable for
 * them) and draws borders and outlines instead.
 */
export const THEMES: Readonly<Record<ThemeKind, Readonly<Record<string, string>>>> = {
  light: {
    'font-family': '-apple-system, BlinkMacSystemFont, "Segoe UI", "Ubuntu", "Droid Sans", sans-serif',
    'font-size': '13px',
    'editor-font-family': '"Droid Sans Mono", "DejaVu Sans Mono", monospace',
    'editor-font-size': '13px',
    'editor-background': '#ffffff',
    foreground: '#616161',
    'panel-border': 'rgba(128, 128, 128, 0.35)',
    'button-background': '#007acc',
    'button-foreground': '#ffffff',
    'button-hoverBackground': '#0062a3',
    'button-secondaryBackground': '#5f6a79',
    'button-secondaryForeground': '#ffffff',
    'button-secondaryHoverBackground': '#4c5561',
    'input-background': '#ffffff',
    'input-foreground': '#616161',
    'input-border': '#cecece',
    'input-placeholderForeground': '#767676',
    focusBorder: '#0090f1',
    descriptionForeground: '#717171',
    'list-hoverBackground': '#e8e8e8',
    'list-activeSelectionBackground': '#0060c0',
    'list-activeSelectionForeground': '#ffffff',
    'list-inactiveSelectionBackground': '#e4e6f1',
    'list-focusOutline': '#0090f1',
    'editorGroupHeader-tabsBackground': '#f3f3f3',
    'editorLineNumber-foreground': '#237893',
    'textLink-foreground': '#006ab1',
    errorForeground: '#a1260d',
    'inputValidation-errorBackground': '#f2dede',
    'progressBar-background': '#0e70c0',
    'debugTokenExpression-number': '#098658',
    'debugTokenExpression-boolean': '#0000ff',
    'tree-tableOddRowsBackground': 'rgba(97, 97, 97, 0.04)',
    'gitDecoration-deletedResourceForeground': '#ad0707',
    'badge-background': '#c4c4c4',
    'badge-foreground': '#333333',
  },
  dark: {
    'font-family': '-apple-system, BlinkMacSystemFont, "Segoe UI", "Ubuntu", "Droid Sans", sans-serif',
    'font-size': '13px',
    'editor-font-family': '"Droid Sans Mono", "DejaVu Sans Mono", monospace',
    'editor-font-size': '13px',
    'editor-background': '#1e1e1e',
    foreground: '#cccccc',
    'panel-border': 'rgba(128, 128, 128, 0.35)',
    'button-background': '#0e639c',
    'button-foreground': '#ffffff',
    'button-hoverBackground': '#1177bb',
    'button-secondaryBackground': '#3a3d41',
    'button-secondaryForeground': '#ffffff',
    'button-secondaryHoverBackground': '#45494e',
    'input-background': '#3c3c3c',
    'input-foreground': '#cccccc',
    'input-border': '#3c3c3c',
    'input-placeholderForeground': '#a6a6a6',
    focusBorder: '#007fd4',
    descriptionForeground: 'rgba(204, 204, 204, 0.7)',
    'list-hoverBackground': '#2a2d2e',
    'list-activeSelectionBackground': '#04395e',
    'list-activeSelectionForeground': '#ffffff',
    'list-inactiveSelectionBackground': '#37373d',
    'list-focusOutline': '#007fd4',
    'editorGroupHeader-tabsBackground': '#252526',
    'editorLineNumber-foreground': '#858585',
    'textLink-foreground': '#3794ff',
    errorForeground: '#f48771',
    'inputValidation-errorBackground': '#5a1d1d',
    'progressBar-background': '#0e70c0',
    'debugTokenExpression-number': '#b5cea8',
    'debugTokenExpression-boolean': '#4e94ce',
    'tree-tableOddRowsBackground': 'rgba(204, 204, 204, 0.04)',
    'gitDecoration-deletedResourceForeground': '#c74e39',
    'badge-background': '#4d4d4d',
    'badge-foreground': '#ffffff',
  },
  'high-contrast': {
    'font-family': '-apple-system, BlinkMacSystemFont, "Segoe UI", "Ubuntu", "Droid Sans", sans-serif',
    'font-size': '13px',
    'editor-font-family': '"Droid Sans Mono", "DejaVu Sans Mono", monospace',
    'editor-font-size': '13px',
    'editor-background': '#000000',
    foreground: '#ffffff',
    contrastBorder: '#6fc3df',
    contrastActiveBorder: '#f38518',
    'panel-border': '#6fc3df',
    'button-background': '#000000',
    'button-foreground': '#ffffff',
    'button-border': '#6fc3df',
    'button-secondaryBackground': '#000000',
    'button-secondaryForeground': '#ffffff',
    'input-background': '#000000',
    'input-foreground': '#ffffff',
    'input-border': '#6fc3df',
    'input-placeholderForeground': 'rgba(255, 255, 255, 0.7)',
    focusBorder: '#f38518',
    descriptionForeground: 'rgba(255, 255, 255, 0.7)',
    'list-focusOutline': '#f38518',
    'editorLineNumber-foreground': '#ffffff',
    'editorLineNumber-activeForeground': '#f38518',
    'textLink-foreground': '#21a6ff',
    errorForeground: '#f48771',
    'inputValidation-errorBackground': '#000000',
    'progressBar-background': '#6fc3df',
    'debugTokenExpression-number': '#b5cea8',
    'debugTokenExpression-boolean': '#4e94ce',
    'gitDecoration-deletedResourceForeground': '#c74e39',
    'badge-background': '#000000',
    'badge-foreground': '#ffffff',
  },
};

/** As VS Code does: a `vscode-<kind>` class on body and `--vscode-*` variables on the root element. */
export async function applyTheme(page: Page, kind: ThemeKind): Promise<void> {
  await page.evaluate(
    ({ kind, vars }) => {
      // A variable the new theme does not define must not linger from the previous one.
      const style = document.documentElement.style;
      for (const name of Array.from(style)) if (name.startsWith('--vscode-')) style.removeProperty(name);
      document.body.classList.remove('vscode-light', 'vscode-dark', 'vscode-high-contrast');
      document.body.classList.add(`vscode-${kind}`);
      for (const [name, value] of Object.entries(vars)) {
        document.documentElement.style.setProperty(`--vscode-${name}`, value);
      }
    },
    { kind, vars: THEMES[kind] },
  );
}

// ---- Sample data ----------------------------------------------------------------------------------

const FORMATTED = '@OData.Community.Display.V1.FormattedValue';

export function guid(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}

/** An account as Dataverse returns it with `Prefer: odata.include-annotations="*"`. */
export function accountRow(i: number, extraColumns = 0): ResultRow {
  const revenue = (i * 7919) % 100_000;
  const row: ResultRow = {
    '@odata.etag': `W/"${1000 + i}"`,
    accountid: guid(i + 1),
    name: `Account ${String(i).padStart(4, '0')}`,
    revenue,
    [`revenue${FORMATTED}`]: `$${revenue.toLocaleString('en-US')}.00`,
    statecode: i % 5 === 0 ? 1 : 0,
    [`statecode${FORMATTED}`]: i % 5 === 0 ? 'Inactive' : 'Active',
    _primarycontactid_value: guid(50_000 + i),
    [`_primarycontactid_value${FORMATTED}`]: `Contact ${i}`,
    '_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'contact',
    telephone1: i % 3 === 0 ? null : i % 3 === 1 ? '' : `+1 425 555 ${String(i % 10_000).padStart(4, '0')}`,
    donotemail: i % 2 === 0,
  };
  for (let k = 0; k < extraColumns; k++) row[`new_field${String(k).padStart(2, '0')}`] = `r${i}c${k}`;
  return row;
}

export function accountRows(count: number, extraColumns = 0): ResultRow[] {
  return Array.from({ length: count }, (_, i) => accountRow(i, extraColumns));
}

export const ACCOUNT_METADATA = {
  entitySet: 'accounts',
  primaryIdAttribute: 'accountid',
  columns: [
    { logicalName: 'accountid', displayName: 'Account', type: 'Uniqueidentifier' },
    { logicalName: 'name', displayName: 'Account Name', type: 'String' },
    { logicalName: 'revenue', displayName: 'Annual Revenue', type: 'Money' },
  ],
} as const;
