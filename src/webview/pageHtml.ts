// The HTML of every webview page. The host fills in its webview's values; nothing else goes into the
// markup, and the page builds everything else with textContent.

export interface PageHtmlOptions {
  /** `webview.cspSource`. */
  readonly cspSource: string;
  /** From the host's CSPRNG, fresh for every page load. */
  readonly nonce: string;
  /** `webview.asWebviewUri` of dist/webview/<page>.js. */
  readonly scriptUri: string;
  /** `webview.asWebviewUri` of media/<page>.css. */
  readonly styleUri: string;
}

interface PageDescription {
  readonly title: string;
  /** The class of the page's root element. */
  readonly rootClass: string;
  /** Pages that show images (icons in cells) allow them from the webview's own source and data: URLs. */
  readonly images: boolean;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// HTML escaping does not stop a value from ending a CSP directive or starting a new source, so the
// values that go into the policy are refused unless they are what VS Code gives.
const NONCE = /^[A-Za-z0-9+/_-]{16,}={0,2}$/;
const HOST_SOURCE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[A-Za-z0-9.*+:_%-]+(\/[A-Za-z0-9._~%/+-]*)?$/;

/**
 * Desktop VS Code gives one host source; VS Code for the web and code-server give `'self'` and a host
 * source. Each space-separated part must be one of those two; nothing else gets into the policy.
 */
function isCspSource(value: string): boolean {
  const parts = value.split(' ');
  return parts.length > 0 && parts.every((part) => part === "'self'" || HOST_SOURCE.test(part));
}

/** A page with a strict CSP: no inline script, scripts only with the nonce, styles only from the extension. */
export function renderPageHtml(page: PageDescription, options: PageHtmlOptions): string {
  const { cspSource, nonce, scriptUri, styleUri } = options;
  if (!NONCE.test(nonce)) throw new Error('renderPageHtml: the nonce must be 16 or more base64 characters');
  if (!isCspSource(cspSource)) throw new Error(`renderPageHtml: not a CSP source: ${JSON.stringify(cspSource)}`);
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    ...(page.images ? [`img-src ${cspSource} data:`] : []),
    `font-src ${cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(styleUri)}">
<title>${escapeHtml(page.title)}</title>
</head>
<body>
<main id="app" class="${escapeHtml(page.rootClass)}" aria-busy="true"></main>
<script nonce="${escapeHtml(nonce)}" src="${escapeHtml(scriptUri)}"></script>
</body>
</html>
`;
}
