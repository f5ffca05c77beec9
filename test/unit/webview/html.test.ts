import * as assert from 'node:assert/strict';
import { escapeHtml } from '../../../src/webview/pageHtml';
import { renderResultsHtml } from '../../../src/webview/results/html';

const OPTIONS = {
  cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
  nonce: 'q2H7y0dWx+3lF/9aZk1pYw==',
  scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/results.js?a=1&b=2',
  styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/results.css',
};

function csp(html: string): string {
  const match = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(match, 'no CSP meta tag');
  return (match[1] ?? '').replace(/&#39;/g, "'");
}

describe('results page HTML', () => {
  it('has a strict CSP: nothing by default, scripts only by nonce', () => {
    const policy = csp(renderResultsHtml(OPTIONS));
    assert.equal(
      policy,
      "default-src 'none'; script-src 'nonce-q2H7y0dWx+3lF/9aZk1pYw=='; style-src https://file+.vscode-resource.vscode-cdn.net; " +
        'img-src https://file+.vscode-resource.vscode-cdn.net data:; font-src https://file+.vscode-resource.vscode-cdn.net',
    );
    assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval|https:(?!\/\/)/);
  });

  it('loads one script, with the nonce, and no inline script or style', () => {
    const html = renderResultsHtml(OPTIONS);
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    assert.deepEqual(scripts, [
      '<script nonce="q2H7y0dWx+3lF/9aZk1pYw==" src="https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/results.js?a=1&#38;b=2">',
    ]);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
    assert.match(
      html,
      /<link rel="stylesheet" href="https:\/\/file\+\.vscode-resource\.vscode-cdn\.net\/ext\/media\/results\.css">/,
    );
  });

  it('escapes every interpolated value', () => {
    const html = renderResultsHtml({
      ...OPTIONS,
      scriptUri: '"><script>alert(1)</script>',
      styleUri: "x' onload='alert(1)",
    });
    assert.doesNotMatch(html, /<script>alert/);
    assert.doesNotMatch(html, /' onload='/);
    assert.match(html, /src="&#34;&#62;&#60;script&#62;alert\(1\)&#60;\/script&#62;"/);
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  });

  it('refuses a nonce or CSP source that could widen the policy', () => {
    assert.throws(() => renderResultsHtml({ ...OPTIONS, nonce: "abc' 'unsafe-inline" }), /nonce/);
    assert.throws(() => renderResultsHtml({ ...OPTIONS, nonce: 'short' }), /nonce/);
    assert.throws(
      () => renderResultsHtml({ ...OPTIONS, cspSource: "https://x; script-src 'unsafe-inline'" }),
      /CSP source/,
    );
    assert.throws(() => renderResultsHtml({ ...OPTIONS, cspSource: 'https: data:' }), /CSP source/);
    assert.throws(() => renderResultsHtml({ ...OPTIONS, cspSource: '' }), /CSP source/);
    assert.doesNotThrow(() => renderResultsHtml({ ...OPTIONS, cspSource: 'http://127.0.0.1:53211' }));
    // What VS Code for the web and code-server give.
    assert.doesNotThrow(() => renderResultsHtml({ ...OPTIONS, cspSource: "'self' https://*.vscode-cdn.net" }));
    assert.throws(() => renderResultsHtml({ ...OPTIONS, cspSource: "'self' 'unsafe-inline'" }), /CSP source/);
    assert.throws(() => renderResultsHtml({ ...OPTIONS, cspSource: "'self'  https://x" }), /CSP source/);
  });
});
