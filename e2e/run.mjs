// End-to-end test of Whisper with a real third-party GraphQL client.
//
// Builds the server, starts it with the demo practice on an empty database
// (PostgreSQL when WHISPER_E2E_DATABASE_URL is set, else a temporary SQLite
// file), signs in demo users over HTTP and exercises the live path over
// websockets with graphql-ws (the graphql-transport-ws protocol) on top of
// the `ws` package: live delivery, resuming by cursor after a disconnect
// (replayed once, in order, then live), idempotent sends, the unread badge,
// the patient-arrival flow (reception marks a booking ARRIVED, the doctor is
// notified live, acknowledges and replies to the receptionist; marking it
// again notifies no one), a patient texting STOP through the signed SMS
// webhook (their SMS consent becomes OPTED_OUT; a forged signature changes
// nothing), refusal of a bad token (close code 4403), and a restart: each
// subscription ends with UNAVAILABLE / SERVER_SHUTDOWN, the socket closes
// with 1001, and the client resumes by cursor; and a client that stops
// reading while a sender floods its channel: its subscription ends with
// UNAVAILABLE / SLOW_CONSUMER, the socket closes with 1001, and it resumes
// by cursor, receiving everything it missed in order, nothing twice.
//
// Usage (from anywhere):  node e2e/run.mjs
// Exit status 0 when every check passes; 1 with a "not ok" line otherwise.

import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const OVERALL_TIMEOUT_MS = 180_000;
const BUILD_TIMEOUT_MS = 300_000; // a cold `go build` is not part of the 120 s
const READY_TIMEOUT_MS = 60_000;
const RECEIVE_TIMEOUT_MS = 10_000;
const QUIET_MS = 1_000;
const PASSWORD = 'whisper-demo';
const CHEN = 'dr.chen@demo.clinic';
const PATEL = 'dr.patel@demo.clinic';
const RECEPTION = 'reception@demo.clinic';
const ADMIN = 'admin@demo.clinic';
const SMS_TOKEN = randomBytes(16).toString('hex'); // signs the SMS webhook, as the provider would

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');

// ------------------------------------------------------------- plumbing --

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-e2e-'));
const binary = path.join(tmpDir, 'whisper');
let sqliteFile = null;
let child = null;
const helpers = new Set(); // other child processes (go build)
let childExited = null; // {code, signal} once the server has exited
const serverOutput = [];
const clients = [];
let failing = false;
let stopping = false; // true once the test stops the server itself

class TestFailure extends Error {}

function fail(message) {
  throw new TestFailure(message);
}

function assert(cond, message) {
  if (!cond) fail(message);
}

function ok(message) {
  console.log(`ok - ${message}`);
}

function show(value) {
  return JSON.stringify(value);
}

function removeTemp() {
  try {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  } catch {}
  if (sqliteFile) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) {
      try {
        fs.rmSync(sqliteFile + suffix, { force: true });
      } catch {}
    }
  }
}

// Last resort: whatever way the process ends, the server goes with it.
process.on('exit', () => {
  for (const p of helpers) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
  if (child && !childExited) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
  removeTemp();
});

function dumpServerOutput() {
  const text = serverOutput.join('');
  console.error('----- server output (stdout+stderr) -----');
  console.error(text.trim() === '' ? '(none)' : text.trimEnd());
  console.error('----- end of server output -----');
}

async function stopServer() {
  if (!child || childExited) return;
  child.kill('SIGTERM');
  const deadline = Date.now() + 10_000;
  while (!childExited && Date.now() < deadline) await sleep(50);
  if (!childExited) {
    child.kill('SIGKILL');
    fail('the server did not stop within 10 s of SIGTERM');
  }
}

async function abort(message) {
  if (failing) return;
  failing = true;
  console.error(`not ok - ${message}`);
  for (const c of clients) c.dispose().catch(() => {});
  dumpServerOutput();
  if (child && !childExited) child.kill('SIGKILL');
  process.exit(1);
}

const overall = setTimeout(
  () => abort(`overall timeout: the test did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`),
  OVERALL_TIMEOUT_MS,
);
process.on('SIGINT', () => abort('interrupted (SIGINT)'));
process.on('SIGTERM', () => abort('terminated (SIGTERM)'));
process.on('unhandledRejection', (err) => abort(`unhandled rejection: ${err?.stack ?? err}`));

// ------------------------------------------------------------ the server --

function run(cmd, args, opts, timeoutMs) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    helpers.add(p);
    p.on('exit', () => helpers.delete(p));
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new TestFailure(`${cmd} ${args.join(' ')}: timed out after ${timeoutMs / 1000} s\n${out}`));
    }, timeoutMs);
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(new TestFailure(`${cmd} ${args.join(' ')}: ${err.message}`));
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new TestFailure(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out}`));
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function redact(url) {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

async function startServer(databaseURL, port, extraEnv = {}) {
  const env = { ...process.env, DATABASE_URL: databaseURL, WHISPER_LOG_LEVEL: 'warn', WHISPER_SMS_TOKEN: SMS_TOKEN, ...extraEnv };
  child = spawn(binary, ['-demo', '-addr', `127.0.0.1:${port}`], {
    cwd: tmpDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => serverOutput.push(d.toString()));
  child.stderr.on('data', (d) => serverOutput.push(d.toString()));
  child.on('exit', (code, signal) => {
    childExited = { code, signal };
    if (!failing && !stopping) abort(`the server exited unexpectedly (${signal ?? `exit status ${code}`})`);
  });
  child.on('error', (err) => abort(`cannot start the server: ${err.message}`));

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return base;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(100);
  }
  fail(`GET /readyz did not return 200 within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
}

// -------------------------------------------------------- GraphQL (HTTP) --

let httpBase = '';

