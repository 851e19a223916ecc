// The browser-test harness: a real `keyward serve` on a free loopback port with a fresh
// data directory, the CLI on the same data, and a headless Chromium whose pages fail the
// test on any console error, Content-Security-Policy violation, uncaught exception,
// server error or request to another host. The pages are tested as served: the
// browser context never bypasses their CSP, and axe-core is injected through the
// DevTools protocol, which a page's CSP does not govern.
//
// scripts/browser.sh builds keyward, sets KEYWARD_BIN and runs these tests; they also
// run alone (`cd tests/browser && node --test`) once the debug binary is built.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The cargo target directory: CARGO_TARGET_DIR (relative to the repository), or ./target. */
export const TARGET_DIR = (() => {
  const dir = process.env.CARGO_TARGET_DIR;
  if (!dir) return join(REPO, 'target');
  return isAbsolute(dir) ? dir : join(REPO, dir);
})();

/** Screenshots go here, as `<name>-<width>.png`. */
export const SCREENSHOT_DIR =
  process.env.KEYWARD_SCREENSHOT_DIR || join(TARGET_DIR, 'browser', 'screenshots');

/** The two viewports every page is checked at: a laptop and a phone. */
export const VIEWPORTS = { 1280: { width: 1280, height: 800 }, 390: { width: 390, height: 844 } };
export const WIDTHS = [1280, 390];

const KEYWARD_BIN = process.env.KEYWARD_BIN || join(TARGET_DIR, 'debug', 'keyward');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/**
 * A host name that is not loopback but that the harness's Chromium resolves to
 * 127.0.0.1: the server as a deployment is seen. Some software behaves differently on
 * localhost (Swagger UI calls an online validator everywhere else); such pages should be
 * visited at `aliasBase` too. It is not a secure context (no clipboard API there).
 */
/** Origins of servers that tests have stopped on purpose. */
const stoppedOrigins = new Set();

export const ALIAS_HOST = 'keyward.test';
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', ALIAS_HOST]);

// ---------------------------------------------------------------------------------------
// keyward serve

const running = new Set();

// Whatever ends this process, no server outlives it and no data directory is left.
function killAll() {
  for (const server of running) {
    try {
      server.child.kill('SIGKILL');
    } catch {}
    rmSync(server.dir, { recursive: true, force: true });
  }
  running.clear();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The caller's environment without any KEYWARD_* setting, so that a developer's
// configuration cannot leak into a test.
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('KEYWARD_')) env[k] = v;
  }
  return env;
}

