// End-to-end test of Whisper's live streams with Apollo Client 4 and its
// normalised cache (InMemoryCache), the way a front-end uses them:
// GraphQLWsLink over graphql-ws for subscriptions, HttpLink for the rest.
//
// Every Channel a subscription delivers (inside unreadBadge, inside
// messageAdded) is written into the cache under Channel:<id>, so an object
// read when the subscription started, or when the hub first noticed a
// change, would overwrite newer values. The test lets Dr Patel's client
// subscribe to unreadBadge and messageAdded, has Dr Chen send messages,
// Patel read the conversation, and Chen send more, and checks after each
// stretch that the cached Channel.unreadCount and lastMessage equal what
// the server says.
//
// Builds the server and starts it with the demo practice on an empty
// database: PostgreSQL when WHISPER_E2E_APOLLO_DATABASE_URL is set, else a
// temporary SQLite file.
//
// Usage (from anywhere):  node e2e/apollo-cache.mjs
// Exit status 0 when every check passes; 1 with a "not ok" line otherwise.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { freePort } from './common.mjs';

const OVERALL_TIMEOUT_MS = 120_000;
const BUILD_TIMEOUT_MS = 300_000;
const READY_TIMEOUT_MS = 60_000;
const RECEIVE_TIMEOUT_MS = 10_000;
const PASSWORD = 'whisper-demo';
const CHEN = 'dr.chen@demo.clinic';
const PATEL = 'dr.patel@demo.clinic';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-apollo-'));
const binary = path.join(tmpDir, 'whisper');
let child = null;
let childExited = null;
let stopping = false;
const serverOutput = [];
const disposers = [];

class TestFailure extends Error {}
const fail = (message) => {
  throw new TestFailure(message);
};
const assert = (cond, message) => {
  if (!cond) fail(message);
};
const ok = (message) => console.log(`ok - ${message}`);
const show = (v) => JSON.stringify(v);

process.on('exit', () => {
  if (child && !childExited) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
  try {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  } catch {}
});

function abort(message) {
  console.error(`not ok - ${message}`);
  console.error('----- server output -----');
  console.error(serverOutput.join('').trimEnd() || '(none)');
  console.error('----- end of server output -----');
  if (child && !childExited) child.kill('SIGKILL');
  process.exit(1);
}
let overall = null; // started once the server is built: a cold `go build` is not part of it
process.on('unhandledRejection', (err) => abort(`unhandled rejection: ${err?.stack ?? err}`));

function run(cmd, args, opts, timeoutMs) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new TestFailure(`${cmd} ${args.join(' ')}: timed out\n${out}`));
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new TestFailure(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${out}`));
    });
  });
}


async function startServer(databaseURL, port) {
  child = spawn(binary, ['-demo', '-addr', `127.0.0.1:${port}`], {
    cwd: tmpDir,
    env: { ...process.env, DATABASE_URL: databaseURL, WHISPER_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => serverOutput.push(d.toString()));
  child.stderr.on('data', (d) => serverOutput.push(d.toString()));
  child.on('exit', (code, signal) => {
    childExited = { code, signal };
    if (!stopping) abort(`the server exited unexpectedly (${signal ?? `exit status ${code}`})`);
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return base;
    } catch {}
    await sleep(100); // polling the starting server's /readyz
  }
  fail(`GET /readyz did not return 200 within ${READY_TIMEOUT_MS / 1000} s`);
}

let httpBase = '';

// gql is a plain POST, outside Apollo: what the server says, without
// touching the cache under test.
async function plain(token, query, variables = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${httpBase}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  assert(!body.errors?.length && body.data, `POST ${query.trim().split('\n')[0]}: ${show(body)}`);
  return body.data;
}

async function login(email) {
  const { login } = await plain(null, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }`, {
    e: email,
    p: PASSWORD,
  });
  return { token: login.accessToken, id: login.user.id };
}

async function send(token, channelID, body) {
  const { sendMessage } = await plain(token, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id cursor } }`, {
    in: { channelID, body },
  });
  return sendMessage;
}

// apolloFor is the front-end's client: subscriptions over graphql-ws,
// everything else over HTTP, one normalised cache.
function apolloFor(port, token) {
  const ws = createClient({
    url: `ws://127.0.0.1:${port}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  disposers.push(() => ws.dispose());
  const http = new HttpLink({ uri: `${httpBase}/graphql`, headers: { Authorization: `Bearer ${token}` } });
  const link = ApolloLink.split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    },
    new GraphQLWsLink(ws),
    http,
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  disposers.push(() => client.stop());
  return client;
}

