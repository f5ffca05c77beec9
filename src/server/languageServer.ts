import { readFile } from 'node:fs/promises';
import type {
  CodeAction,
  CodeLens,
  CompletionItem,
  CompletionList,
  Connection,
  Diagnostic,
  DocumentSymbol,
  Hover,
  InitializeParams,
  InitializeResult,
  TextEdit,
} from 'vscode-languageserver';
import {
  CodeActionKind,
  CompletionItemKind,
  DiagnosticSeverity,
  MarkupKind,
  SymbolKind,
  TextDocuments,
  TextDocumentSyncKind,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parseCsdl } from '../metadata/csdl';
import { MetadataIndex } from '../metadata/lookup';
import { readMetadataCacheFile } from '../dataverse/metadataCache';
import { parseDocument, reparseDocument } from '../odata/document/parser';
import type { ODataDocument } from '../odata/document/syntax';
import type {
  CompletionItem as LanguageCompletionItem,
  CompletionKind,
  LanguageDiagnostic,
  QuickFix,
  TextSpan,
} from '../odata/language/types';
import {
  codeLenses,
  documentDiagnostics,
  documentSymbols,
  formatDocument,
  getCompletions,
  getHover,
  mayMatch,
} from '../odata/language/index';
import type { SetMetadataParams } from '../odata/language/protocol';
import { CODELENS_COMMANDS, SET_METADATA_NOTIFICATION } from '../odata/language/protocol';
import { isJsonObject } from '../core/json';

/**
 * Trigger characters, each for a place where a list is what the user wants next:
 * `?` `&` start a query option; `=` starts its value; `,` the next column; `(` nested `$expand`
 * options and function arguments; `;` the next nested option; `/` a navigation path segment;
 * `{` the second brace of `{{` opens variables; `.` a `{{label.` property or `Microsoft.Dynamics.CRM.`;
 * `"` a JSON property name; `:` a header value; space the operator after a column and the value
 * after `eq` (the services answer nothing elsewhere, so a space never pops up a stray list).
 */
export const TRIGGER_CHARACTERS = ['?', '&', '=', ',', '(', ';', '/', '{', '.', '"', ':', ' '];

const COMPLETION_KINDS: Record<CompletionKind, CompletionItemKind> = {
  method: CompletionItemKind.Keyword,
  entitySet: CompletionItemKind.Class,
  operation: CompletionItemKind.Function,
  option: CompletionItemKind.Property,
  property: CompletionItemKind.Field,
  navigation: CompletionItemKind.Reference,
  lookup: CompletionItemKind.Field,
  operator: CompletionItemKind.Operator,
  function: CompletionItemKind.Function,
  queryFunction: CompletionItemKind.Function,
  keyword: CompletionItemKind.Keyword,
  value: CompletionItemKind.EnumMember,
  header: CompletionItemKind.Property,
  headerValue: CompletionItemKind.Value,
  variable: CompletionItemKind.Variable,
};

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

/** Reads and indexes metadata: a serialized cache when given, else a CSDL document. */
export async function loadMetadata(params: SetMetadataParams): Promise<MetadataIndex> {
  if (params.cachePath) {
    const cached = await readMetadataCacheFile(params.cachePath);
    if (!cached) throw new Error(`${params.cachePath} is not a readable metadata cache`);
    return new MetadataIndex(cached.model);
  }
  if (params.metadataPath) return new MetadataIndex(parseCsdl(await readFile(params.metadataPath, 'utf8')).model);
  throw new Error('neither metadataPath nor cachePath was given');
}

/**
 * Wires the pure `.odata` services to an LSP connection. The same function serves the extension
 * (dist/server.js over IPC) and other editors (`dvw lsp` over stdio).
 */
