// The dashboard as people use it, in a real Chromium: setup, sign-in, a project, a key
// with two permission rows copied from the dialog that shows it once, its whole
// lifecycle checked against the real API, an invited member, and what nobody may do.
// Every main page is checked with axe and photographed at 1280 and 390 px.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allowConsole, checkA11y, copyWith, newBrowser, newPage, screenshot, startKeyward, WIDTHS } from './harness.mjs';

let browser;
before(async () => {
  browser = await newBrowser();
});
after(() => browser?.close());

const OWNER = { email: 'owner@acme.test', password: 'correct horse battery staple', org: 'Acme' };
const MEMBER = { email: 'mia@acme.test', password: 'another long passphrase' };

/** GET /v1/me with `key`: its status. */
async function me(kw, key) {
  const response = await fetch(`${kw.base}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
  return response.status;
}

/** Looks at the page as a person would and as axe does, at the page's width. */
async function look(page, name, t) {
  await checkA11y(page, name, { t });
  await screenshot(page, name);
}

async function setUp(page, kw) {
  await page.goto(kw.setupLink);
  await page.getByLabel('E-mail').fill(OWNER.email);
  await page.getByLabel('Password').fill(OWNER.password);
  await page.getByLabel('Organization').fill(OWNER.org);
  await page.getByRole('button', { name: 'Create owner account' }).click();
  await page.getByRole('heading', { name: 'API Keys', exact: true }).waitFor();
}

async function signIn(page, kw, who) {
  await page.goto(`${kw.base}/sign-in`);
  await page.getByLabel('E-mail').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Opens a key's actions menu on its page and confirms `action` (`Revoke`, ...). */
async function act(page, action, { grace } = {}) {
  await page.getByText('Actions', { exact: true }).first().click();
  await page.getByRole('link', { name: `${action}…` }).click();
  if (grace) await page.getByLabel(grace).check();
  await page.getByRole('button', { name: `${action} key` }).click();
}

test('an owner sets up, signs in, and takes a key through its whole life', async (t) => {
  const kw = await startKeyward({ t });
  const page = await newPage(browser, { t });

  await setUp(page, kw);
  // Signing out and in again: the session is the person's, not the setup's.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to keyward' }).waitFor();
  await look(page, 'sign-in', t);
  await signIn(page, kw, OWNER);
  await page.getByRole('heading', { name: 'API Keys', exact: true }).waitFor();
  await look(page, 'keys-empty', t);

  // A project of our own next to nothing else.
  await page.getByRole('link', { name: 'Projects' }).click();
  await page.getByLabel('New project').fill('Website');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { name: /Website/ }).waitFor();
  await look(page, 'projects', t);

  // A key with two permission rows.
  await page.getByRole('link', { name: 'API Keys' }).click();
  await page.getByRole('link', { name: 'Create API Key' }).first().click();
  await page.getByLabel('Name', { exact: true }).fill('Billing worker');
  await page.locator('#project-0').selectOption('Website');
  await page.locator('#environment-0').selectOption('production');
  await page.locator('#level-0').selectOption('write');
  await page.getByRole('button', { name: 'Add Permission' }).click();
  await page.locator('#project-1').selectOption('*');
  await page.locator('#environment-1').selectOption('*');
  await page.locator('#level-1').selectOption('read');
  await look(page, 'key-new', t);
  await page.getByRole('button', { name: 'Create API Key' }).click();

  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /will not be shown again/);
  await look(page, 'key-created', t);
  const key = await copyWith(page, page.getByRole('button', { name: 'Copy' }), { field: '#new-key' });
  assert.match(key, /^kw_live_[A-Za-z0-9]{16}_[A-Za-z0-9]{49}$/);
  assert.equal(await me(kw, key), 200, 'the copied key works');
  // The dialog is the only time: the key's page never holds the secret.
  await page.getByRole('link', { name: /I have stored it/ }).click();
  await page.getByRole('heading', { name: 'Billing worker' }).waitFor();
  assert.ok(!(await page.content()).includes(key));
  assert.match(await page.locator('.facts').textContent(), /Website:production:write[\s\S]*\*:\*:read/);
  await look(page, 'key-detail', t);

  await act(page, 'Revoke');
  await page.getByRole('status').filter({ hasText: 'The key was revoked' }).waitFor();
  assert.equal(await me(kw, key), 401, 'revoked: refused at once');

  await act(page, 'Reactivate');
  await page.getByRole('status').filter({ hasText: 'reactivated' }).waitFor();
  assert.equal(await me(kw, key), 200, 'reactivated: works again');

  await act(page, 'Rotate', { grace: '1 hour' });
  await page.getByRole('dialog').waitFor();
  const rotated = await page.locator('#new-key').inputValue();
  assert.notEqual(rotated, key);
  assert.equal(await me(kw, rotated), 200, 'the new key works');
  assert.equal(await me(kw, key), 200, 'the old key works through its grace period');

  await page.getByRole('link', { name: /I have stored it/ }).click();
  await act(page, 'Delete');
  await page.getByRole('status').filter({ hasText: 'The key was deleted' }).waitFor();
  assert.equal(await me(kw, rotated), 401, 'deleted: refused');
  await look(page, 'keys', t);

  // A deleted key offers nothing: no reactivation, on the list or on its page.
  await page.getByLabel('Status').selectOption('deleted');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.getByRole('link', { name: 'Billing worker' }).first().waitFor();
  assert.equal(await page.getByText('Reactivate…').count(), 0);
});

test('every main page reads well on a phone and at 1280 px', async (t) => {
  const kw = await startKeyward({ t });
  for (const width of WIDTHS) {
    const page = await newPage(browser, { width, t });
    // The refused form answers 422, which Chromium logs.
    allowConsole(page, /status of 422/);
    if (width === WIDTHS[0]) await setUp(page, kw);
    else await signIn(page, kw, OWNER);
    await page.getByRole('heading', { name: 'API Keys', exact: true }).waitFor();
    for (const [link, heading, name] of [
      ['Projects', 'Projects', 'projects'],
      ['Members', 'Members', 'members'],
      ['Audit log', 'Audit log', 'audit'],
      ['Plan and usage', 'Plan and usage', 'plan'],
      ['API Keys', 'API Keys', 'keys-list'],
    ]) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      await look(page, name, t);
    }
    await page.getByRole('link', { name: 'Create API Key' }).first().click();
    await look(page, 'key-new', t);
    // Refusals are shown next to their field, in words a person can act on.
    await page.getByRole('button', { name: 'Create API Key' }).click();
    await page.getByText('Give the key a name').waitFor();
    await look(page, 'key-new-refused', t);
    await page.getByLabel('Name', { exact: true }).fill(`Phone check ${width}`);
    await page.getByLabel(/Organization access/).selectOption('read');
    await page.getByRole('button', { name: 'Create API Key' }).click();
    await page.getByRole('dialog').waitFor();
    await look(page, 'key-created', t);
    await page.getByRole('link', { name: /I have stored it/ }).click();
    await page.getByRole('heading', { name: `Phone check ${width}` }).waitFor();
    await look(page, 'key-detail', t);
    await page.getByRole('link', { name: 'API Keys', exact: true }).click();
    await look(page, 'keys', t);
    await page.getByRole('link', { name: OWNER.email }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await look(page, 'account', t);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('heading', { name: 'Sign in to keyward' }).waitFor();
    await look(page, 'sign-in', t);
  }
});

test('an invited member joins, signs in, sees keys and cannot create one', async (t) => {
  const kw = await startKeyward({ t });
  const owner = await newPage(browser, { t });
  await setUp(owner, kw);
  await owner.getByRole('link', { name: 'Members' }).click();
  await owner.getByLabel('E-mail').fill(MEMBER.email);
  await owner.getByLabel('Role').last().selectOption('member');
  await owner.getByRole('button', { name: 'Create invitation' }).click();
  const link = await owner.locator('#invite-link').inputValue();
  assert.match(link, /\/invitations\/accept#token=/);

  const member = await newPage(browser, { t });
  // The page a member may not open answers 403, which Chromium logs.
  allowConsole(member, /status of 403/);
  await member.goto(link.replace(/^https?:\/\/[^/]+/, kw.base));
  assert.ok(!member.url().includes('token='), 'the token leaves the address bar');
  await member.getByLabel('Password').fill(MEMBER.password);
  await look(member, 'accept', t);
  await member.getByRole('button', { name: 'Accept invitation' }).click();
  await member.getByRole('heading', { name: 'API Keys', exact: true }).waitFor();

  // Signed in as themselves, they see the keys but are offered no way to change them.
  await member.getByRole('button', { name: 'Sign out' }).click();
  await signIn(member, kw, MEMBER);
  await member.getByRole('heading', { name: 'API Keys', exact: true }).waitFor();
  assert.equal(await member.getByRole('link', { name: 'Create API Key' }).count(), 0);
  const url = new URL(member.url());
  const response = await member.goto(`${kw.base}${url.pathname.replace(/keys$/, 'keys/new')}`);
  assert.equal(response.status(), 403);
  assert.match(await member.textContent('main'), /Only owners and admins/);
});

test('names are text, forms need their token, and wrong passwords are throttled alike', async (t) => {
  const kw = await startKeyward({ t });
  const page = await newPage(browser, { t });
  // The forged post (403) and the refused sign-ins (401, 429) are logged by Chromium.
  allowConsole(page, /status of (401|403|429)/);
  await setUp(page, kw);

  // A key named like a script shows as text and runs nothing.
  await page.getByRole('link', { name: 'Create API Key' }).first().click();
  await page.getByLabel('Name', { exact: true }).fill('<script>alert(1)</script>');
  await page.getByLabel(/Organization access/).selectOption('read');
  let dialogs = 0;
  page.on('dialog', (d) => {
    dialogs += 1;
    d.dismiss();
  });
  await page.getByRole('button', { name: 'Create API Key' }).click();
  await page.getByRole('dialog').waitFor();
  await page.getByRole('link', { name: 'Back to API Keys' }).click();
  await page.getByRole('link', { name: '<script>alert(1)</script>' }).waitFor();
  assert.equal(dialogs, 0, 'no script ran');
  assert.equal(await page.locator('main script').count(), 0);

  // A change posted without the form's CSRF token is refused, and changes nothing.
  const keysPage = page.url();
  const status = await page.evaluate(async (action) => {
    const body = new URLSearchParams({ name: 'forged', kind: 'live', org_access: 'read' });
    const r = await fetch(action, { method: 'POST', body });
    return r.status;
  }, keysPage);
  assert.equal(status, 403);
  await page.reload();
  assert.equal(await page.getByRole('link', { name: 'forged' }).count(), 0);

  // Five wrong passwords: the sixth attempt is refused even when right, with the same
  // words for an account that exists and one that does not.
  await page.getByRole('button', { name: 'Sign out' }).click();
  const messages = {};
  for (const email of [OWNER.email, 'nobody@acme.test']) {
    for (let i = 0; i < 5; i += 1) {
      await signIn(page, kw, { email, password: 'not the right password' });
      await page.getByRole('alert').waitFor();
    }
    await signIn(page, kw, { email, password: email === OWNER.email ? OWNER.password : 'x'.repeat(12) });
    messages[email] = (await page.getByRole('alert').textContent()).replace(/\d+/g, 'N');
  }
  assert.match(messages[OWNER.email], /too many/i);
  assert.equal(messages[OWNER.email], messages['nobody@acme.test']);
});