function run(bin, args, { env, input } = {}) {
  return new Promise((ok, fail) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.once('error', fail);
    child.once('close', (code, signal) => ok({ code, signal, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/**
 * Starts `keyward serve` on a free loopback port with a fresh data directory and pepper.
 *
 * options:
 *   config: TOML text for a config file (KEYWARD_CONFIG; the CLI reads it too)
 *   env:    more environment variables for the server and the CLI
 *   t:      a node:test context: the server is stopped when that test ends
 *
 * Returns { base, aliasBase, setupLink, dataDir, stop(), logs(), cli(args), cliJson(args) }:
 *   base:      'http://127.0.0.1:PORT'
 *   aliasBase: 'http://keyward.test:PORT', the same server under a non-loopback name
 *   setupLink: the first-run link the server printed (base + '/setup#token=…'), or null
 *   stop():    SIGTERM (SIGKILL after 10 s), then removes the data; safe to call twice
 *   logs():    everything the server printed so far, stdout and stderr interleaved
 *   cli(args, {input}): runs `keyward ...args` on the same data; resolves to its stdout
 *              without the final newline; rejects with its stderr if it fails
 *   cliJson(args): cli(['--json', ...args]) parsed
 */
export async function startKeyward({ config, env: extraEnv = {}, t } = {}) {
  if (!existsSync(KEYWARD_BIN)) {
    throw new Error(
      `no keyward binary at ${KEYWARD_BIN}: run scripts/browser.sh, or cargo build -p keyward (KEYWARD_BIN overrides)`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'keyward-browser-'));
  const dataDir = join(dir, 'data');
  const env = {
    ...cleanEnv(),
    KEYWARD_DATA_DIR: dataDir,
    KEYWARD_PEPPER: `1:${randomBytes(32).toString('base64url')}`,
    KEYWARD_LOG: 'info',
    ...extraEnv,
  };
  if (config !== undefined) {
    writeFileSync(join(dir, 'keyward.toml'), config);
    env.KEYWARD_CONFIG = join(dir, 'keyward.toml');
  }

  let output = '';
  let server;
  // A port picked this way can be taken before keyward binds it: try a few.
  for (let attempt = 0; attempt < 3 && !server; attempt++) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    output = '';
    const child = spawn(KEYWARD_BIN, ['serve', '--listen', `127.0.0.1:${port}`], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const entry = { child, dir };
    running.add(entry);
    let exited = null;
    child.once('exit', (code, signal) => (exited = { code, signal }));
    child.stdout.setEncoding('utf8').on('data', (d) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (output += d));

    const deadline = Date.now() + 20_000;
    let ready = false;
    while (!ready && !exited && Date.now() < deadline) {
      try {
        ready = (await fetch(`${base}/readyz`)).ok;
      } catch {}
      if (!ready) await sleep(50);
    }
    if (ready) {
      server = { base, child, entry, exitedRef: () => exited };
    } else {
      child.kill('SIGKILL');
      running.delete(entry);
      if (!exited && Date.now() >= deadline) break;
      if (!/cannot listen/.test(output)) break;
    }
  }
  if (!server) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`keyward serve did not become ready:\n${output}`);
  }

  // The link is printed before the server answers; give the pipe a moment to deliver it.
  const linkPattern = /first-run setup \(works once\): (\S+)/;
  for (let i = 0; i < 40 && !linkPattern.test(output); i++) await sleep(25);
  const setupLink = output.match(linkPattern)?.[1] ?? null;

  let stopped = null;
  const stop = () => {
    stopped ??= (async () => {
      // Pages still open may load a last resource (a favicon) from it: not a fault.
      stoppedOrigins.add(server.base);
      const { child, entry } = server;
      if (server.exitedRef() === null) {
        const exit = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(timer);
      }
      running.delete(entry);
      rmSync(dir, { recursive: true, force: true });
      return server.exitedRef();
    })();
    return stopped;
  };
  if (t) t.after(stop);

  const cli = async (args, { input } = {}) => {
    const r = await run(KEYWARD_BIN, args, { env, input });
    if (r.code !== 0) {
      throw new Error(`keyward ${args.join(' ')} exited with ${r.code ?? r.signal}:\n${r.stderr}${r.stdout}`);
    }
    return r.stdout.replace(/\n$/, '');
  };

  return {
    base: server.base,
    aliasBase: server.base.replace('127.0.0.1', ALIAS_HOST),
    setupLink,
    dataDir,
    stop,
    logs: () => output,
    cli,
    cliJson: async (args, opts) => JSON.parse(await cli(['--json', ...args], opts)),
  };
}

// ---------------------------------------------------------------------------------------
// Chromium

/**
 * Launches headless Chromium (CHROMIUM_PATH, default /usr/bin/chromium) with nothing that
 * reaches the internet: no background networking, component updates or first-run
 * checks, and every host name resolving to nothing but localhost and ALIAS_HOST (to
 * 127.0.0.1).
 * Options: { t }: closed when that test (or suite) ends.
 */
export async function newBrowser({ t } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false, // Playwright then passes --no-sandbox, which root needs
    args: [
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-gpu',
      `--host-resolver-rules=MAP ${ALIAS_HOST} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1`,
    ],
  });
  if (t) t.after(() => browser.close());
  return browser;
}

// What went wrong on each page: console errors, CSP reports, uncaught exceptions,
// answers >= 500, requests to other hosts.
const pageState = new WeakMap();

function state(page) {
  const s = pageState.get(page);
  if (!s) throw new Error('this page was not made by newPage()');
  return s;
}

function record(page, problem) {
  const s = state(page);
  if (s.allowed.some((re) => re.test(problem))) return;
  s.problems.push(problem);
}

/**
 * A page in a fresh browser context at one of VIEWPORTS (width 1280 or 390; the phone
 * width emulates a touch screen and honours the meta viewport). The context keeps the
 * pages' Content-Security-Policy (no bypassCSP), may read and write the clipboard, and
 * blocks service workers, so that every request passes through the harness.
 *
 * Every console error, every console message about a Content Security Policy (report-only
 * included), every uncaught exception and every answer with status >= 500 is recorded;
 * requests to other hosts are refused and recorded (assertNoExternalRequests).
 * assertPageClean(page) throws if anything was; with { t } it runs when the test ends.
 *
 * options: { width = 1280, t, allowConsole: [RegExp] (problems to ignore) }
 */
export async function newPage(browser, { width = 1280, t, allowConsole = [] } = {}) {
  const viewport = VIEWPORTS[width];
  if (!viewport) throw new Error(`width must be one of ${WIDTHS.join(', ')}`);
  const phone = width < 600;
  const context = await browser.newContext({
    viewport,
    isMobile: phone,
    hasTouch: phone,
    deviceScaleFactor: 1,
    bypassCSP: false,
    serviceWorkers: 'block',
    locale: 'en-US',
    timezoneId: 'UTC',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  pageState.set(page, { problems: [], allowed: [...allowConsole], routed: false, width });

  page.on('console', (msg) => {
    const text = msg.text();
    const where = msg.location()?.url ? ` (${msg.location().url})` : '';
    // A request the harness refused is already recorded as an external request.
    if (msg.type() === 'error' && text.includes('net::ERR_BLOCKED_BY_CLIENT')) return;
    // A server the test already stopped no longer answers the page's last requests.
    const from = msg.location()?.url ?? '';
    if (text.includes('net::ERR_CONNECTION_REFUSED') && [...stoppedOrigins].some((o) => from.startsWith(o))) return;
    if (msg.type() === 'error') record(page, `console error: ${text}${where}`);
    else if (/Content[ -]Security[ -]Policy/i.test(text)) record(page, `CSP ${msg.type()}: ${text}${where}`);
  });
  page.on('pageerror', (err) => record(page, `uncaught exception: ${err.stack || err}`));
  page.on('crash', () => record(page, 'the page crashed'));
  page.on('response', (res) => {
    if (res.status() >= 500) record(page, `HTTP ${res.status()} from ${res.request().method()} ${res.url()}`);
  });
  await assertNoExternalRequests(page);

  if (t) {
    t.after(async () => {
      await context.close();
      assertPageClean(page);
    });
  }
  return page;
}

/** Ignore problems matching `pattern` from now on (an error the test provokes on purpose). */
export function allowConsole(page, pattern) {
  state(page).allowed.push(pattern);
}

/** The problems recorded on `page` so far (strings). */
export function pageProblems(page) {
  return [...state(page).problems];
}

/** Throws, listing them, if anything went wrong on `page` (see newPage). */
export function assertPageClean(page) {
  const { problems } = state(page);
  if (problems.length) {
    throw new Error(`${problems.length} problem(s) on the page:\n- ${problems.join('\n- ')}`);
  }
}

/**
 * Routes every request of the page's context: those to 127.0.0.1, localhost, [::1] or
 * ALIAS_HOST go ahead, any other is aborted and recorded, which fails the test (the dashboard must work
 * offline). newPage already does this; calling it again changes nothing.
 */
export async function assertNoExternalRequests(page) {
  const s = state(page);
  if (s.routed) return;
  s.routed = true;
  const context = page.context();
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === 'http:' || url.protocol === 'https:') && LOCAL_HOSTS.has(url.hostname)) {
      return route.fallback();
    }
    record(page, `external request: ${route.request().method()} ${url.href}`);
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(/.*/, (ws) => {
    const url = new URL(ws.url());
    if (LOCAL_HOSTS.has(url.hostname)) return ws.connectToServer();
    record(page, `external WebSocket: ${url.href}`);
    return ws.close();
  });
}

// ---------------------------------------------------------------------------------------
// Accessibility

const require = createRequire(import.meta.url);
let axeSource;

/**
 * Runs axe-core on the page as it is now. Throws listing every `serious` or `critical`
 * violation with its targets; prints `minor` and `moderate` ones. Returns
 * { violations, blocking } (axe's violation objects).
 *
 * axe is injected with page.evaluate, i.e. the DevTools protocol's Runtime.evaluate,
 * which a page's Content-Security-Policy does not apply to: no inline script, no
 * unsafe-eval and no bypassCSP needed (tests/browser/harness.test.mjs checks this under
 * a strict policy).
 *
 * options: { t } (a node:test context to print through), { exclude: [selector] }
 */
export async function checkA11y(page, name, { t, exclude = [] } = {}) {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(axeSource);
  }
  const results = await page.evaluate(
    (exclude) => window.axe.run(exclude.length ? { exclude } : document, { resultTypes: ['violations'] }),
    exclude,
  );
  const label = `${name}-${page.viewportSize()?.width}`;
  const describe = (v) =>
    `[${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n` +
    v.nodes.map((n) => `    at ${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join('; ').trim() ?? ''}`).join('\n');
  const blocking = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const others = results.violations.filter((v) => !blocking.includes(v));
  const say = (text) => (t ? t.diagnostic(text) : console.log(text));
  for (const v of others) say(`axe ${label}: ${describe(v)}`);
  if (blocking.length) {
    throw new Error(
      `axe found ${blocking.length} serious or critical violation(s) on ${label}:\n${blocking.map(describe).join('\n')}`,
    );
  }
  return { violations: results.violations, blocking };
}