export function startLanguageServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const parsed = new Map<string, { version: number; document: ODataDocument }>();
  let metadata: MetadataIndex | undefined;
  let environmentVariables: string[] | undefined;
  let loadGeneration = 0;
  /** The metadata load in flight, if any: completion waits for it briefly. */
  let loading: Promise<void> | undefined;
  let defaultEditRange = false;
  /** The client asks for detail and documentation of the item it shows (`completionItem/resolve`). */
  let resolveLazily = false;
  /**
   * The LSP form of each item list the services return. Column lists of a table come back as the
   * same array every time (built once per loaded model), so each is mapped once; keys are weak,
   * so a list of a replaced model goes with it.
   */
  const lspItems = new WeakMap<readonly LanguageCompletionItem[], CompletionItem[]>();
  /** The lists recently sent without details, by the id their items carry back to resolve. */
  const sentLists = new RecentLists<readonly LanguageCompletionItem[]>(RESOLVABLE_LISTS);

  const parse = (document: TextDocument): ODataDocument => {
    const cached = parsed.get(document.uri);
    if (cached && cached.version === document.version) return cached.document;
    // An edit re-parses only the blocks it touched; the rest of the last parse is reused.
    const result = cached ? reparseDocument(cached.document, document.getText()) : parseDocument(document.getText());
    parsed.set(document.uri, { version: document.version, document: result });
    return result;
  };
  const options = () => ({ metadata, environmentVariables });

  const validate = (document: TextDocument): void => {
    const diagnostics = documentDiagnostics(parse(document), options()).map((d) => toDiagnostic(document, d));
    void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics });
  };

  /**
   * Loading a large `$metadata` takes a while: requests never wait for it, they answer with what
   * is loaded (syntax only at first), and documents are checked again once it is there. A newer
   * load wins over an older one still in flight.
   */
  const setMetadata = (params: SetMetadataParams): void => {
    const generation = ++loadGeneration;
    if (!params.metadataPath && !params.cachePath) {
      metadata = undefined;
      loading = undefined;
      documents.all().forEach(validate);
      return;
    }
    const load = loadMetadata(params).then(
      (index) => {
        if (generation !== loadGeneration) return;
        metadata = index;
        documents.all().forEach(validate);
      },
      (error: unknown) => {
        if (generation !== loadGeneration) return;
        connection.console.error(`Could not load metadata: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
    loading = load;
    void load.finally(() => {
      if (loading === load) loading = undefined;
    });
  };

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const init = isJsonObject(params.initializationOptions) ? params.initializationOptions : {};
    const completion = params.capabilities.textDocument?.completion;
    const itemDefaults = completion?.completionList?.itemDefaults ?? [];
    const resolvable = completion?.completionItem?.resolveSupport?.properties ?? [];
    defaultEditRange = itemDefaults.includes('editRange');
    resolveLazily =
      defaultEditRange &&
      itemDefaults.includes('data') &&
      resolvable.includes('detail') &&
      resolvable.includes('documentation');
    environmentVariables = stringList(init['environmentVariables']);
    const metadataPath = optionalString(init['metadataPath']);
    const cachePath = optionalString(init['cachePath']);
    if (metadataPath || cachePath) setMetadata({ metadataPath, cachePath });
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: TRIGGER_CHARACTERS, resolveProvider: resolveLazily },
        hoverProvider: true,
        documentSymbolProvider: true,
        documentFormattingProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        codeLensProvider: { resolveProvider: false },
      },
      serverInfo: { name: 'Dataverse Workbench .odata language server' },
    };
  });

  connection.onNotification(SET_METADATA_NOTIFICATION, (params: unknown) => {
    if (!isJsonObject(params)) return;
    // The variables travel with the metadata: both belong to the active environment.
    const variables = stringList(params['environmentVariables']);
    if (variables) environmentVariables = variables;
    setMetadata({
      metadataPath: optionalString(params['metadataPath']),
      cachePath: optionalString(params['cachePath']),
    });
  });

  connection.onCompletion(async (params): Promise<CompletionList | CompletionItem[]> => {
    // A user who types right after opening a file (or while a real org's $metadata downloads) would
    // get a complete list without tables or columns, and VS Code would not ask again: wait briefly
    // for the load in flight, and past that say so and mark the list incomplete, so the next
    // keystroke asks again.
    if (loading) await settledWithin(loading, METADATA_WAIT_MS);
    const stillLoading = loading !== undefined;
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    const offset = document.offsetAt(params.position);
    const text = document.getText();
    const found = getCompletions(parse(document), text, offset, options());
    if (!found && !stillLoading) return [];
    const result = found ?? { span: { start: offset, end: offset }, items: [] };
    const range = toRange(document, result.span);
    const typed = text.slice(result.span.start, offset);
    if (stillLoading) {
      const items: CompletionItem[] = result.items.map((item) => ({
        label: item.label,
        kind: COMPLETION_KINDS[item.kind],
        detail: item.detail,
        documentation: item.documentation,
        sortText: item.sortText,
        textEdit: { range, newText: item.insertText ?? item.label },
      }));
      // Shown whatever was typed (its filter text is the typed word) and inserting nothing new.
      items.push({
        label: 'Loading metadata…',
        kind: CompletionItemKind.Text,
        detail: "Tables and columns are offered once the environment's metadata has loaded",
        filterText: typed,
        sortText: '~',
        textEdit: { range, newText: typed },
      });
      return { isIncomplete: true, items };
    }
    // A list can hold a thousand tables or four hundred columns, and sending it is most of the
    // latency. Only the items the client could show for the word typed so far are sent (the list
    // stays complete for further typing); the range goes once as the list's default where the
    // client takes one; filterText is left to default to the label; and detail and documentation
    // wait for the client to show an item (resolve) where it asks that way.
    const keep = (item: LanguageCompletionItem): boolean => typed.length === 0 || mayMatch(typed, item.label);
    if (defaultEditRange) {
      let items = lspItems.get(result.items);
      if (!items) {
        items = result.items.map((item) => ({
          label: item.label,
          kind: COMPLETION_KINDS[item.kind],
          detail: resolveLazily ? undefined : item.detail,
          documentation: resolveLazily ? undefined : item.documentation,
          sortText: item.sortText,
          textEditText: item.insertText,
        }));
        lspItems.set(result.items, items);
      }
      let sent = items;
      if (typed.length > 0) {
        sent = [];
        for (let i = 0; i < items.length; i++) if (keep(result.items[i]!)) sent.push(items[i]!);
      }
      const itemDefaults = resolveLazily
        ? { editRange: range, data: sentLists.add(result.items) }
        : { editRange: range };
      return { isIncomplete: false, itemDefaults, items: sent };
    }
    return result.items.filter(keep).map((item) => ({
      label: item.label,
      kind: COMPLETION_KINDS[item.kind],
      detail: item.detail,
      documentation: item.documentation,
      sortText: item.sortText,
      textEdit: { range, newText: item.insertText ?? item.label },
    }));
  });

  connection.onCompletionResolve((item): CompletionItem => {
    // The item comes back from the client: anything but a list id we sent is left as it is.
    const list = typeof item.data === 'number' ? sentLists.get(item.data) : undefined;
    const source = list?.find((i) => i.label === item.label && COMPLETION_KINDS[i.kind] === item.kind);
    if (!source) return item;
    return { ...item, detail: source.detail, documentation: source.documentation };
  });

  connection.onHover((params): Hover | null => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return null;
    const hover = getHover(parse(document), document.offsetAt(params.position), options());
    if (!hover) return null;
    return { contents: { kind: MarkupKind.Markdown, value: hover.markdown }, range: toRange(document, hover.span) };
  });

  connection.onDocumentSymbol((params): DocumentSymbol[] => {
    const document = documents.get(params.textDocument.uri);
    return document ? symbolsOf(document, parse(document)) : [];
  });

  connection.onDocumentFormatting((params): TextEdit[] => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    return formatDocument(parse(document), document.getText()).map((edit) => ({
      range: toRange(document, edit.span),
      newText: edit.newText,
    }));
  });

  connection.onCodeLens((params): CodeLens[] => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    return codeLenses(parse(document)).map((lens) => {
      const command =
        lens.kind === 'runAll'
          ? CODELENS_COMMANDS.runAll
          : lens.kind === 'getChanges'
            ? CODELENS_COMMANDS.getChanges
            : CODELENS_COMMANDS.runBlock;
      const args: unknown[] =
        lens.blockIndex === undefined ? [{ uri: document.uri }] : [{ uri: document.uri, blockIndex: lens.blockIndex }];
      return { range: toRange(document, lens.span), command: { title: lens.title, command, arguments: args } };
    });
  });

  connection.onCodeAction((params): CodeAction[] => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    const actions: CodeAction[] = [];
    for (const diagnostic of params.context.diagnostics) {
      const fixes = fixesOf(diagnostic.data);
      for (const [i, fix] of fixes.entries()) {
        actions.push({
          title: fix.title,
          kind: CodeActionKind.QuickFix,
          diagnostics: [diagnostic],
          isPreferred: i === 0,
          edit: {
            changes: {
              [document.uri]: fix.edits.map((edit) => ({ range: toRange(document, edit.span), newText: edit.newText })),
            },
          },
        });
      }
    }
    return actions;
  });

  documents.onDidChangeContent((event) => validate(event.document));
  documents.onDidClose((event) => {
    parsed.delete(event.document.uri);
    void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
  });

  documents.listen(connection);
  connection.listen();
}

/** How long a completion waits for metadata being loaded before answering without it. */
const METADATA_WAIT_MS = 1500;

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

/** How many lists sent without details can still be resolved: the client shows only the newest. */
const RESOLVABLE_LISTS = 8;

/** The last few values added, each under a number; a value added again moves to the front. */
class RecentLists<T extends object> {
  private readonly ids = new WeakMap<T, number>();
  private readonly byId = new Map<number, T>();
  private nextId = 1;

  constructor(private readonly capacity: number) {}

  add(value: T): number {
    const known = this.ids.get(value);
    if (known !== undefined && this.byId.delete(known)) {
      this.byId.set(known, value);
      return known;
    }
    const id = this.nextId++;
    this.ids.set(value, id);
    this.byId.set(id, value);
    for (const oldest of this.byId.keys()) {
      if (this.byId.size <= this.capacity) break;
      this.byId.delete(oldest);
    }
    return id;
  }

  get(id: number): T | undefined {
    return this.byId.get(id);
  }
}

function toRange(document: TextDocument, span: TextSpan) {
  return { start: document.positionAt(span.start), end: document.positionAt(span.end) };
}

function toDiagnostic(document: TextDocument, diagnostic: LanguageDiagnostic): Diagnostic {
  return {
    range: toRange(document, diagnostic.span),
    severity:
      diagnostic.severity === 'error'
        ? DiagnosticSeverity.Error
        : diagnostic.severity === 'warning'
          ? DiagnosticSeverity.Warning
          : DiagnosticSeverity.Information,
    code: diagnostic.code,
    source: 'odata',
    message: diagnostic.message,
    // The quick fixes travel with the diagnostic, so code actions need no second analysis.
    data: diagnostic.fixes.length > 0 ? { fixes: diagnostic.fixes } : undefined,
  };
}

/** The fixes a diagnostic carries back from the client, checked: the client may hand anything back. */
function fixesOf(data: unknown): QuickFix[] {
  if (!isJsonObject(data) || !Array.isArray(data['fixes'])) return [];
  const fixes: QuickFix[] = [];
  for (const fix of data['fixes'] as unknown[]) {
    if (!isJsonObject(fix) || typeof fix['title'] !== 'string' || !Array.isArray(fix['edits'])) continue;
    const edits = (fix['edits'] as unknown[]).filter(
      (e): e is { span: TextSpan; newText: string } =>
        isJsonObject(e) &&
        typeof e['newText'] === 'string' &&
        isJsonObject(e['span']) &&
        typeof e['span']['start'] === 'number' &&
        typeof e['span']['end'] === 'number',
    );
    fixes.push({ title: fix['title'], edits });
  }
  return fixes;
}

/** One symbol per request block, named by its title or, when untitled, by its request line. */
export function symbolsOf(
  document: TextDocument,
  parsed: ODataDocument = parseDocument(document.getText()),
): DocumentSymbol[] {
  return documentSymbols(parsed).map((symbol) => ({
    name: symbol.name,
    detail: symbol.detail,
    kind: SymbolKind.Method,
    range: toRange(document, symbol.span),
    selectionRange: toRange(document, symbol.selectionSpan),
  }));
}
