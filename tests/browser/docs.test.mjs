// The interactive API documentation works with no network: Swagger UI's assets are in
// the binary, and the page renders the server's own OpenAPI document.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newBrowser, newPage, screenshot, startKeyward } from './harness.mjs';

let browser;
before(async () => {
  browser = await newBrowser();
});
after(() => browser?.close());

async function rendersTheDocument(page, base) {
  const spec = page.waitForResponse((r) => new URL(r.url()).pathname === '/openapi.json');
  await page.goto(`${base}/docs/api`);
  assert.equal((await spec).status(), 200);
  const title = page.locator('.swagger-ui .info .title');
  await title.waitFor();
  assert.match(await title.textContent(), /^keyward/);
  // Every operation is listed, once the document has rendered.
  const operations = page.locator('.swagger-ui .opblock');
  await operations.first().waitFor();
  assert.ok((await operations.count()) > 20, `only ${await operations.count()} operations rendered`);
  await page.waitForLoadState('networkidle');
  // newPage's check, when the test ends: no external request, console error or CSP report.
}

test('/docs/api renders the OpenAPI document with no request to another host', async (t) => {
  const kw = await startKeyward({ t });
  const page = await newPage(browser, { t });
  await rendersTheDocument(page, kw.base);
  await screenshot(page, 'docs-api');
});

// Swagger UI skips its online validator badge on localhost and 127.0.0.1 only; under any
// other host name it would load https://validator.swagger.io/validator?url=<this
// server's openapi.json>, which fails offline and tells swagger.io where the server is.
// The server configures it with validatorUrl "none" (crates/keyward-server/src/routes/docs.rs).
test(
  '/docs/api under a non-loopback host name makes no request to another host',
  async (t) => {
    const kw = await startKeyward({ t });
    const page = await newPage(browser, { t });
    await rendersTheDocument(page, kw.aliasBase);
  },
);
