// The harness itself: that what it promises to catch, it catches. A tiny local server
// serves pages under a strict Content-Security-Policy (no inline script, no eval), the
// kind the dashboard serves, so these hold whatever keyward's pages look like today.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import {
  assertPageClean,
  checkA11y,
  copyWith,
  newBrowser,
  newPage,
  pageProblems,
} from './harness.mjs';

const STRICT_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const page = (body, title = 'fixture') =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>` +
  `<meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
  `<body><main><h1>${title}</h1>${body}</main></body></html>`;

const FIXTURES = {
  // A button with no accessible name: axe calls that critical.
  '/unnamed-button': { csp: STRICT_CSP, body: page('<button id="mystery"></button>') },
  '/inline-script': {
    csp: STRICT_CSP,
    body: page('<p id="out">untouched</p><script>document.getElementById("out").textContent = "ran"</script>'),
  },
  '/external-image': { body: page('<img src="http://cdn.example.com/pixel.png" alt="">') },
  '/copy': {
    csp: STRICT_CSP,
    body: page(
      '<label for="secret">Your key</label><input id="secret" readonly value="kw_test_copied_value">' +
        '<button id="copy" type="button">Copy</button><script src="/copy.js"></script>',
    ),
  },
  '/copy.js': {
    type: 'text/javascript',
    body: `document.getElementById("copy").addEventListener("click", () =>
      navigator.clipboard.writeText(document.getElementById("secret").value));`,
  },
};

let server;
let base;
let browser;

before(async () => {
  server = createServer((req, res) => {
    const f = FIXTURES[req.url];
    if (!f) return res.writeHead(404).end();
    const headers = { 'content-type': f.type ?? 'text/html; charset=utf-8' };
    if (f.csp) headers['content-security-policy'] = f.csp;
    res.writeHead(200, headers).end(f.body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await newBrowser();
});

after(async () => {
  await browser?.close();
  server?.closeAllConnections();
  server?.close();
});

test('axe runs under a strict CSP and names each serious violation with its target', async (t) => {
  const p = await newPage(browser, { t });
  await p.goto(`${base}/unnamed-button`);
  await assert.rejects(checkA11y(p, 'fixture-unnamed-button'), (err) => {
    assert.match(err.message, /\[critical\] button-name/);
    assert.match(err.message, /#mystery/);
    return true;
  });
  // Injecting axe broke no rule of the page's policy (newPage's check runs at the end).
});

test('a CSP violation fails the page, and the policy is really enforced', async () => {
  const p = await newPage(browser);
  await p.goto(`${base}/inline-script`);
  assert.equal(await p.locator('#out').textContent(), 'untouched', 'the inline script was blocked');
  await p.waitForTimeout(100);
  assert.ok(
    pageProblems(p).some((x) => /Content Security Policy/.test(x)),
    `no CSP problem recorded: ${pageProblems(p)}`,
  );
  assert.throws(() => assertPageClean(p), /Content Security Policy/);
  await p.context().close();
});

test('a request to another host is refused and fails the page', async () => {
  const p = await newPage(browser);
  await p.goto(`${base}/external-image`);
  await p.waitForLoadState('load');
  assert.ok(
    pageProblems(p).some((x) => x.startsWith('external request: GET http://cdn.example.com/pixel.png')),
    `${pageProblems(p)}`,
  );
  await p.context().close();
});

for (const width of [1280, 390]) {
  test(`copyWith reads what a Copy button put on the clipboard (${width}px)`, async (t) => {
    const p = await newPage(browser, { width, t });
    await p.goto(`${base}/copy`);
    assert.equal(await copyWith(p, '#copy'), 'kw_test_copied_value');
    await checkA11y(p, 'fixture-copy', { t });
  });
}