// ---------------------------------------------------------------------------------------
// Screenshots and the clipboard

/** A full-page PNG at the page's viewport: SCREENSHOT_DIR/<name>-<width>.png. Returns the path. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}-${page.viewportSize().width}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  return path;
}

/**
 * What is on the clipboard now. If the clipboard cannot be read at all and `field` (a
 * selector or locator of the input whose value the Copy button copies) is given, that
 * field's value instead; an empty or stale clipboard is returned as it is, never
 * replaced by the field's value, so a Copy button that copies nothing still fails.
 */
export async function readClipboard(page, { field } = {}) {
  try {
    await page.bringToFront();
    return await page.evaluate(() => navigator.clipboard.readText());
  } catch (err) {
    if (!field) throw err;
    const locator = typeof field === 'string' ? page.locator(field) : field;
    return await locator.inputValue();
  }
}

/**
 * Clicks a Copy button and returns what it put on the clipboard: the clipboard is set to
 * a marker first, then read until it changes (up to 5 s); see readClipboard for `field`.
 */
export async function copyWith(page, button, { field } = {}) {
  const marker = `keyward-clipboard-marker-${randomBytes(6).toString('hex')}`;
  let usable = true;
  try {
    await page.bringToFront();
    await page.evaluate((m) => navigator.clipboard.writeText(m), marker);
  } catch (err) {
    if (!field) throw err;
    usable = false;
  }
  await (typeof button === 'string' ? page.locator(button) : button).click();
  if (!usable) return readClipboard(page, { field });
  const deadline = Date.now() + 5_000;
  for (;;) {
    const text = await readClipboard(page);
    if (text !== marker) return text;
    if (Date.now() > deadline) throw new Error('the Copy button put nothing on the clipboard');
    await sleep(50);
  }
}
