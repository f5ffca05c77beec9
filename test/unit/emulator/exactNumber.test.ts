import assert from 'node:assert/strict';
import {
  compareDecimals,
  exactJson,
  exactLiteral,
  exactStored,
  finishJson,
  plainDecimal,
  significantDigits,
  storedNumber,
} from '../../../src/emulator/exactNumber';

describe('exact numbers (money, decimals and big integers past a double)', () => {
  it('writes a literal without exponent or redundant zeros', () => {
    assert.equal(plainDecimal('1.50e1'), '15');
    assert.equal(plainDecimal('-0.000'), '0');
    assert.equal(plainDecimal('12345678901234567.8900'), '12345678901234567.89');
    assert.equal(plainDecimal('1.2e-3'), '0.0012');
    assert.equal(plainDecimal('007'), '7');
    assert.equal(plainDecimal('abc'), undefined);
  });

  it('counts significant digits', () => {
    assert.equal(significantDigits('0.00120'), 2);
    assert.equal(significantDigits('92233720368547.5807'), 18);
    assert.equal(significantDigits('0'), 1);
  });

  it('compares decimals digit for digit where doubles cannot tell them apart', () => {
    assert.equal(Number('922337203685477.00001') === 922337203685477, true);
    assert.ok(compareDecimals('922337203685477.00001', '922337203685477') > 0);
    assert.ok(compareDecimals('-922337203685477.00001', '-922337203685477') < 0);
    assert.equal(compareDecimals('1.50', '1.5'), 0);
    assert.ok(compareDecimals('-1', '0.5') < 0);
    assert.ok(compareDecimals('9223372036854775808', '9223372036854775807') > 0);
  });

  it('stores a marked literal, reads it back and as a double', () => {
    const stored = exactStored('92233720368547.58070');
    assert.equal(exactLiteral(stored), '92233720368547.5807');
    assert.equal(exactLiteral('plain text'), undefined);
    assert.equal(exactLiteral(12.5), undefined);
    assert.equal(storedNumber(stored), Number('92233720368547.5807'));
    assert.equal(storedNumber(3), 3);
  });

  it('writes the digits into JSON answers, and only for tokens of this process', () => {
    const text = JSON.stringify({ revenue: exactJson('92233720368547.5807'), name: 'dvwexact00:1' });
    assert.equal(finishJson(text), '{"revenue":92233720368547.5807,"name":"dvwexact00:1"}');
    assert.equal(finishJson('{"a":1}'), '{"a":1}');
  });
});
