import * as assert from 'node:assert/strict';
import { humanIo, terminalText } from '../../../src/cli/terminalText';

describe('terminalText: what a person reads in a terminal shows control characters instead of obeying them', () => {
  it('escapes C0 (but tab and newline), DEL, C1, line separators and bidi overrides', () => {
    assert.equal(terminalText('a\u001b[31mb\u0007'), 'a\\x1b[31mb\\x07');
    assert.equal(terminalText('over\rwrite'), 'over\\x0dwrite');
    assert.equal(terminalText('\u007f\u0085\u009b'), '\\x7f\\x85\\x9b');
    assert.equal(terminalText('\u2028\u202e\u2066'), '\\u2028\\u202e\\u2066');
    assert.equal(terminalText('tab\tand\nnewline stay; Zürich, 東京, 🙂'), 'tab\tand\nnewline stay; Zürich, 東京, 🙂');
  });

  it('humanIo escapes both streams', () => {
    const seen: string[] = [];
    const io = humanIo({ stdout: (text) => seen.push(`out ${text}`), stderr: (text) => seen.push(`err ${text}`) });
    io.stdout('\u001b');
    io.stderr('\u009b');
    assert.deepEqual(seen, ['out \\x1b', 'err \\x9b']);
  });
});
