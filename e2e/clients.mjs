// End-to-end test of Whisper with the clients front-end developers use
// (SPEC §15), against the demo practice on a throw-away SQLite database:
//
//   a. the graphql-http audit (GraphQL-over-HTTP spec): no warnings, no errors;
//   b. Apollo Client 4's error link reading extensions.reason TOKEN_EXPIRED
//      from an HTTP request and from a websocket subscription (GraphQLWsLink),
//      refreshing (refreshSession, with the stale header still sent) and
//      carrying on: the query answers, the subscription resumes by cursor;
//   c. Apollo's persisted-query link (sha256 from node:crypto): the first
//      request misses and falls back to the full query, later ones send the
//      hash alone; over POST and GET;
//   d. a graphql-sse client (distinct connections) receiving messageAdded,
//      disconnecting, and resuming with after: (the cursor of the last
//      message it saw) without missing one.
//
// Usage: node e2e/clients.mjs (Node 20). Exit status 0 when every check passes.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { ErrorLink } from '@apollo/client/link/error';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { auditServer } from 'graphql-http';
import { createClient as createSSEClient } from 'graphql-sse';
import { createClient as createWSClient } from 'graphql-ws';
import { from, switchMap } from 'rxjs';
import WebSocket from 'ws';

import { freePort, run, untilReady } from './common.mjs';

// Node 20 has no global WebSocket; browsers (and Apollo's link, which
// consults it) do.
globalThis.WebSocket ??= WebSocket;

const OVERALL_TIMEOUT_MS = 300_000; // includes building the server
const WAIT_MS = 15_000;
const TOKEN_TTL_S = 12; // short access tokens, so expiry is seen within the run (long enough for a loaded machine)
const PASSWORD = 'whisper-demo';
const CHEN = 'dr.chen@demo.clinic';
const PATEL = 'dr.patel@demo.clinic';
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-clients-'));
const binary = path.join(tmpDir, 'whisper');
const output = [];
const closers = [];
let server = null;
let serverExited = false;

function fail(message) {
  throw new Error(message);
}
function assert(cond, message) {
  if (!cond) fail(message);
}
function ok(message) {
  console.log(`ok - clients: ${message}`);
}
const show = (v) => JSON.stringify(v);

process.on('exit', () => {
  if (server && !serverExited) server.kill('SIGKILL');
  fs.rmSync(tmpDir, { recursive: true, force: true });
});
setTimeout(() => {
  console.error(`not ok - clients: did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`);
  console.error(output.join(''));
  process.exit(1);
}, OVERALL_TIMEOUT_MS).unref();

// within resolves with promise's value, or fails after WAIT_MS naming what.
function within(promise, what, ms = WAIT_MS) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms);
    }),
  ]);
}

// queue collects what a stream delivers, so a test can wait for the next.
function queue() {
  const items = [];
  const waiters = [];
  return {
    push(v) {
      const w = waiters.shift();
      if (w) w(v);
      else items.push(v);
    },
    next(what) {
      if (items.length) return Promise.resolve(items.shift());
      return within(new Promise((resolve) => waiters.push(resolve)), what);
    },
  };
}

// ------------------------------------------------------------- GraphQL --

let base = '';
async function plain(token, query, variables = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors?.length) fail(`errors: ${show(body.errors)}\n  query: ${query}`);
  return body.data;
}

const LOGIN = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken expiresAt user { id } } }`;
async function login(email) {
  const { login: l } = await plain(null, LOGIN, { e: email, p: PASSWORD });
  return { access: l.accessToken, refresh: l.refreshToken, expiresAt: Date.parse(l.expiresAt), id: l.user.id };
}
let sender = null; // Chen's session, kept fresh
async function send(channelID, body) {
  if (!sender) sender = await login(CHEN);
  if (sender.expiresAt - Date.now() < 2_000) await refreshed(sender);
  const { sendMessage } = await plain(sender.access, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { cursor body } }`, {
    in: { channelID, body },
  });
  return sendMessage;
}
// refreshed rotates a session's tokens (refreshSession), as a client does
// before it reconnects.
async function refreshed(session) {
  const { refreshSession: r } = await plain(
    null,
    `mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken expiresAt } }`,
    { r: session.refresh },
  );
  Object.assign(session, { access: r.accessToken, refresh: r.refreshToken, expiresAt: Date.parse(r.expiresAt) });
}

// untilExpired waits for the moment a session's access token has expired.
async function untilExpired(session) {
  const left = session.expiresAt - Date.now() + 500;
  if (left > 0) await sleep(left);
}

const MESSAGE_ADDED = gql`
  subscription Added($c: ID, $after: String) {
    messageAdded(channelID: $c, after: $after) { id body cursor }
  }
`;
const MESSAGE_ADDED_TEXT = `subscription($c: ID, $after: String) { messageAdded(channelID: $c, after: $after) { id body cursor } }`;

// --------------------------------------------------------------- checks --

