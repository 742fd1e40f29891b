import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/**
 * The HTML shell of the schedule editor (and, with `page`, of the Sweep panel). Content Security Policy: nothing by default; styles, fonts and
 * images only from the extension; scripts only with this page's nonce. The page carries no data:
 * the state arrives by message after the webview's `ready` (hexeditor's handshake), so there is
 * nothing to escape into HTML and a reload re-requests fresh state.
 */
export function scheduleEditorHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  page: { readonly script: string; readonly css: string; readonly title: string; readonly loading: string } = {
    script: 'webview.js',
    css: 'editor.css',
    title: 'BAC schedule',
    loading: 'Loading schedule…',
  },
): string {
  const nonce = randomBytes(16).toString('base64');
  const asset = (...path: string[]): string =>
    webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...path)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    // The nonce lets FAST (under the toolkit) probe :focus-visible with a <style> element; without
    // it the probe fails and toolkit controls lose their keyboard focus ring.
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta property="csp-nonce" content="${nonce}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link href="${asset('media', page.css)}" rel="stylesheet">
  <title>${page.title}</title>
</head>
<body>
  <main id="app" aria-busy="true"><p class="loading">${page.loading}</p></main>
  <script type="module" nonce="${nonce}" src="${asset('dist', page.script)}"></script>
</body>
</html>`;
}