async function gql(token, query, variables = {}) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${httpBase}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    fail(`POST /graphql: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}\n  query: ${query}`);
  }
  if (body.errors?.length) {
    fail(`POST /graphql: HTTP ${res.status}, errors: ${show(body.errors)}\n  query: ${query}\n  variables: ${show(variables)}`);
  }
  assert(res.status === 200, `POST /graphql: HTTP ${res.status}: ${text.slice(0, 500)}`);
  assert(body.data, `POST /graphql: no data: ${text.slice(0, 500)}`);
  return body.data;
}

async function login(email) {
  const data = await gql(
    null,
    `mutation Login($email: String!, $password: String!) {
       login(email: $email, password: $password) { accessToken user { id email } }
     }`,
    { email, password: PASSWORD },
  );
  const { accessToken, user } = data.login;
  assert(typeof accessToken === 'string' && accessToken.length > 20, `login(${email}): no access token`);
  assert(user?.id && user.email === email, `login(${email}): unexpected user ${show(user)}`);
  return { token: accessToken, id: user.id, email };
}

const SEND = `mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { id cursor body } }`;

async function send(token, channelID, body, clientMessageID) {
  const input = { channelID, body };
  if (clientMessageID !== undefined) input.clientMessageID = clientMessageID;
  const { sendMessage: m } = await gql(token, SEND, { input });
  assert(m.id && m.cursor && m.body === body, `sendMessage(${show(input)}): unexpected result ${show(m)}`);
  return m;
}

// --------------------------------------------------- GraphQL (websockets) --

function closeText(e) {
  if (e && typeof e === 'object' && 'code' in e) return `socket closed with code ${e.code}${e.reason ? ` (${e.reason})` : ''}`;
  if (Array.isArray(e)) return `GraphQL errors ${show(e)}`;
  return String(e?.message ?? e);
}

// wsClient makes a graphql-ws client that never retries behind our back
// (a lost socket must fail the test, not be papered over) and records the
// close events it sees.
function wsClient(label, port, token, webSocketImpl = WebSocket) {
  const closes = [];
  const client = createClient({
    url: `ws://127.0.0.1:${port}/graphql`,
    webSocketImpl,
    connectionParams: { Authorization: `Bearer ${token}` },
    lazy: true,
    retryAttempts: 0,
    on: { closed: (e) => closes.push(e) },
  });
  client.label = label;
  client.closes = closes;
  // resolves on the server's connection_ack (connection_init accepted)
  client.acked = new Promise((resolve) => client.on('connected', () => resolve()));
  clients.push(client);
  return client;
}

// stream subscribes and queues what arrives, so a test can wait for the
// next value with a timeout, or assert that nothing arrives.
function stream(client, name, query, variables) {
  const queue = [];
  let end = null; // {error} or {complete: true}
  let wake = () => {};
  const unsubscribe = client.subscribe(
    { query, variables },
    {
      next(result) {
        queue.push(result);
        wake();
      },
      error(err) {
        end = { error: err };
        wake();
      },
      complete() {
        end = { complete: true };
        wake();
      },
    },
  );
  const what = `${client.label}: ${name}`;
  return {
    unsubscribe,
    get ended() {
      return end;
    },
    async next(expecting, timeoutMs = RECEIVE_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0) {
        if (end?.error) fail(`${what}: failed while waiting for ${expecting}: ${closeText(end.error)}`);
        if (end) fail(`${what}: completed while waiting for ${expecting}`);
        const left = deadline - Date.now();
        if (left <= 0) fail(`${what}: nothing arrived within ${timeoutMs / 1000} s (waiting for ${expecting})`);
        await Promise.race([new Promise((r) => (wake = r)), sleep(left)]);
      }
      const result = queue.shift();
      if (result.errors?.length) fail(`${what}: errors while waiting for ${expecting}: ${show(result.errors)}`);
      assert(result.data, `${what}: a result without data: ${show(result)}`);
      return result.data;
    },
    // rest waits for the end and returns what arrived before it.
    async rest(expecting, timeoutMs = RECEIVE_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      while (!end) {
        const left = deadline - Date.now();
        if (left <= 0) fail(`${what}: did not end within ${timeoutMs / 1000} s (waiting for ${expecting}; ${queue.length} results arrived)`);
        await Promise.race([new Promise((r) => (wake = r)), sleep(left)]);
      }
      return { results: queue.splice(0), end };
    },
    async quiet(ms) {
      await sleep(ms);
      if (queue.length) fail(`${what}: expected nothing more within ${ms} ms, got ${show(queue)}`);
      if (end?.error) fail(`${what}: failed: ${closeText(end.error)}`);
      if (end) fail(`${what}: completed unexpectedly`);
    },
  };
}

const MESSAGE_ADDED = `subscription MessageAdded {
  messageAdded { id body cursor sender { email } channel { id } }
}`;
const MESSAGE_ADDED_AFTER = `subscription MessageAddedAfter($after: String) {
  messageAdded(after: $after) { id body cursor sender { email } channel { id } }
}`;
const UNREAD_BADGE = `subscription UnreadBadge {
  unreadBadge { total channels { channel { id } unread } }
}`;

function expectMessage(m, want, what) {
  assert(m, `${what}: no message`);
  const problems = [];
  if (want.id && m.id !== want.id) problems.push(`id ${m.id}, want ${want.id}`);
  if (m.body !== want.body) problems.push(`body ${show(m.body)}, want ${show(want.body)}`);
  if (m.sender?.email !== CHEN) problems.push(`sender ${show(m.sender)}, want ${CHEN}`);
  if (m.channel?.id !== want.channelID) problems.push(`channel ${show(m.channel)}, want ${want.channelID}`);
  if (want.cursor && m.cursor !== want.cursor) problems.push(`cursor ${m.cursor}, want ${want.cursor} (as sendMessage returned it)`);
  if (!m.cursor) problems.push('no cursor');
  assert(problems.length === 0, `${what}: unexpected message ${show(m)}: ${problems.join('; ')}`);
}

