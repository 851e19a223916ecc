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
  await page.getByLabel('E-mail').fill(OWNER.email);
  await page.getByLabel('Your name').fill(OWNER.name);
  await page.getByLabel('Password').fill(OWNER.password);
  await page.getByLabel('Organization').fill(OWNER.org);
}

for (const width of WIDTHS) {
  test(`the printed setup link creates the owner and the first organization (${width}px)`, async (t) => {
    const kw = await startKeyward({ t });
    assert.match(kw.setupLink ?? '', /^http:\/\/127\.0\.0\.1:\d+\/setup#token=\S+$/, kw.logs());
    const page = await newPage(browser, { width, t });

    await page.goto(kw.setupLink);
    await page.getByRole('button', { name: 'Create owner account' }).waitFor();
    // The one-time token leaves the address bar (and so the history) at once, and
    // the field that holds it is hidden: the script filled it in.
    assert.equal(page.url(), `${kw.base}/setup`);
    assert.ok(await page.getByLabel('Setup token').isHidden());
    await fillSetupForm(page);
    await screenshot(page, 'setup-form');
    await checkA11y(page, 'setup', { t });

    await page.getByRole('button', { name: 'Create owner account' }).click();
    // The new owner is signed in and lands on their organization's keys.
    await page.getByRole('heading', { name: 'API Keys', exact: true }).waitFor();
    assert.match(page.url(), /\/orgs\/org_\w+\/keys$/);

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
  await first.getByRole('heading', { name: 'API Keys', exact: true }).waitFor();

  const again = await newPage(browser, { t });
  // The used link is refused with 403, which Chromium logs.
  allowConsole(again, /status of 403/);
  await again.goto(kw.setupLink);
  await fillSetupForm(again);
  await again.getByRole('button', { name: 'Create owner account' }).click();
  const error = again.getByRole('alert');
  await error.waitFor();
  assert.match(await error.textContent(), /not valid or was already used/);
  await screenshot(again, 'setup-used-link');
});

test('without its link the setup page asks for the token', async (t) => {
  const kw = await startKeyward({ t });
  const page = await newPage(browser, { t });
  await page.goto(`${kw.base}/setup`);
  // Nothing to fill it from: the field is shown, so the token can be pasted.
  await page.getByLabel('Setup token').waitFor();
  assert.ok(await page.getByLabel('Setup token').isVisible());
});