// watch subscribes through Apollo and lets the test wait for a value that
// satisfies a condition.
function watch(client, name, query, variables) {
  const seen = [];
  let error = null;
  let wake = () => {};
  const sub = client.subscribe({ query, variables }).subscribe({
    next(result) {
      if (result.error) error = result.error;
      else seen.push(result.data);
      wake();
    },
    error(err) {
      error = err;
      wake();
    },
  });
  disposers.push(() => sub.unsubscribe());
  return {
    seen,
    // until waits for a value satisfying cond: any value seen so far, or
    // with latest only the newest one (a stream of states, like the badge,
    // whose earlier values may satisfy cond by coincidence).
    async until(what, cond, { latest = false } = {}) {
      const deadline = Date.now() + RECEIVE_TIMEOUT_MS;
      for (;;) {
        if (error) fail(`${name}: failed while waiting for ${what}: ${error?.message ?? show(error)}`);
        const hit = latest ? [seen.at(-1)].filter((d) => d !== undefined && cond(d))[0] : seen.find(cond);
        if (hit) return hit;
        const left = deadline - Date.now();
        if (left <= 0) fail(`${name}: no value with ${what} within ${RECEIVE_TIMEOUT_MS / 1000} s (last: ${show(seen.at(-1))})`);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
}

const BADGE = gql`
  subscription Badge {
    unreadBadge {
      total
      channels {
        unread
        channel {
          id
          unreadCount
          lastMessage {
            id
          }
        }
      }
    }
  }
`;

const MESSAGES = gql`
  subscription Messages($after: String) {
    messageAdded(after: $after) {
      id
      body
      channel {
        id
        lastMessage {
          id
        }
      }
    }
  }
`;

const CHANNEL_FIELDS = gql`
  fragment Cached on Channel {
    unreadCount
    lastMessage {
      id
    }
  }
`;

async function main() {
  console.log('building the server');
  await run('go', ['build', '-o', binary, './server'], { cwd: repoRoot }, BUILD_TIMEOUT_MS);
  overall = setTimeout(() => abort(`overall timeout: not finished within ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS);
  const databaseURL = process.env.WHISPER_E2E_APOLLO_DATABASE_URL || `sqlite:${path.join(tmpDir, 'whisper.db')}`;
  const port = await freePort();
  httpBase = await startServer(databaseURL, port);
  ok(`server up (${databaseURL.startsWith('postgres') ? 'PostgreSQL' : 'SQLite'})`);

  const chen = await login(CHEN);
  const patel = await login(PATEL);
  const { openConversation: ch } = await plain(chen.token, `mutation($in: OpenConversationInput!) { openConversation(input: $in) { id } }`, {
    in: { userIDs: [patel.id] },
  });
  // A first message gives the stream a cursor to resume from, so nothing
  // sent later can fall before the subscription is registered.
  const hello = await send(chen.token, ch.id, 'hello');

  const apollo = apolloFor(port, patel.token);
  const badge = watch(apollo, 'unreadBadge', BADGE);
  const messages = watch(apollo, 'messageAdded', MESSAGES, { after: hello.cursor });
  const unreadIn = (d) => d.unreadBadge.channels.find((c) => c.channel.id === ch.id)?.unread ?? 0;
  await badge.until('the first badge', () => true);

  const serverSays = async () => {
    const { node } = await plain(patel.token, `query($id: ID!) { node(id: $id) { ... on Channel { unreadCount lastMessage { id } } } }`, {
      id: ch.id,
    });
    return node;
  };
  const cached = () => apollo.cache.readFragment({ id: apollo.cache.identify({ __typename: 'Channel', id: ch.id }), fragment: CHANNEL_FIELDS });
  const settle = async (unread, lastID, what) => {
    // The badge is a state: an earlier event may have said the same count
    // (2 unread on the way to 4), so only the newest one counts.
    await badge.until(`${unread} unread in the conversation`, (d) => unreadIn(d) === unread, { latest: true });
    await messages.until(`message ${lastID}`, (d) => d.messageAdded.id === lastID);
    const server = await serverSays();
    assert(server.unreadCount === unread && server.lastMessage?.id === lastID, `${what}: the server says ${show(server)}`);
    const inCache = cached();
    assert(inCache, `${what}: Channel:${ch.id} is not in Apollo's cache`);
    assert(
      inCache.unreadCount === server.unreadCount,
      `${what}: Apollo's cached Channel.unreadCount is ${inCache.unreadCount}, the server says ${server.unreadCount} (a stale Channel overwrote the cache)`,
    );
    assert(
      inCache.lastMessage?.id === server.lastMessage?.id,
      `${what}: Apollo's cached Channel.lastMessage is ${show(inCache.lastMessage)}, the server says ${show(server.lastMessage)}`,
    );
    ok(`${what}: the cached Channel says ${unread} unread and the latest message, as the server does`);
  };

  let last;
  for (const body of ['one', 'two', 'three']) last = await send(chen.token, ch.id, body);
  await settle(4, last.id, 'after four messages');

  // Patel reads the conversation (through Apollo, as a front-end would);
  // then Chen writes twice more.
  await apollo.mutate({
    mutation: gql`
      mutation Read($id: ID!) {
        markChannelRead(channelID: $id) {
          id
          unreadCount
        }
      }
    `,
    variables: { id: ch.id },
  });
  for (const body of ['four', 'five']) last = await send(chen.token, ch.id, body);
  await settle(2, last.id, 'after reading and two more messages');

  for (const dispose of disposers.reverse()) await dispose();
  stopping = true;
  child.kill('SIGTERM');
  clearTimeout(overall);
}

main().then(
  () => process.exit(0),
  (err) => abort(err instanceof TestFailure ? err.message : (err?.stack ?? String(err))),
);