// awaitAck waits for the server's connection_ack on a client whose first
// subscription s has been requested (a lazy client connects on it).
async function awaitAck(client, s) {
  await Promise.race([
    client.acked,
    sleep(RECEIVE_TIMEOUT_MS).then(() => s.ended ?? { timeout: true }).then((e) =>
      fail(`${client.label}: no connection_ack within ${RECEIVE_TIMEOUT_MS / 1000} s: ${e.timeout ? 'timed out' : closeText(e.error)}`),
    ),
  ]);
}

// probeLive makes it observable that the server has set a subscription up:
// it triggers numbered probes (trigger(n) must produce something whose text
// is `${prefix} ${n}` on stream s) until one arrives within 300 ms; every
// probe after that one must arrive too, in order. Returns how many were sent
// and their results.
async function probeLive(s, what, prefix, trigger, textOf) {
  const sent = [];
  let firstSeen = 0;
  const deadline = Date.now() + 20_000;
  while (!firstSeen) {
    if (Date.now() > deadline) fail(`${what}: none of ${sent.length} probes arrived within 20 s`);
    sent.push(await trigger(sent.length + 1));
    let data;
    try {
      data = await s.next(`${prefix} ${sent.length}`, 300);
    } catch (err) {
      if (s.ended || !String(err.message).includes('nothing arrived')) throw err;
      continue;
    }
    const text = String(textOf(data));
    const n = text.startsWith(`${prefix} `) ? Number(text.slice(prefix.length + 1)) : NaN;
    assert(n >= 1 && n <= sent.length, `${what}: expected a probe "${prefix} <n>", got ${show(data)}`);
    firstSeen = n;
  }
  for (let n = firstSeen + 1; n <= sent.length; n++) {
    const data = await s.next(`${prefix} ${n}`);
    assert(textOf(data) === `${prefix} ${n}`, `${what}: expected probe "${prefix} ${n}", got ${show(data)}`);
  }
  return { sent, firstSeen };
}

const ARRIVALS = `subscription Arrivals {
  notificationAdded(kinds: [ARRIVAL]) { id kind title patient { patientNumber } booking { id } from { email } }
}`;
const REMINDERS = `subscription Reminders {
  notificationAdded(kinds: [REMINDER]) { id kind title }
}`;
const RECEPTION_MESSAGES = `subscription ReceptionMessages {
  messageAdded { body sender { email } channel { id kind } }
}`;
const BOOKINGS = `query Bookings($d: ID) {
  bookings(doctorID: $d, first: 20) { edges { node { id status startsAt patient { patientNumber } } } }
}`;
const SET_STATUS_ARRIVED = `mutation Arrive($b: ID!) { setBookingStatus(bookingID: $b, status: ARRIVED) { id status } }`;
const ARRIVAL_COUNTS = `query ArrivalCounts {
  open: notifications(kinds: [ARRIVAL]) { totalCount }
  all: notifications(kinds: [ARRIVAL], includeAcknowledged: true) { totalCount }
}`;

async function arrivalCounts(token) {
  const d = await gql(token, ARRIVAL_COUNTS);
  return { open: d.open.totalCount, all: d.all.totalCount };
}

// ------------------------------------------------------------------ test --

