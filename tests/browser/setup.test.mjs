// First run in a browser: the link `keyward serve` prints opens the setup page, which
// creates the owner account and the first organization, works offline, and works once.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  allowConsole,
  checkA11y,
  newBrowser,
  newPage,
  screenshot,
  startKeyward,
  WIDTHS,
} from './harness.mjs';

let browser;
before(async () => {
  browser = await newBrowser();
});
after(() => browser?.close());

const OWNER = {
  email: 'owner@example.com',
  name: 'Ada Owner',
  password: 'correct horse battery staple',
  org: 'Acme',
};

async function fillSetupForm(page) {
  await page.getByLabel('Email').fill(OWNER.email);
  await page.getByLabel('Your name').fill(OWNER.name);
  await page.getByLabel('Password (at least 12 characters)').fill(OWNER.password);
  await page.getByLabel('Organization').fill(OWNER.org);
}

for (const width of WIDTHS) {
  test(`the printed setup link creates the owner and the first organization (${width}px)`, async (t) => {
    const kw = await startKeyward({ t });
    assert.match(kw.setupLink ?? '', /^http:\/\/127\.0\.0\.1:\d+\/setup#token=\S+$/, kw.logs());
    const page = await newPage(browser, { width, t });

    await page.goto(kw.setupLink);
    await page.getByRole('button', { name: 'Create owner account' }).waitFor();
    // The one-time token leaves the address bar (and so the history) at once.
    assert.equal(page.url(), `${kw.base}/setup`);
    await fillSetupForm(page);
    await screenshot(page, 'setup-form');

    await page.getByRole('button', { name: 'Create owner account' }).click();
    const done = page.locator('#done');
    await done.waitFor();
    assert.match(await done.textContent(), /Done\.[\s\S]*the organization Acme exist/);
    await screenshot(page, 'setup-done');

    // The server agrees: the owner exists and owns Acme.
    const users = await kw.cliJson(['users', 'list']);
    assert.deepEqual(users.map((u) => u.email), [OWNER.email]);
    const members = await kw.cliJson(['members', 'list', '--org', OWNER.org]);
    assert.deepEqual(
      members.map((m) => [m.email, m.role]),
      [[OWNER.email, 'owner']],
    );
  });
}

test('a used setup link says so in the page', async (t) => {
  const kw = await startKeyward({ t });
  const first = await newPage(browser, { t });
  await first.goto(kw.setupLink);
  await fillSetupForm(first);
  await first.getByRole('button', { name: 'Create owner account' }).click();
  await first.locator('#done').waitFor();

  const again = await newPage(browser, { t });
  // The page's fetch is refused (403), which Chromium logs as a console error.
  allowConsole(again, /status of 403/);
  await again.goto(kw.setupLink);
  await fillSetupForm(again);
  await again.getByRole('button', { name: 'Create owner account' }).click();
  const error = again.getByRole('alert').filter({ hasText: /\S/ });
  await error.waitFor();
  assert.match(await error.textContent(), /not valid or was already used/);
  assert.ok(await again.locator('#done').isHidden(), 'the second use does not claim success');
  await screenshot(again, 'setup-used-link');
});

test('the setup page without its token explains what is missing', async (t) => {
  const kw = await startKeyward({ t });
  const page = await newPage(browser, { t });
  await page.goto(`${kw.base}/setup`);
  await page.getByText('This page needs the setup link').waitFor();
  assert.ok(await page.locator('#setup').isHidden());
});

test('the setup page has no serious or critical accessibility violations', async (t) => {
  const kw = await startKeyward({ t });
  for (const width of WIDTHS) {
    const page = await newPage(browser, { width, t });
    await page.goto(kw.setupLink);
    await page.locator('#setup').waitFor();
    await checkA11y(page, 'setup', { t });
  }
});
