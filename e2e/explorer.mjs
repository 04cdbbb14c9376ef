// End-to-end test of the GraphQL explorer at / in a real browser with no
// internet: Debian's Chromium (/usr/bin/chromium, never a downloaded one),
// driven by playwright-core, with every request to a host other than the
// server's loopback address aborted.
//
// Builds the server and starts it with the demo practice on an empty
// database (PostgreSQL when WHISPER_E2E_EXPLORER_DATABASE_URL is set, else a
// temporary SQLite file); opens the explorer, which must load (its assets are
// served by Whisper) and show how to sign in and where the token goes; runs
// the subscription before signing in, which must end at once with an
// UNAUTHENTICATED error rather than spin; runs the login mutation, runs the
// subscription with a token the server refuses (UNAUTHENTICATED at once
// again), copies accessToken into the Headers pane as a user would, runs the
// query (the signed-in user and their conversations) and the subscription
// (the unread badge), and sees the badge change live when another user
// writes.
//
// Usage: node e2e/explorer.mjs (Node 20; `apt-get install chromium` first).
// CHROMIUM overrides the browser path. Exit status 0 when every check passes.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

import { freePort, run } from './common.mjs';

const OVERALL_TIMEOUT_MS = 120_000;
const BUILD_TIMEOUT_MS = 600_000;
const WAIT_MS = 15_000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-explorer-'));
const binary = path.join(tmpDir, 'whisper');
const output = [];
let server = null;
let serverExited = false;
let browser = null;

function fail(message) {
  throw new Error(message);
}
function assert(cond, message) {
  if (!cond) fail(message);
}
function ok(message) {
  console.log(`ok - explorer: ${message}`);
}

process.on('exit', () => {
  if (server && !serverExited) server.kill('SIGKILL');
  fs.rmSync(tmpDir, { recursive: true, force: true });
});
// The overall limit counts from the end of the build (a cold `go build` on a
// busy machine may take longer than the test itself).
function limit(ms, what) {
  const timer = setTimeout(() => {
    console.error(`not ok - explorer: ${what} did not finish within ${ms / 1000} s`);
    console.error(output.join(''));
    process.exit(1);
  }, ms);
  timer.unref();
  return timer;
}
let overall = limit(BUILD_TIMEOUT_MS, 'go build ./server');

let base = '';
async function gql(token, query, variables = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors?.length) fail(`errors: ${JSON.stringify(body.errors)}\n  query: ${query}`);
  return body.data;
}

// waitFor polls probe (in Node, against the page) until it returns a truthy
// value, or fails with what it last saw.
async function waitFor(what, probe, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (last?.done) return last.value;
    if (Date.now() > deadline) fail(`${what}: not within ${ms / 1000} s; last seen: ${JSON.stringify(last?.seen ?? last)}`);
    await sleep(100);
  }
}

