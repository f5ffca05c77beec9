import type { CliIo } from './program';

/**
 * Characters a terminal acts on instead of showing: C0 controls but tab and newline (ESC starts colour, cursor
 * and title sequences, CR overwrites a line), DEL, C1 controls (U+009B is a one-byte CSI), the line and
 * paragraph separators, and the bidirectional overrides that reorder what is read ("Trojan Source").
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from records, deliveries and servers made safe to print: each unsafe character becomes its escape
 * (`\x1b`, `\u202e`), so what the terminal shows is what the data holds, and nothing it does.
 */
export function terminalText(text: string): string {
  return text.replace(UNSAFE, (character) => {
    const code = character.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** The same streams, for output a person reads (tables, delivery blocks, diagnostics, messages). */
export function humanIo(io: CliIo): CliIo {
  return { stdout: (text) => io.stdout(terminalText(text)), stderr: (text) => io.stderr(terminalText(text)) };
}