async function main() {
  const pgURL = process.env.WHISPER_E2E_DATABASE_URL;
  let databaseURL;
  if (pgURL) {
    databaseURL = pgURL;
  } else {
    sqliteFile = path.join(os.tmpdir(), `whisper-e2e-${randomBytes(6).toString('hex')}.db`);
    databaseURL = `sqlite:${sqliteFile}`;
  }
  console.log(`# database: ${redact(databaseURL)}${pgURL ? ' (WHISPER_E2E_DATABASE_URL)' : ' (SQLite; set WHISPER_E2E_DATABASE_URL for PostgreSQL)'}`);

  // 1. build and start
  const buildStart = Date.now();
  await run('go', ['build', '-o', binary, './server'], { cwd: repoRoot }, BUILD_TIMEOUT_MS);
  ok(`built the server (go build ./server, ${((Date.now() - buildStart) / 1000).toFixed(1)} s)`);
  overall.refresh(); // the 120 s count from here: a cold build may take longer

  const port = await freePort();
  httpBase = await startServer(databaseURL, port);
  ok(`server ready on 127.0.0.1:${port} (GET /readyz = 200)`);

  // -demo only loads into an empty database; the checks below count on a
  // fresh practice (no earlier messages, no clientMessageID already used).
  {
    const deadline = Date.now() + 3_000;
    let said = '';
    while (Date.now() < deadline) {
      said = serverOutput.join('');
      if (said.includes('demo practice not loaded') || said.includes('demo practice is ready')) break;
      await sleep(20);
    }
    if (said.includes('demo practice not loaded')) {
      fail(`the demo practice was not loaded because the database already has data: ${redact(databaseURL)} must name an EMPTY database`);
    }
    if (said.includes('demo practice is ready')) ok('the demo practice was loaded into the empty database');
    else console.log('# note: the server did not print its demo banner; carrying on');
  }

  // 2. sign in over HTTP
  const chen = await login(CHEN);
  const patel = await login(PATEL);
  ok(`signed in over HTTP as ${CHEN} (${chen.id}) and ${PATEL} (${patel.id})`);

  // 3. Patel subscribes to messageAdded
  const patel1 = wsClient('patel ws #1', port, patel.token);
  const live1 = stream(patel1, 'messageAdded', MESSAGE_ADDED);
  await awaitAck(patel1, live1);
  ok('Patel connected over graphql-ws (connection_ack) and subscribed to messageAdded');

  // 4. Chen opens the conversation and sends hello 1
  const { openConversation: conv } = await gql(
    chen.token,
    `mutation Open($input: OpenConversationInput!) { openConversation(input: $input) { id kind } }`,
    { input: { userIDs: [patel.id] } },
  );
  assert(conv.kind === 'INDIVIDUAL', `openConversation: kind ${conv.kind}, want INDIVIDUAL`);
  const channelID = conv.id;
  ok(`Chen opened the individual conversation with Patel (${channelID}, kind INDIVIDUAL)`);

  // graphql-ws gives no signal when the server has set a subscription up,
  // so probe: Chen sends numbered probe messages until one arrives; every
  // probe after that one must arrive too, in order.
  let probesSent = 0;
  let firstSeen = 0;
  const probeDeadline = Date.now() + 20_000;
  while (!firstSeen) {
    if (Date.now() > probeDeadline) fail(`patel ws #1: messageAdded delivered none of ${probesSent} probe messages within 20 s`);
    probesSent++;
    await send(chen.token, channelID, `e2e probe ${probesSent}`);
    let data;
    try {
      data = await live1.next(`probe ${probesSent}`, 300);
    } catch (err) {
      if (live1.ended || !String(err.message).includes('nothing arrived')) throw err;
      continue;
    }
    const m = data.messageAdded;
    const n = Number(/^e2e probe (\d+)$/.exec(m.body)?.[1]);
    assert(n >= 1 && n <= probesSent, `patel ws #1: expected a probe message, got ${show(m)}`);
    firstSeen = n;
  }
  for (let n = firstSeen + 1; n <= probesSent; n++) {
    const m = (await live1.next(`probe ${n}`)).messageAdded;
    expectMessage(m, { body: `e2e probe ${n}`, channelID }, `patel ws #1: probe ${n}`);
  }
  ok(`Patel's messageAdded subscription is live over graphql-ws (probe ${firstSeen} of ${probesSent} was the first delivered)`);

  const hello1 = await send(chen.token, channelID, 'e2e hello 1');
  const got1 = (await live1.next('e2e hello 1')).messageAdded;
  expectMessage(got1, { ...hello1, channelID }, 'patel ws #1: e2e hello 1');
  const cursor = got1.cursor;
  ok(`Patel received "e2e hello 1" live from ${CHEN} (cursor ${cursor})`);

  // 5. Patel disconnects; Chen sends while she is away, and retries a send
  await patel1.dispose();
  {
    const deadline = Date.now() + 5_000;
    while (!patel1.closes.length && Date.now() < deadline) await sleep(20);
    assert(patel1.closes.length, 'patel ws #1: the socket did not close within 5 s of dispose()');
  }
  ok(`Patel disconnected (close code ${patel1.closes[0].code})`);

  const hello2 = await send(chen.token, channelID, 'e2e hello 2');
  const hello3 = await send(chen.token, channelID, 'e2e hello 3');
  ok('Chen sent "e2e hello 2" and "e2e hello 3" while Patel was away');
  const idem1 = await send(chen.token, channelID, 'e2e hello 3', 'e2e-1');
  const idem2 = await send(chen.token, channelID, 'e2e hello 3', 'e2e-1');
  assert(
    idem1.id === idem2.id,
    `sendMessage with clientMessageID "e2e-1" twice returned two messages: ${idem1.id} and ${idem2.id}`,
  );
  assert(idem1.cursor === idem2.cursor, `the retried send returned another cursor: ${idem1.cursor} vs ${idem2.cursor}`);
  assert(idem1.id !== hello3.id, 'the clientMessageID send returned the earlier plain "e2e hello 3"');
  ok(`sendMessage with clientMessageID "e2e-1" twice returned the same message (${idem1.id})`);

  // 6. Patel reconnects and resumes after the cursor
  const patel2 = wsClient('patel ws #2', port, patel.token);
  const live2 = stream(patel2, 'messageAdded(after:)', MESSAGE_ADDED_AFTER, { after: cursor });
  const expected = [
    { ...hello2, channelID, body: 'e2e hello 2' },
    { ...hello3, channelID, body: 'e2e hello 3' },
    { ...idem1, channelID, body: 'e2e hello 3' },
  ];
  for (const [i, want] of expected.entries()) {
    const m = (await live2.next(`replayed message ${i + 1} (${want.body}, ${want.id})`)).messageAdded;
    expectMessage(m, want, `patel ws #2: replayed message ${i + 1} of 3`);
  }
  ok('Patel reconnected with a new client; messageAdded(after:) replayed "e2e hello 2", "e2e hello 3", "e2e hello 3" (clientMessageID) in order');

  const hello4 = await send(chen.token, channelID, 'e2e hello 4');
  const got4 = (await live2.next('e2e hello 4')).messageAdded;
  expectMessage(got4, { ...hello4, channelID }, 'patel ws #2: e2e hello 4');
  ok('Patel received "e2e hello 4" live after the replay');

  await live2.quiet(QUIET_MS);
  ok(`nothing else arrived within ${QUIET_MS / 1000} s (no duplicates)`);

  // 7. the unread badge
  const badge = stream(patel2, 'unreadBadge', UNREAD_BADGE);
  const first = (await badge.next('the first unreadBadge')).unreadBadge;
  assert(first.total >= 1, `unreadBadge: first total ${first.total}, want >= 1 (${show(first)})`);
  const entry = first.channels.find((c) => c.channel?.id === channelID);
  const wantUnread = probesSent + 5; // probes, hello 1, 2, 3, 3 (clientMessageID), 4
  assert(entry, `unreadBadge: the conversation ${channelID} is not among the unread channels: ${show(first)}`);
  assert(entry.unread === wantUnread, `unreadBadge: the conversation has ${entry.unread} unread, want ${wantUnread} (${show(first)})`);
  ok(`unreadBadge: first value total ${first.total}, the conversation ${entry.unread} unread`);

  const { markChannelRead } = await gql(
    patel.token,
    `mutation Read($id: ID!) { markChannelRead(channelID: $id) { id unreadCount } }`,
    { id: channelID },
  );
  assert(markChannelRead.id === channelID && markChannelRead.unreadCount === 0, `markChannelRead: unexpected ${show(markChannelRead)}`);
  // The demo practice has other unread conversations and notifications:
  // reading this one takes exactly its messages off the badge and leaves
  // every other line as it was.
  const others = first.channels.filter((c) => c.channel?.id !== channelID);
  const wantTotal = first.total - entry.unread;
  const seen = [];
  for (;;) {
    const v = (await badge.next(`an unreadBadge with total ${wantTotal} after markChannelRead`)).unreadBadge;
    seen.push(v);
    if (v.total === wantTotal) break;
    assert(seen.length < 20, `unreadBadge: no total ${wantTotal} after markChannelRead; values: ${show(seen)}`);
  }
  const after = seen[seen.length - 1];
  const lines = (cs) => show(cs.map((c) => [c.channel?.id, c.unread]).sort());
  assert(!after.channels.some((c) => c.channel?.id === channelID), `unreadBadge: the conversation is still listed after markChannelRead: ${show(after)}`);
  assert(lines(after.channels) === lines(others), `unreadBadge: other conversations changed: ${show(after.channels)}, want ${show(others)}`);
  ok(`after markChannelRead, unreadBadge dropped the conversation's ${entry.unread} unread (total ${first.total} -> ${after.total}; ${seen.length} update${seen.length === 1 ? '' : 's'})`);
  badge.unsubscribe();
  live2.unsubscribe();
  await patel2.dispose();

  // 8. a patient arrives: reception marks one of Chen's bookings ARRIVED
  const reception = await login(RECEPTION);
  ok(`signed in over HTTP as ${RECEPTION} (${reception.id})`);

  // notificationAdded only delivers new notifications and graphql-ws does
  // not say when the server has set a subscription up. So, on the same
  // socket and after the ARRIVAL subscription, Chen also subscribes to his
  // REMINDERs and sets himself numbered probe reminders until one arrives:
  // by then the server has taken both subscribe messages (in order) and
  // registered the ARRIVAL stream, which it does before anything else.
  const chenWs = wsClient('chen ws', port, chen.token);
  const arrivals = stream(chenWs, 'notificationAdded(kinds: [ARRIVAL])', ARRIVALS);
  await awaitAck(chenWs, arrivals);
  const reminders = stream(chenWs, 'notificationAdded(kinds: [REMINDER])', REMINDERS);
  const reminderProbes = await probeLive(
    reminders,
    'chen ws: notificationAdded(kinds: [REMINDER])',
    'e2e probe reminder',
    async (n) =>
      (
        await gql(
          chen.token,
          `mutation Remind($input: CreateNotificationInput!) { createNotification(input: $input) { id } }`,
          { input: { kind: 'REMINDER', title: `e2e probe reminder ${n}` } },
        )
      ).createNotification.id,
    (d) => d.notificationAdded?.title,
  );
  reminders.unsubscribe();
  for (const id of reminderProbes.sent) {
    await gql(chen.token, `mutation Ack($id: ID!) { acknowledgeNotification(id: $id) { id } }`, { id });
  }
  await sleep(300); // and a moment more, for good measure
  ok(
    `Chen connected over graphql-ws and subscribed to notificationAdded(kinds: [ARRIVAL]) ` +
      `(the same socket's REMINDER stream took probe ${reminderProbes.firstSeen} of ${reminderProbes.sent.length}; acknowledged them)`,
  );
  {
    const counts = await arrivalCounts(chen.token);
    assert(counts.all === 0, `notifications(kinds: [ARRIVAL]) for Chen before any arrival: ${show(counts)}, want none`);
  }

  const { bookings } = await gql(reception.token, BOOKINGS, { d: chen.id });
  const chenBookings = (bookings.edges ?? []).map((e) => e?.node).filter(Boolean);
  const today = new Date().toISOString().slice(0, 10);
  const booked = chenBookings.filter((b) => b.status === 'BOOKED');
  const arrival = booked.find((b) => b.startsAt.startsWith(today)) ?? booked[0];
  assert(arrival, `bookings(doctorID: Chen) as reception: no BOOKED booking among ${show(chenBookings)}`);
  assert(arrival.patient?.patientNumber, `booking ${arrival.id} has no patient number: ${show(arrival)}`);
  ok(
    `reception listed ${chenBookings.length} of Chen's bookings; picked ${arrival.id} ` +
      `(BOOKED, ${arrival.startsAt}, patient ${arrival.patient.patientNumber})`,
  );

  const { setBookingStatus: arrived } = await gql(reception.token, SET_STATUS_ARRIVED, { b: arrival.id });
  assert(
    arrived.id === arrival.id && arrived.status === 'ARRIVED',
    `setBookingStatus(${arrival.id}, ARRIVED): unexpected result ${show(arrived)}`,
  );
  ok(`reception set booking ${arrival.id} to ARRIVED`);

  let note;
  try {
    note = (await arrivals.next(`the ARRIVAL for booking ${arrival.id}`)).notificationAdded;
  } catch (err) {
    // say whether the notification exists at all (missed live) or not
    const counts = await arrivalCounts(chen.token).catch((e) => `unknown: ${e.message}`);
    fail(`${err.message}\n  Chen's ARRIVAL notifications (open/all) meanwhile: ${show(counts)}`);
  }
  {
    const problems = [];
    if (note?.kind !== 'ARRIVAL') problems.push(`kind ${show(note?.kind)}, want ARRIVAL`);
    if (note?.booking?.id !== arrival.id) problems.push(`booking ${show(note?.booking)}, want ${arrival.id}`);
    if (note?.patient?.patientNumber !== arrival.patient.patientNumber) {
      problems.push(`patient ${show(note?.patient)}, want ${arrival.patient.patientNumber}`);
    }
    if (note?.from?.email !== RECEPTION) problems.push(`from ${show(note?.from)}, want ${RECEPTION}`);
    if (!note?.id) problems.push('no id');
    assert(problems.length === 0, `chen ws: unexpected ARRIVAL ${show(note)}: ${problems.join('; ')}`);
  }
  ok(`Chen received the ARRIVAL live: "${note.title}" (booking ${arrival.id}, patient ${arrival.patient.patientNumber}, from ${RECEPTION})`);

  const { acknowledgeNotification: acked } = await gql(
    chen.token,
    `mutation Ack($id: ID!) { acknowledgeNotification(id: $id) { id acknowledgedAt } }`,
    { id: note.id },
  );
  assert(acked.id === note.id && acked.acknowledgedAt, `acknowledgeNotification(${note.id}): unexpected ${show(acked)}`);
  {
    const counts = await arrivalCounts(chen.token);
    assert(
      counts.open === 0 && counts.all === 1,
      `after acknowledging, Chen's notifications(kinds: [ARRIVAL]) totalCount ${counts.open} (want 0), with includeAcknowledged ${counts.all} (want 1)`,
    );
  }
  ok(`Chen acknowledged it (acknowledgedAt ${acked.acknowledgedAt}); ARRIVAL folder: 0 open, 1 with includeAcknowledged`);

  // reception listens before Chen replies; Patel's probe messages show when
  // the subscription is live (and keep Chen's channel with reception new)
  const receptionWs = wsClient('reception ws', port, reception.token);
  const receptionLive = stream(receptionWs, 'messageAdded', RECEPTION_MESSAGES);
  await awaitAck(receptionWs, receptionLive);
  const { openConversation: patelReception } = await gql(
    patel.token,
    `mutation Open($input: OpenConversationInput!) { openConversation(input: $input) { id kind } }`,
    { input: { userIDs: [reception.id] } },
  );
  const receptionProbes = await probeLive(
    receptionLive,
    'reception ws: messageAdded',
    'e2e reception probe',
    (n) => send(patel.token, patelReception.id, `e2e reception probe ${n}`),
    (d) => d.messageAdded?.body,
  );
  ok(
    `reception subscribed to messageAdded over graphql-ws ` +
      `(probe ${receptionProbes.firstSeen} of ${receptionProbes.sent.length} from ${PATEL} was the first delivered)`,
  );

  const REPLY = 'e2e: send them in';
  const { replyToArrival: reply } = await gql(
    chen.token,
    `mutation Reply($id: ID!) { replyToArrival(notificationID: $id, body: "e2e: send them in") { id channel { id } } }`,
    { id: note.id },
  );
  assert(reply.id && reply.channel?.id, `replyToArrival(${note.id}): unexpected ${show(reply)}`);
  {
    const m = (await receptionLive.next(`Chen's reply "${REPLY}"`)).messageAdded;
    const problems = [];
    if (m.body !== REPLY) problems.push(`body ${show(m.body)}, want ${show(REPLY)}`);
    if (m.sender?.email !== CHEN) problems.push(`sender ${show(m.sender)}, want ${CHEN}`);
    if (m.channel?.kind !== 'INDIVIDUAL') problems.push(`channel kind ${show(m.channel?.kind)}, want INDIVIDUAL`);
    if (m.channel?.id !== reply.channel.id) problems.push(`channel ${show(m.channel?.id)}, want ${reply.channel.id} (as replyToArrival returned it)`);
    assert(problems.length === 0, `reception ws: unexpected reply ${show(m)}: ${problems.join('; ')}`);
  }
  ok(`Chen replied to the arrival; reception received "${REPLY}" live from ${CHEN} in an INDIVIDUAL channel (${reply.channel.id})`);

  // marking the same booking ARRIVED again announces nothing
  const { setBookingStatus: again } = await gql(reception.token, SET_STATUS_ARRIVED, { b: arrival.id });
  assert(
    again.id === arrival.id && again.status === 'ARRIVED',
    `setBookingStatus(${arrival.id}, ARRIVED) again: unexpected result ${show(again)}`,
  );
  await arrivals.quiet(QUIET_MS);
  {
    const counts = await arrivalCounts(chen.token);
    assert(
      counts.open === 0 && counts.all === 1,
      `after marking the booking ARRIVED again, Chen's ARRIVAL folder: ${counts.open} open (want 0), ${counts.all} in all (want 1)`,
    );
  }
  ok(`setting booking ${arrival.id} ARRIVED again brought no second ARRIVAL within ${QUIET_MS / 1000} s (folder still 0 open, 1 in all)`);

  arrivals.unsubscribe();
  receptionLive.unsubscribe();
  await chenWs.dispose();
  await receptionWs.dispose();

  // 9. a patient texts STOP: the provider's signed webhook opts the number out
  {
    const admin = await login(ADMIN);
    const { patients } = await gql(admin.token, `{ patients(search: "P0001") { edges { node { id mobile smsConsent } } } }`);
    const olivia = patients.edges[0]?.node;
    assert(olivia?.mobile && olivia.smsConsent === 'UNKNOWN', `patient P0001 before STOP: ${show(olivia)}`);
    const hook = `${httpBase}/webhooks/sms`;
    const texted = async (body, signature) => {
      const form = { From: olivia.mobile, To: '+61255550000', Body: body, MessageSid: `SM${randomBytes(8).toString('hex')}` };
      // X-Twilio-Signature: base64 HMAC-SHA1 of the URL then every
      // parameter name and value, sorted by name.
      const data = hook + Object.keys(form).sort().map((k) => k + form[k]).join('');
      const sig = signature ?? createHmac('sha1', SMS_TOKEN).update(data).digest('base64');
      const res = await fetch(hook, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sig },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(15_000),
      });
      return { status: res.status, text: await res.text() };
    };
    const consent = async () =>
      (await gql(admin.token, `query($id: ID!) { node(id: $id) { ... on Patient { smsConsent } } }`, { id: olivia.id })).node.smsConsent;
    const forged = await texted('STOP', 'forged');
    assert(forged.status === 403, `a STOP with a forged signature: HTTP ${forged.status}, want 403`);
    assert((await consent()) === 'UNKNOWN', 'a forged STOP changed the consent');
    const stop = await texted('Stop');
    assert(stop.status === 200 && stop.text.includes('<Response>'), `signed STOP: HTTP ${stop.status} ${stop.text}`);
    const after = await consent();
    assert(after === 'OPTED_OUT', `after a signed STOP: smsConsent ${after}, want OPTED_OUT`);
    ok(`a signed STOP on /webhooks/sms opted ${olivia.mobile} out (smsConsent OPTED_OUT); a forged one was refused with 403`);
  }

  // 10. a bad token is refused with 4403
  const bad = wsClient('bad-token ws', port, 'nonsense');
  const refused = stream(bad, 'messageAdded', MESSAGE_ADDED);
  {
    const deadline = Date.now() + RECEIVE_TIMEOUT_MS;
    while (!refused.ended && Date.now() < deadline) await sleep(20);
  }
  const end = refused.ended;
  assert(end, `bad-token ws: still subscribed ${RECEIVE_TIMEOUT_MS / 1000} s after connecting with "Bearer nonsense"`);
  assert(end.error, 'bad-token ws: the subscription completed instead of failing');
  assert(
    end.error?.code === 4403,
    `bad-token ws: the subscription failed with ${closeText(end.error)}, want close code 4403`,
  );
  assert(bad.closes.some((e) => e.code === 4403), `bad-token ws: close events ${show(bad.closes.map((e) => e.code))}, want 4403`);
  ok(`a websocket with "Bearer nonsense" was refused: closed with 4403${end.error.reason ? ` (${end.error.reason})` : ''}`);
  await bad.dispose();

  // 10. shutdown ends each subscription with UNAVAILABLE / SERVER_SHUTDOWN
  // (never a bare complete), the socket closes with 1001, and the client
  // resumes from its last cursor after the restart, missing nothing.
  const patelDown = wsClient('patel ws (shutdown)', port, patel.token);
  const beforeDown = stream(patelDown, 'messageAdded', MESSAGE_ADDED);
  await awaitAck(patelDown, beforeDown);
  let lastCursor = null;
  {
    const probeDeadline = Date.now() + 20_000;
    for (let k = 1; !lastCursor; k++) {
      if (Date.now() > probeDeadline) fail('patel ws (shutdown): no probe message arrived within 20 s');
      await send(chen.token, channelID, `before shutdown ${k}`);
      try {
        const data = await beforeDown.next(`before shutdown ${k}`, 1_000);
        lastCursor = data.messageAdded.cursor;
      } catch (e) {
        if (!(e instanceof TestFailure)) throw e;
      }
    }
  }
  stopping = true;
  await stopServer();
  {
    const deadline = Date.now() + RECEIVE_TIMEOUT_MS;
    while (!beforeDown.ended && Date.now() < deadline) await sleep(20);
  }
  const downEnd = beforeDown.ended;
  assert(downEnd, 'patel ws (shutdown): the subscription did not end when the server shut down');
  assert(!downEnd.complete, 'patel ws (shutdown): the subscription ended with a bare complete, want an UNAVAILABLE error');
  const downErr = Array.isArray(downEnd.error) ? downEnd.error[0] : null;
  assert(
    downErr?.extensions?.code === 'UNAVAILABLE' && downErr?.extensions?.reason === 'SERVER_SHUTDOWN',
    `patel ws (shutdown): the subscription ended with ${closeText(downEnd.error)}, want UNAVAILABLE / SERVER_SHUTDOWN`,
  );
  assert(
    patelDown.closes.some((e) => e.code === 1001),
    `patel ws (shutdown): close events ${show(patelDown.closes.map((e) => e.code))}, want 1001 (going away)`,
  );
  ok('on SIGTERM the subscription ended with UNAVAILABLE / SERVER_SHUTDOWN, then the socket closed with 1001');
  await patelDown.dispose();
  childExited = null;
  stopping = false;
  // From here each live subscriber may have only SLOW_QUEUE releases
  // waiting (step 11).
  httpBase = await startServer(databaseURL, port, { WHISPER_SUBSCRIBER_QUEUE: String(SLOW_QUEUE) });
  await send(chen.token, channelID, 'while away');
  const patelBack = wsClient('patel ws (resumed)', port, patel.token);
  const resumed = stream(patelBack, 'messageAdded(after:)', MESSAGE_ADDED_AFTER, { after: lastCursor });
  await awaitAck(patelBack, resumed);
  for (;;) {
    // Probes sent after the one whose cursor we kept come first.
    const m = (await resumed.next('"while away" (replayed)')).messageAdded;
    if (m.body.startsWith('before shutdown ')) continue;
    expectMessage(m, { body: 'while away', channelID }, 'patel ws (resumed): first message after the restart');
    break;
  }
  await send(chen.token, channelID, 'after restart');
  expectMessage((await resumed.next('"after restart"')).messageAdded, { body: 'after restart', channelID }, 'patel ws (resumed): live after the replay');
  ok('after the restart Patel resumed from his last cursor: the message sent while he was away, then live, nothing missed');
  resumed.unsubscribe();
  await patelBack.dispose();

  await slowConsumer(port, chen, patel, channelID);

  // the server shuts down cleanly
  stopping = true;
  await stopServer();
  assert(
    childExited.code === 0,
    `the server exited with ${childExited.signal ?? `status ${childExited.code}`} on SIGTERM, want 0`,
  );
  ok('the server stopped cleanly on SIGTERM');
  console.log('# all checks passed');
}