async function main() {
  assert(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (no browser is downloaded)`);
  await run('go', ['build', '-o', binary, './server']);
  clearTimeout(overall);
  overall = limit(OVERALL_TIMEOUT_MS, 'the test');
  const databaseURL = process.env.WHISPER_E2E_EXPLORER_DATABASE_URL || `sqlite:${path.join(tmpDir, 'explorer.db')}`;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(binary, ['-demo', '-addr', `127.0.0.1:${port}`], {
    cwd: tmpDir,
    env: { ...process.env, DATABASE_URL: databaseURL, WHISPER_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => output.push(d.toString()));
  server.stderr.on('data', (d) => output.push(d.toString()));
  server.on('exit', () => (serverExited = true));
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) break;
    } catch {}
    if (serverExited || Date.now() > deadline) fail('the server never became ready');
    await sleep(100);
  }
  ok(`server with the demo practice ready at ${base}`);

  // 1. Chromium with the network cut off: only the server's loopback
  // address answers; anything else is aborted and recorded.
  const profile = fs.mkdtempSync(path.join(tmpDir, 'chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const blocked = [];
  const pageErrors = [];
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
    blocked.push(url.href);
    return route.abort('internetdisconnected');
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  ok(`${(await browser.browser()?.version()) ?? 'Chromium'} from ${CHROMIUM}, every non-loopback request aborted`);

  // 2. The explorer loads, from Whisper alone.
  await page.goto(`${base}/`);
  try {
    await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout: WAIT_MS });
  } catch {
    fail(`the explorer did not load (blocked requests: ${JSON.stringify(blocked)}; page errors: ${JSON.stringify(pageErrors)}; page text: ${JSON.stringify((await page.innerText('body')).slice(0, 300))})`);
  }
  assert(blocked.length === 0, `the explorer asked for addresses outside the server: ${JSON.stringify(blocked)}`);
  ok('GraphiQL loaded with no internet (no request left the machine)');

  // 3. Its first screen says how to sign in and where the token goes.
  const banner = await page.innerText('#whisper-signin');
  for (const want of ['login', 'Authorization', 'Bearer', 'Headers', 'connection_init']) {
    assert(banner.includes(want), `the first screen does not mention ${want}: ${banner}`);
  }
  const editorText = (selector) =>
    page.evaluate((sel) => document.querySelector(sel)?.CodeMirror?.getValue() ?? null, selector);
  const query = await editorText('.graphiql-query-editor .CodeMirror');
  assert(/mutation SignIn[\s\S]*login\(/.test(query), `the first screen has no sign-in mutation: ${query}`);
  assert(query.includes('"Authorization": "Bearer <accessToken>"'), `the first screen does not say where the token goes: ${query}`);
  for (const op of ['query MyConversations', 'subscription UnreadBadge']) assert(query.includes(op), `the first screen has no ${op}: ${query}`);
  ok('the first screen shows the login mutation and where the token goes (Headers: Authorization, connection_init)');

  const response = async () => {
    const text = await editorText('.graphiql-response .CodeMirror');
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      return { unparsed: text };
    }
  };
  // runOperation puts the cursor in the named operation of the editor and
  // runs it with Ctrl-Enter, as the first screen says.
  // (The editor draws only the lines in view, so the cursor is placed
  // through CodeMirror rather than by clicking a line that may not exist.)
  const runOperation = async (name) => {
    const placed = await page.evaluate((name) => {
      const cm = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
      const line = cm.getValue().split('\n').findIndex((l) => new RegExp(`^(query|mutation|subscription) ${name} `).test(l));
      if (line < 0) return false;
      cm.focus();
      cm.setCursor({ line: line + 1, ch: 2 });
      cm.scrollIntoView(null, 100);
      return true;
    }, name);
    assert(placed, `the editor has no operation ${name}`);
    await page.keyboard.press('Control+Enter');
  };
  const stop = () => page.click('button.graphiql-execute-button');
  const isRunning = () => page.locator('button.graphiql-execute-button[aria-label*="Stop"]').count().then((n) => n > 0);

  // 4. A subscription before signing in ends at once with UNAUTHENTICATED.
  await runOperation('UnreadBadge');
  const refused = await waitFor('the subscription without a token shows UNAUTHENTICATED', async () => {
    const r = await response();
    return { done: r?.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED', value: r, seen: r };
  }, 5_000);
  assert(/login/.test(refused.errors[0].message) && /Authorization/.test(refused.errors[0].message), `the refusal does not say what to do: ${JSON.stringify(refused)}`);
  await waitFor('the refused subscription stops running', async () => ({ done: !(await isRunning()) }), 5_000);
  ok(`a subscription without a token ends at once: ${refused.errors[0].message}`);

  // 5. Sign in with the first tab and copy the token into the Headers tab.
  await runOperation('SignIn');
  const signedIn = await waitFor('login answers with an access token', async () => {
    const r = await response();
    return { done: typeof r?.data?.login?.accessToken === 'string', value: r, seen: r };
  });
  const token = signedIn.data.login.accessToken;
  assert(signedIn.data.login.user.name === 'Dr Wei Chen', `signed in as ${JSON.stringify(signedIn.data.login.user)}`);
  // setHeaders types into the Headers pane as a user pastes.
  const setHeaders = async (text) => {
    await page.locator('.graphiql-editor-tools button', { hasText: 'Headers' }).click();
    await page.locator('.graphiql-editor-tool .CodeMirror').last().click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(text);
    const typed = await page.evaluate(() => [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].map((e) => e.CodeMirror.getValue()));
    assert(typed.includes(text), `the Headers pane holds ${JSON.stringify(typed)}, want ${text}`);
  };

  // A token the server refuses ends the subscription at once too.
  await setHeaders('{"Authorization": "Bearer not-a-real-token"}');
  await runOperation('UnreadBadge');
  const badToken = await waitFor('the subscription with a bad token shows UNAUTHENTICATED', async () => {
    const r = await response();
    return { done: r?.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED' && /refused the token/.test(r.errors[0].message), value: r, seen: r };
  }, 5_000);
  await waitFor('the refused subscription stops running', async () => ({ done: !(await isRunning()) }), 5_000);
  ok(`a subscription with a bad token ends at once: ${badToken.errors[0].message}`);

  await setHeaders(`{"Authorization": "Bearer ${token}"}`);
  ok('signed in with the login mutation and put the token in the Headers pane');

  // 6. The query tab, with the token.
  await runOperation('MyConversations');
  const mine = await waitFor('the query answers as the signed-in user', async () => {
    const r = await response();
    return { done: r?.data?.me?.name === 'Dr Wei Chen' && Array.isArray(r.data.channels?.edges), value: r, seen: r };
  });
  ok(`the query answered as ${mine.data.me.name} with ${mine.data.channels.edges.length} conversation(s)`);

  // 7. The subscription tab, with the token: the badge now, then live.
  await runOperation('UnreadBadge');
  const first = await waitFor('the unreadBadge subscription delivers its first value', async () => {
    const r = await response();
    return { done: typeof r?.data?.unreadBadge?.total === 'number', value: r, seen: r };
  });
  assert(await isRunning(), 'the subscription is not running after its first value');
  const patel = (await gql(null, `mutation { login(email: "dr.patel@demo.clinic", password: "whisper-demo") { accessToken } }`)).login.accessToken;
  const chenID = signedIn.data.login.user.id;
  const { openConversation } = await gql(patel, `mutation($in: OpenConversationInput!) { openConversation(input: $in) { id } }`, { in: { userIDs: [chenID] } });
  await gql(patel, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`, { in: { channelID: openConversation.id, body: 'explorer e2e: are you there?' } });
  const after = await waitFor('the badge changes live when Dr Patel writes', async () => {
    const r = await response();
    const entry = r?.data?.unreadBadge?.channels?.find((c) => c.channel.id === openConversation.id);
    const before = first.data.unreadBadge.channels.find((c) => c.channel.id === openConversation.id)?.unread ?? 0;
    return { done: r?.data?.unreadBadge?.total === first.data.unreadBadge.total + 1 && entry?.unread === before + 1, value: r, seen: r };
  });
  ok(`the subscription showed the badge live: total ${first.data.unreadBadge.total} -> ${after.data.unreadBadge.total}`);
  await stop();
  await waitFor('the subscription stops', async () => ({ done: !(await isRunning()) }), 5_000);

  assert(blocked.length === 0, `requests outside the server: ${JSON.stringify(blocked)}`);
  assert(pageErrors.length === 0, `errors in the page: ${JSON.stringify(pageErrors)}`);
  ok('no request left the machine and the page raised no error');
}

main().then(
  async () => {
    await browser?.close();
    server.kill('SIGTERM');
    console.log('# explorer: all checks passed');
    process.exit(0);
  },
  async (err) => {
    console.error(`not ok - explorer: ${err.message}`);
    console.error(output.join(''));
    await browser?.close().catch(() => {});
    process.exit(1);
  },
);
