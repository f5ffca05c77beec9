import type * as vscode from 'vscode';
import type { EnvironmentConfig } from '../../core/environments';
import type { JsonObject } from '../../core/json';
import type { NavigationProperty, Property } from '../../metadata/model';
import type { Connection } from '../connections';
import type { RunningEmulator } from '../emulatorHost';
import type { TableInfo, TableKey } from './explorerData';

/** The folders under a table, in the order they are shown. */
export const TABLE_FOLDERS = ['columns', 'relationships', 'keys', 'records'] as const;
export type TableFolder = (typeof TABLE_FOLDERS)[number];

/**
 * Tree nodes wrap model objects; `id` is a path (`emulator/account/records`) that stays the same
 * across refreshes, so VS Code keeps expansion state and a node can be refreshed on its own.
 */
export type ExplorerNode =
  | {
      readonly type: 'emulator';
      readonly id: string;
      readonly emulator: RunningEmulator;
      readonly connection: Connection;
    }
  | {
      readonly type: 'environment';
      readonly id: string;
      readonly environment: EnvironmentConfig;
      readonly connection: Connection;
    }
  | { readonly type: 'problem'; readonly id: string; readonly message: string }
  | { readonly type: 'tables'; readonly id: string; readonly connection: Connection }
  | { readonly type: 'table'; readonly id: string; readonly connection: Connection; readonly table: TableInfo }
  | {
      readonly type: 'folder';
      readonly id: string;
      readonly folder: TableFolder;
      readonly connection: Connection;
      readonly table: TableInfo;
    }
  | { readonly type: 'column'; readonly id: string; readonly table: TableInfo; readonly property: Property }
  | {
      readonly type: 'relationship';
      readonly id: string;
      readonly table: TableInfo;
      readonly navigation: NavigationProperty;
    }
  | { readonly type: 'key'; readonly id: string; readonly table: TableInfo; readonly key: TableKey }
  | {
      readonly type: 'record';
      readonly id: string;
      readonly connection: Connection;
      readonly table: TableInfo;
      readonly recordId: string;
      readonly record: JsonObject;
    }
  | { readonly type: 'loadMore'; readonly id: string; readonly records: RecordsFolderNode }
  | { readonly type: 'error'; readonly id: string; readonly message: string; readonly retry: ExplorerNode }
  /** A node of a section another feature contributes under each connection (see `ExplorerSection`). */
  | {
      readonly type: 'section';
      readonly id: string;
      readonly connection: Connection;
      readonly section: ExplorerSection;
    }
  | {
      readonly type: 'message';
      readonly id: string;
      readonly message: string;
      readonly action?: { readonly command: string; readonly title: string; readonly argument: ExplorerNode };
    };

export type ConnectionNode = Extract<ExplorerNode, { type: 'emulator' | 'environment' }>;
export type TableNode = Extract<ExplorerNode, { type: 'table' }>;
export type RecordNode = Extract<ExplorerNode, { type: 'record' }>;
export type RecordsFolderNode = Extract<ExplorerNode, { type: 'folder' }> & { readonly folder: 'records' };
export type TablesNode = Extract<ExplorerNode, { type: 'tables' }>;
export type SectionNode = Extract<ExplorerNode, { type: 'section' }>;

/** Remembered, de-duplicated loads keyed by node id: the explorer's own, so refresh and retry reach them. */
export type SectionLoad = <T>(key: string, load: (signal: AbortSignal) => Promise<T>) => Promise<T>;

/**
 * A folder another feature (webhooks) adds under every connected connection, beside Tables. The section
 * makes its nodes and items; the explorer interns them, loads through its cache and shows failures as
 * error nodes with a retry, so the section gets laziness, de-duplication and refresh for free.
 */
export interface ExplorerSection {
  roots(connection: Connection): SectionNode[];
  children(node: SectionNode, load: SectionLoad): Promise<SectionNode[]>;
  treeItem(node: SectionNode): vscode.TreeItem;
}
