import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeSlice } from '../../../../src/odata/url/source';

/** One piece of raw URL text and what it decodes to. */
interface Piece {
  readonly raw: string;
  readonly decoded: string;
}

const plain = fc.constantFrom('a', 'Z', '9', ' ', "'", '(', 'é', '😀', '+').map((c): Piece => ({ raw: c, decoded: c }));
// Any scalar value, percent-encoded as UTF-8 (encodeURIComponent gives every escape, %F0%9F%98%80 included).
const escaped = fc
  .integer({ min: 1, max: 0x10ffff })
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c): Piece => {
    const character = String.fromCodePoint(c);
    return {
      raw: [...new TextEncoder().encode(character)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''),
      decoded: character,
    };
  });
// Malformed escapes stay as written: a lone %, a cut sequence, an overlong form, a surrogate.
const malformed = fc
  .constantFrom('%', '%4', '%zz', '%C3', '%C0%AF', '%ED%A0%80', '%FF')
  .map((raw): Piece => ({ raw, decoded: raw }));

describe('decodeSlice', () => {
  it('decodes UTF-8 escapes, keeps malformed ones as written, and maps each decoded unit to where it came from (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(plain, escaped, malformed), { maxLength: 40 }), (pieces) => {
        // A malformed piece followed by hex digits could read as one escape; a separator keeps pieces apart.
        const parts = pieces.flatMap((p) => [p, { raw: '.', decoded: '.' }]);
        const raw = `x${parts.map((p) => p.raw).join('')}`;
        const source = decodeSlice(raw, 1, raw.length);
        assert.equal(source.text, parts.map((p) => p.decoded).join(''));
        let at = 1;
        let k = 0;
        for (const part of parts) {
          const escapedPiece = part.raw !== part.decoded;
          for (let unit = 0; unit < part.decoded.length; unit++, k++) {
            // An escape maps all its units to its `%`; plain text maps unit by unit.
            assert.equal(source.offsetAt(k), escapedPiece ? at : at + unit);
          }
          at += part.raw.length;
        }
        assert.equal(source.offsetAt(source.text.length), raw.length);
      }),
    );
  });

  it('reads + as a space only when asked', () => {
    assert.equal(decodeSlice('a+b%20c', 0, 7, { plusAsSpace: true }).text, 'a b c');
    assert.equal(decodeSlice('a+b%20c', 0, 7).text, 'a+b c');
  });
});
