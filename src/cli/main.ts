import { runCli } from './program';

const io = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
};

runCli(process.argv.slice(2), io).then(
  (code) => {
    // Long-running commands (lsp) keep the event loop alive; the rest end here.
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`dvw: unexpected failure: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
