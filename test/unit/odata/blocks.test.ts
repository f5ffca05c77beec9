import * as assert from 'node:assert/strict';
import { splitBlocks } from '../../../src/odata/blocks';

describe('splitBlocks', () => {
  it('splits on ### lines, keeping titles, spans and request lines', () => {
    const text =
      '@top = 10\n\n### First\nGET accounts?$top={{top}}\n\n### Second\n# @name created\nPOST accounts\n\n{ "name": "x" }\n';
    const blocks = splitBlocks(text);
    assert.deepEqual(
      blocks.map((b) => [b.title, b.request?.method, b.request?.url]),
      [
        ['', undefined, undefined],
        ['First', 'GET', 'accounts?$top={{top}}'],
        ['Second', 'POST', 'accounts'],
      ],
    );
    const [preamble, first, second] = blocks;
    assert.equal(preamble?.span.start, 0);
    assert.equal(first?.span.start, text.indexOf('### First'));
    assert.equal(first?.span.end, second?.span.start);
    assert.equal(second?.span.end, text.length);
    const request = first?.request;
    assert.equal(text.slice(request?.span.start, request?.span.end), 'GET accounts?$top={{top}}');
  });

  it('treats a bare URL line as GET, and FETCH as its own method', () => {
    const blocks = splitBlocks(
      '### a\n  accounts?$select=name\n### b\nhttps://org.crm.dynamics.com/api/data/v9.2/WhoAmI\n### c\nfetch accounts\n<fetch/>',
    );
    assert.deepEqual(
      blocks.map((b) => [b.request?.method, b.request?.impliedMethod, b.request?.url]),
      [
        ['GET', true, 'accounts?$select=name'],
        ['GET', true, 'https://org.crm.dynamics.com/api/data/v9.2/WhoAmI'],
        ['FETCH', false, 'accounts'],
      ],
    );
  });

  it('leaves the request undefined when the first line is not a request', () => {
    const blocks = splitBlocks(
      '### headers first\nPrefer: return=representation\nGET accounts\n### only comments\n// nothing\n',
    );
    assert.equal(blocks[0]?.request, undefined);
    assert.equal(blocks[1]?.request, undefined);
  });

  it('handles CRLF line ends, an empty document and a document without ###', () => {
    assert.deepEqual(splitBlocks(''), []);
    const crlf = splitBlocks('### t\r\nGET accounts\r\n');
    assert.equal(crlf[0]?.request?.url, 'accounts');
    assert.equal(crlf[0]?.title, 't');
    const single = splitBlocks('GET WhoAmI\n');
    assert.equal(single.length, 1);
    assert.equal(single[0]?.request?.url, 'WhoAmI');
  });
});
