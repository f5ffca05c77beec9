import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startLanguageServer } from './languageServer';

// The transport (--node-ipc from the extension, --stdio from other editors) comes from argv.
startLanguageServer(createConnection(ProposedFeatures.all));