async function audit() {
  const results = await auditServer({ url: `${base}/graphql` });
  const bad = results.filter((r) => r.status === 'warn' || r.status === 'error');
  for (const r of bad) console.log(`#   ${r.status} ${r.id} ${r.name}: ${r.reason}`);
  const oks = results.filter((r) => r.status === 'ok').length;
  assert(bad.length === 0, `graphql-http audit: ${oks} ok, ${bad.length} warnings or errors`);
  ok(`graphql-http auditServer: ${oks} ok, 0 warnings, 0 errors`);
}

// apollo builds an Apollo client for a session, with an error link that
// refreshes the session on TOKEN_EXPIRED and tries again (a subscription
// resumes after the last cursor it saw), recording every reason it read.
function apollo(session, reasons) {
  const auth = new SetContextLink((prev) => ({ headers: { ...prev.headers, Authorization: `Bearer ${session.access}` } }));
  const http = new HttpLink({ uri: `${base}/graphql` });
  const ws = createWSClient({
    url: `${base.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: () => ({ Authorization: `Bearer ${session.access}` }),
    retryAttempts: 5,
    shouldRetry: () => true,
  });
  closers.push(() => ws.dispose());
  let client;
  const refresh = async () => {
    // Through Apollo itself: the expired token is still in the header.
    const { data } = await client.mutate({
      mutation: gql`mutation Refresh($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken expiresAt } }`,
      variables: { r: session.refresh },
    });
    session.access = data.refreshSession.accessToken;
    session.refresh = data.refreshSession.refreshToken;
    session.expiresAt = Date.parse(data.refreshSession.expiresAt);
  };
  const errors = new ErrorLink(({ error, operation, forward }) => {
    if (!CombinedGraphQLErrors.is(error)) return;
    const reason = error.errors.map((e) => e.extensions?.reason).find(Boolean);
    reasons.push({ operation: operation.operationName, reason });
    if (reason !== 'TOKEN_EXPIRED') return;
    const resume = operation.getContext().lastCursor;
    if (resume?.value) operation.variables = { ...operation.variables, after: resume.value };
    return from(refresh()).pipe(switchMap(() => forward(operation)));
  });
  const isSubscription = ({ query }) => {
    const def = getMainDefinition(query);
    return def.kind === 'OperationDefinition' && def.operation === 'subscription';
  };
  client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([errors, ApolloLink.split(isSubscription, new GraphQLWsLink(ws), ApolloLink.from([auth, http]))]),
  });
  return client;
}

async function tokenExpiredOverHTTP() {
  const patel = await login(PATEL);
  const reasons = [];
  const client = apollo(patel, reasons);
  const first = patel.access;
  await untilExpired(patel);
  const { data } = await within(client.query({ query: gql`query Me { me { id email } }`, fetchPolicy: 'network-only' }), 'me after expiry');
  assert(
    reasons.some((r) => r.operation === 'Me' && r.reason === 'TOKEN_EXPIRED'),
    `the error link read ${show(reasons)}, want TOKEN_EXPIRED for Me`,
  );
  assert(data?.me?.email === PATEL, `after refreshing, me is ${show(data)}`);
  assert(patel.access !== first, 'the session was not refreshed');
  ok('HTTP: Apollo’s error link read extensions.reason TOKEN_EXPIRED, refreshed (stale header sent) and the query answered');
}

async function tokenExpiredOverWebsocket(channelID) {
  const patel = await login(PATEL);
  const reasons = [];
  const client = apollo(patel, reasons);
  const m0 = await send(channelID, 'ws: before subscribing');
  const got = queue();
  const lastCursor = { value: m0.cursor };
  const sub = client
    .subscribe({ query: MESSAGE_ADDED, variables: { c: channelID, after: m0.cursor }, context: { lastCursor } })
    .subscribe({
      next: (r) => {
        if (r.data?.messageAdded) {
          lastCursor.value = r.data.messageAdded.cursor;
          got.push(r.data.messageAdded.body);
        } else got.push(`unexpected ${show(r)}`);
      },
      error: (e) => got.push(`error ${e.message}`),
    });
  closers.push(() => sub.unsubscribe());
  await send(channelID, 'ws: one');
  assert((await got.next('the first message')) === 'ws: one', 'the subscription did not deliver "ws: one"');
  // The token runs out: the subscription's error names the reason; the
  // link refreshes and resubscribes after the last cursor it saw.
  await within(
    (async () => {
      while (!reasons.some((r) => r.reason === 'TOKEN_EXPIRED')) await sleep(50);
    })(),
    'the subscription to end with TOKEN_EXPIRED',
  );
  await send(channelID, 'ws: two');
  await send(channelID, 'ws: three');
  const after = [await got.next('"ws: two" after refreshing'), await got.next('"ws: three"')];
  assert(show(after) === show(['ws: two', 'ws: three']), `after refreshing, the subscription delivered ${show(after)}`);
  ok('websocket: Apollo’s error link read extensions.reason TOKEN_EXPIRED, refreshed and resumed by cursor; nothing missed');
}

async function persistedQueries() {
  const chen = await login(CHEN);
  for (const useGET of [false, true]) {
    const requests = [];
    const recordingFetch = async (uri, opts) => {
      const url = new URL(uri);
      const body = opts.body ? JSON.parse(opts.body) : Object.fromEntries(url.searchParams);
      const res = await fetch(uri, opts);
      const text = await res.clone().text();
      requests.push({ method: opts.method ?? 'GET', query: Boolean(body.query), hash: Boolean(body.extensions), answer: text });
      return res;
    };
    const make = () =>
      new ApolloClient({
        cache: new InMemoryCache(),
        link: ApolloLink.from([
          createPersistedQueryLink({ sha256: (q) => createHash('sha256').update(q).digest('hex'), useGETForHashedQueries: useGET }),
          new HttpLink({ uri: `${base}/graphql`, headers: { Authorization: `Bearer ${chen.access}` }, fetch: recordingFetch }),
        ]),
      });
    // A document this server has not seen: named per run of the loop.
    const query = gql(`query Persisted${useGET ? 'Get' : 'Post'} { me { id name email } }`);
    const first = await within(make().query({ query }), 'the first persisted query');
    assert(first.data?.me?.email === CHEN, `first persisted query: ${show(first)}`);
    assert(requests.length === 2 && !requests[0].query && requests[0].hash, `first: requests ${show(requests)}, want the hash alone, then the query`);
    assert(/PERSISTED_QUERY_NOT_FOUND/.test(requests[0].answer), `the miss answered ${requests[0].answer}`);
    assert(requests[1].query && requests[1].hash, `the fallback sent ${show(requests[1])}`);
    requests.length = 0;
    const again = await within(make().query({ query }), 'the hashed query from a fresh client');
    assert(again.data?.me?.email === CHEN, `hash alone: ${show(again)}`);
    assert(requests.length === 1 && !requests[0].query && requests[0].method === (useGET ? 'GET' : 'POST'), `hit: requests ${show(requests)}`);
    ok(`Apollo’s persisted-query link over ${useGET ? 'GET' : 'POST'}: a miss falls back to the full query, then the hash alone answers`);
  }
}

async function sseResume(channelID) {
  const patel = await login(PATEL);
  const client = createSSEClient({
    url: `${base}/graphql`,
    headers: () => ({ Authorization: `Bearer ${patel.access}` }),
    retryAttempts: 0,
  });
  closers.push(() => client.dispose());
  const listen = (after) => {
    const got = queue();
    const stop = client.subscribe(
      { query: MESSAGE_ADDED_TEXT, variables: { c: channelID, after } },
      {
        next: (r) => got.push(r.data?.messageAdded ?? { error: r.errors }),
        error: (e) => got.push({ error: String(e?.message ?? show(e)) }),
        complete: () => {},
      },
    );
    return { got, stop };
  };
  const m0 = await send(channelID, 'sse: before subscribing');
  await refreshed(patel);
  const first = listen(m0.cursor);
  await send(channelID, 'sse: one');
  const one = await first.got.next('"sse: one" over SSE');
  assert(one.body === 'sse: one' && one.cursor, `over SSE: ${show(one)}`);
  first.stop(); // disconnect
  const missed = [await send(channelID, 'sse: two'), await send(channelID, 'sse: three')];
  await refreshed(patel); // access tokens are short here: reconnect with a fresh one
  const second = listen(one.cursor);
  const resumed = [await second.got.next('"sse: two" after resuming'), await second.got.next('"sse: three"')];
  assert(
    show(resumed.map((m) => m.body)) === show(missed.map((m) => m.body)),
    `resumed with after: the last cursor seen: ${show(resumed)}, want ${show(missed.map((m) => m.body))}`,
  );
  await send(channelID, 'sse: four');
  const four = await second.got.next('"sse: four" live');
  assert(four.body === 'sse: four', `the resumed stream did not go on live: ${show(four)}`);
  second.stop();
  ok('graphql-sse (distinct connections): messageAdded delivered; after disconnecting, resumed with after: and missed nothing');
}

async function main() {
  await run('go', ['build', '-o', binary, './server']);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: `sqlite:${path.join(tmpDir, 'clients.db')}`,
    WHISPER_LOG_LEVEL: 'warn',
    WHISPER_ACCESS_TOKEN_TTL: `${TOKEN_TTL_S}s`,
  };
  server = spawn(binary, ['-demo', '-addr', `127.0.0.1:${port}`], { cwd: tmpDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => output.push(d.toString()));
  server.stderr.on('data', (d) => output.push(d.toString()));
  server.on('exit', () => (serverExited = true));
  await untilReady(base, () => serverExited);
  const chen = await login(CHEN);
  const patel = await login(PATEL);
  const { openConversation: ch } = await plain(chen.access, `mutation($u: ID!) { openConversation(input: {userIDs: [$u]}) { id } }`, {
    u: patel.id,
  });

  await audit();
  await tokenExpiredOverHTTP();
  await tokenExpiredOverWebsocket(ch.id);
  await persistedQueries();
  await sseResume(ch.id);
}

main().then(
  async () => {
    for (const c of closers) await Promise.resolve(c()).catch(() => {});
    server.kill('SIGTERM');
    process.exit(0);
  },
  (err) => {
    console.error(`not ok - clients: ${err.stack ?? err}`);
    console.error(output.join(''));
    process.exit(1);
  },
);