// A page of the flood: FLOOD_BATCH aliased sendMessage fields, bodies
// "flood <n> xxx…" of about 3,900 characters.
const SLOW_QUEUE = 64;
const FLOOD = 600;
const FLOOD_BATCH = 50;
const FLOOD_PAD = 'x'.repeat(3_900);

// The slow client asks for each body 100 times (99 aliases): every flood
// message is about 390 KB to it, so the kernel's socket buffers (several
// MB on loopback) fill after a few dozen and the server's queue after
// SLOW_QUEUE more.
const SLOW_MESSAGE_ADDED = `subscription SlowMessageAdded {
  messageAdded { id body cursor channel { id } ${Array.from({ length: 99 }, (_, i) => `b${i}: body`).join(' ')} }
}`;

function floodNumber(m) {
  const match = /^flood (\d+) /.exec(m.body);
  return match ? Number(match[1]) : 0;
}

// 11. A graphql-ws client that stops reading (its socket paused) while Chen
// floods the channel falls more than WHISPER_SUBSCRIBER_QUEUE releases
// behind: once it reads again it gets what the server had written, then
// UNAVAILABLE / SLOW_CONSUMER and close 1001; resuming with after: its last
// cursor brings the rest, in order, nothing twice.
async function slowConsumer(port, chen, patel, channelID) {
  // A second subscriber that keeps reading: once it has the last flood
  // message, the server has released every one to the slow subscriber too.
  const witnessClient = wsClient('patel ws (witness)', port, patel.token);
  const witness = stream(witnessClient, 'messageAdded', MESSAGE_ADDED);
  await awaitAck(witnessClient, witness);
  await probeLive(witness, 'patel ws (witness)', 'witness probe', (n) => send(chen.token, channelID, `witness probe ${n}`), (d) => d.messageAdded.body);

  const sockets = [];
  class TrackedWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets.push(this);
    }
  }
  const slowClient = wsClient('patel ws (slow)', port, patel.token, TrackedWebSocket);
  const slow = stream(slowClient, 'messageAdded', SLOW_MESSAGE_ADDED);
  await awaitAck(slowClient, slow);
  const { sent } = await probeLive(slow, 'patel ws (slow)', 'slow probe', (n) => send(chen.token, channelID, `slow probe ${n}`), (d) => d.messageAdded.body);
  // The slow client's last message so far: the last probe.
  let lastCursor = null;
  for (;;) {
    const m = (await witness.next(`"slow probe ${sent.length}"`)).messageAdded;
    if (m.body === `slow probe ${sent.length}`) {
      lastCursor = m.cursor;
      break;
    }
  }
  assert(sockets.length === 1, `patel ws (slow): ${sockets.length} sockets, want 1`);
  sockets[0].pause(); // stop reading: the kernel's buffers fill, then the server's queue

  for (let first = 1; first <= FLOOD; first += FLOOD_BATCH) {
    const fields = [];
    for (let n = first; n < first + FLOOD_BATCH && n <= FLOOD; n++) {
      fields.push(`m${n}: sendMessage(input: {channelID: $c, body: "flood ${n} ${FLOOD_PAD}"}) { id }`);
    }
    await gql(chen.token, `mutation Flood($c: ID!) { ${fields.join('\n')} }`, { c: channelID });
  }
  for (let want = 1; want <= FLOOD; ) {
    const m = (await witness.next(`flood ${want}`)).messageAdded;
    const n = floodNumber(m);
    if (n === 0) continue;
    assert(n === want, `patel ws (witness): got flood ${n}, want flood ${want}`);
    want++;
  }
  ok(`Chen sent ${FLOOD} messages of 3,900 characters (each about 390 KB to the slow client) while Patel's slow client read nothing; his other socket received them all`);

  sockets[0].resume();
  const { results, end } = await slow.rest('the SLOW_CONSUMER ending');
  assert(!end.complete, 'patel ws (slow): the subscription ended with a bare complete, want UNAVAILABLE / SLOW_CONSUMER');
  const slowErr = Array.isArray(end.error) ? end.error[0] : null;
  assert(
    slowErr?.extensions?.code === 'UNAVAILABLE' && slowErr?.extensions?.reason === 'SLOW_CONSUMER',
    `patel ws (slow): the subscription ended with ${closeText(end.error)}, want UNAVAILABLE / SLOW_CONSUMER`,
  );
  {
    const deadline = Date.now() + RECEIVE_TIMEOUT_MS;
    while (!slowClient.closes.length && Date.now() < deadline) await sleep(20);
  }
  assert(
    slowClient.closes.some((e) => e.code === 1001),
    `patel ws (slow): close events ${show(slowClient.closes.map((e) => e.code))}, want 1001 (going away)`,
  );
  const got = [];
  for (const r of results) {
    assert(!r.errors?.length, `patel ws (slow): errors before the ending: ${show(r.errors)}`);
    const m = r.data.messageAdded;
    if (m.channel?.id !== channelID) continue;
    lastCursor = m.cursor;
    if (floodNumber(m)) got.push(floodNumber(m));
  }
  assert(got.length < FLOOD, `patel ws (slow): received all ${FLOOD} messages before its ending`);
  const before = got.length;
  ok(`the slow client, reading again, got ${got.length} messages, then UNAVAILABLE / SLOW_CONSUMER, then the socket closed with 1001`);
  await slowClient.dispose();
  await witnessClient.dispose();

  const backClient = wsClient('patel ws (slow, resumed)', port, patel.token);
  const back = stream(backClient, 'messageAdded(after:)', MESSAGE_ADDED_AFTER, { after: lastCursor });
  await awaitAck(backClient, back);
  while (got.length === 0 || got[got.length - 1] < FLOOD) {
    const m = (await back.next(`flood ${(got[got.length - 1] ?? 0) + 1}`)).messageAdded;
    if (floodNumber(m)) got.push(floodNumber(m));
  }
  const wrong = got.findIndex((n, i) => n !== i + 1);
  assert(
    got.length === FLOOD && wrong === -1,
    `patel ws (slow): before and after resuming, got ${got.length} flood messages; the ${wrong + 1}th is flood ${got[wrong]}, want 1…${FLOOD} once each in order`,
  );
  await send(chen.token, channelID, 'after the flood');
  expectMessage((await back.next('"after the flood"')).messageAdded, { body: 'after the flood', channelID }, 'patel ws (slow, resumed): live after the replay');
  ok(`resuming with after: its last cursor, the slow client received the other ${FLOOD - before} flood messages in order, nothing twice, then live`);
  back.unsubscribe();
  await backClient.dispose();
}

main().then(
  () => process.exit(0),
  (err) => abort(err instanceof TestFailure ? err.message : `unexpected error: ${err?.stack ?? err}`),
);
