// End-to-end test of the patient portal (issue 12, SPEC §12) with the real
// graphql-ws client.
//
// Builds the server and starts it with the demo practice on an empty
// database (PostgreSQL when WHISPER_E2E_PORTAL_DATABASE_URL is set, else a
// temporary SQLite file), email over a real SMTP conversation to a small
// server on loopback (e2e/mailbox.mjs), a 20-second access token and a
// 3-second nudge delay. The receptionist invites patient Amelia Jones by
// email; she sets her password with the emailed link, starts a
// conversation, and sees Dr Chen's reply arrive live with his name and job
// title; her unreadBadge goes to 1 and back to 0 when she reads; Dr Chen's
// badge follows her messages live and her reply raises his PATIENT_PORTAL
// notification live; once her access token has expired (her socket ends
// with TOKEN_EXPIRED) patientRefreshSession keeps her signed in; the reply
// she leaves unread brings one nudge email, and only one (a later nudge to
// another patient shows the worker has passed over her conversation again);
// finally the receptionist revokes her portal access and her stream ends
// with PORTAL_ACCESS_REVOKED.
//
// Usage: node e2e/portal.mjs. Exit status 0 when every check passes.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { freePort, graphqlAt, run, untilReady } from './common.mjs';
import { startMailbox, tokenIn } from './mailbox.mjs';

const OVERALL_TIMEOUT_MS = 240_000; // after the build
const WAIT_MS = 15_000;
const ACCESS_TTL_S = 30;
const NUDGE_WAIT_MS = 45_000; // the delay (3 s) and a pass of the nudge worker (every 30 s)
const DEMO_PASSWORD = 'whisper-demo';
const RECEPTION = 'reception@demo.clinic';
const CHEN = 'dr.chen@demo.clinic';
const AMELIA = 'amelia.jones@example.com';
const OLIVIA = 'olivia.brown@example.com';
const PORTAL_PASSWORD = 'amelia portal password';
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-portal-'));
const binary = path.join(tmpDir, 'whisper');
const output = [];
const clients = [];
let server = null;
let serverExited = false;

function fail(message) {
  throw new Error(message);
}
function assert(cond, message) {
  if (!cond) fail(message);
}
function ok(message) {
  console.log(`ok - portal: ${message}`);
}
const show = JSON.stringify;

process.on('exit', () => {
  if (server && !serverExited) server.kill('SIGKILL');
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

// ------------------------------------------------------------- GraphQL --

let wsURL = '';
let post;
let gql;
async function login(email) {
  return (await gql(null, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`, { e: email, p: DEMO_PASSWORD })).login;
}

// staff returns a fresh staff access token (they live ACCESS_TTL_S).
const signedIn = new Map();
async function staff(email) {
  const s = signedIn.get(email);
  if (s && Date.now() - s.at < (ACCESS_TTL_S * 1000) / 3) return s.token;
  const token = (await login(email)).accessToken;
  signedIn.set(email, { token, at: Date.now() });
  return token;
}

// socket opens a graphql-ws connection signed in with token (on the first
// subscription).
function socket(label, token) {
  const client = createClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  client.label = label;
  clients.push(client);
  return client;
}

// stream subscribes and queues what arrives: until() consumes values until
// one satisfies a predicate, end() waits for the stream's error.
function stream(client, name, query, variables) {
  const queue = [];
  let end = null;
  let wake = () => {};
  client.subscribe(
    { query, variables },
    {
      next: (r) => {
        queue.push(r);
        wake();
      },
      error: (e) => {
        end = { error: e };
        wake();
      },
      complete: () => {
        end = { complete: true };
        wake();
      },
    },
  );
  const what = `${client.label}: ${name}`;
  const waitFor = async (expecting, timeoutMs, seen = []) => {
    const deadline = Date.now() + timeoutMs;
    while (queue.length === 0 && !end) {
      const left = deadline - Date.now();
      if (left <= 0) fail(`${what}: nothing more arrived within ${timeoutMs / 1000} s (waiting for ${expecting}; saw ${show(seen)})`);
      await Promise.race([new Promise((r) => (wake = r)), sleep(left)]);
    }
  };
  return {
    // until returns the first value (data) for which pred holds, skipping
    // earlier ones; seen lists every value consumed.
    async until(expecting, pred, timeoutMs = WAIT_MS) {
      const deadline = Date.now() + timeoutMs;
      const seen = [];
      for (;;) {
        await waitFor(expecting, Math.max(deadline - Date.now(), 1), seen);
        if (queue.length === 0) fail(`${what}: ended while waiting for ${expecting}: ${show(end?.error ?? end)} (saw ${show(seen)})`);
        const r = queue.shift();
        if (r.errors?.length) fail(`${what}: errors while waiting for ${expecting}: ${show(r.errors)}`);
        seen.push(r.data);
        if (pred(r.data)) return r.data;
      }
    },
    // end waits for the stream to end and returns its error.
    async end(expecting, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        queue.length = 0;
        if (end) return end.error ?? end;
        const left = deadline - Date.now();
        if (left <= 0) fail(`${what}: did not end within ${timeoutMs / 1000} s (waiting for ${expecting})`);
        await Promise.race([new Promise((r) => (wake = r)), sleep(left)]);
      }
    },
  };
}

const BADGE = `subscription { unreadBadge { total channels { channel { id } unread } notifications { kind unread } } }`;
const channelUnread = (d, id) => d.unreadBadge.channels.find((c) => c.channel.id === id)?.unread ?? 0;
const portalUnread = (d) => d.unreadBadge.notifications.find((n) => n.kind === 'PATIENT_PORTAL')?.unread ?? 0;
const NUDGE = /You have a new message from/;

async function main() {
  await run('go', ['build', '-o', binary, './server']);
  const overall = setTimeout(() => {
    console.error(`not ok - portal: did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`);
    console.error(output.join(''));
    process.exit(1);
  }, OVERALL_TIMEOUT_MS);
  overall.unref();
  const databaseURL = process.env.WHISPER_E2E_PORTAL_DATABASE_URL || `sqlite:${path.join(tmpDir, 'portal.db')}`;
  const smtp = await startMailbox('portal.test');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  ({ post, gql } = graphqlAt(base));
  wsURL = `ws://127.0.0.1:${port}/graphql`;
  const env = {
    ...process.env,
    DATABASE_URL: databaseURL,
    WHISPER_APP_URL: 'https://portal.practice.test',
    WHISPER_SMTP_HOST: '127.0.0.1',
    WHISPER_SMTP_PORT: String(smtp.port),
    WHISPER_SMTP_FROM: 'whisper@practice.test',
    WHISPER_SMTP_STARTTLS: 'false',
    WHISPER_ACCESS_TOKEN_TTL: `${ACCESS_TTL_S}s`,
    WHISPER_PATIENT_NUDGE_AFTER: '3s',
    WHISPER_SEND_WINDOW: '00:00-24:00', // the invitation is patient mail; the test runs at any hour
    WHISPER_LOG_LEVEL: 'warn',
  };
  server = spawn(binary, ['-demo', '-addr', `127.0.0.1:${port}`], { cwd: tmpDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => output.push(d.toString()));
  server.stderr.on('data', (d) => output.push(d.toString()));
  server.on('exit', () => (serverExited = true));
  await untilReady(base, () => serverExited);

  // 1. The receptionist invites Amelia by email.
  const found = (await gql(await staff(RECEPTION), `{ patients(search: "Amelia Jones") { edges { node { id email portalAccess } } } }`)).patients.edges;
  assert(found.length === 1 && found[0].node.email === AMELIA && !found[0].node.portalAccess, `patients(search: "Amelia Jones") = ${show(found)}`);
  const amelia = found[0].node;
  const invite = `mutation($id: ID!) { invitePatient(patientID: $id, via: EMAIL) { url expiresAt patient { id } } }`;
  const inv = (await gql(await staff(RECEPTION), invite, { id: amelia.id })).invitePatient;
  assert(inv.url.startsWith('https://portal.practice.test/portal/accept-invitation?token=') && inv.patient.id === amelia.id, `invitePatient = ${show(inv)}`);
  const mail = await smtp.mailTo(AMELIA, /portal\/accept-invitation/);
  assert(/Subject: Your patient portal invitation from /.test(mail) && !mail.includes('2001-09-14'), `the invitation email reads ${mail}`);
  ok('the receptionist invites Amelia; the link arrives over SMTP');

  // 2. Amelia sets her password and is signed in.
  const accept = `mutation($t: String!, $p: String!) { acceptPatientInvitation(token: $t, password: $p) { accessToken refreshToken patient { id firstName portalAccess } } }`;
  const token = tokenIn(mail, 'portal/accept-invitation');
  let her = (await gql(null, accept, { t: token, p: PORTAL_PASSWORD })).acceptPatientInvitation;
  assert(her.patient.id === amelia.id && her.patient.portalAccess && her.refreshToken.startsWith('wr_'), `acceptPatientInvitation = ${show(her)}`);
  const again = await post(null, accept, { t: token, p: PORTAL_PASSWORD });
  assert(again.errors?.[0]?.extensions?.code === 'BAD_USER_INPUT', `the used link answered ${show(again)}`);
  const signIn = await post(null, `mutation($e: String!, $p: String!) { patientLogin(email: $e, password: $p) { accessToken } }`, { e: AMELIA, p: PORTAL_PASSWORD });
  assert(signIn.data?.patientLogin?.accessToken, `patientLogin with the new password: ${show(signIn)}`);
  ok('Amelia sets her password with the link (used once) and signs in');

  // 3. Live: Dr Chen's badge and notifications, Amelia's badge.
  const chenWs = socket('chen', await staff(CHEN));
  // notificationAdded sends nothing when subscribed: a probe reminder Chen
  // sets himself arrives once the stream is registered.
  const chenNotes = stream(chenWs, 'notificationAdded', `subscription { notificationAdded(kinds: [PATIENT_PORTAL, REMINDER]) { id kind title patient { id } } }`);
  const chenBadge = stream(chenWs, 'unreadBadge', BADGE);
  // The demo practice already has notifications for Chen (one of them
  // PATIENT_PORTAL): what follows is counted from his first badge.
  const portalBase = portalUnread(await chenBadge.until('his first badge', () => true));
  for (let n = 1; ; n++) {
    const probe = (await gql(await staff(CHEN), `mutation($t: String!) { createNotification(input: {kind: REMINDER, title: $t}) { id } }`, { t: `probe ${n}` })).createNotification;
    await gql(await staff(CHEN), `mutation($id: ID!) { acknowledgeNotification(id: $id) { id } }`, { id: probe.id });
    const got = await chenNotes.until(`probe ${n}`, () => true, 1_000).catch(() => null);
    if (got) break;
    assert(n < 20, 'Chen\'s notificationAdded stream never registered');
  }
  // Her access token lives ACCESS_TTL_S and the probes above took some of
  // it: step 3 starts with a fresh one (step 4 watches it run out).
  her = { ...her, ...(await gql(null, `mutation($r: String!) { patientRefreshSession(refreshToken: $r) { accessToken refreshToken } }`, { r: her.refreshToken })).patientRefreshSession };
  const herWs = socket('amelia', her.accessToken);
  const herBadge = stream(herWs, 'unreadBadge', BADGE);
  const first = await herBadge.until('her first badge', () => true);
  assert(first.unreadBadge.total === 0, `Amelia's first badge: ${show(first)}`);

  const started = (await gql(her.accessToken, `mutation { startPatientConversation(input: {topic: "Repeat prescription", body: "Could I get my inhaler script renewed?"}) { id kind } }`)).startPatientConversation;
  assert(started.kind === 'PATIENT', `startPatientConversation = ${show(started)}`);
  const convo = started.id;
  await chenBadge.until('her new conversation on Chen\'s badge', (d) => channelUnread(d, convo) === 1);
  ok('Amelia starts a conversation; Dr Chen\'s badge counts it live');

  const cursor = (await gql(her.accessToken, `query($c: ID!) { messages(channelID: $c) { edges { node { cursor } } } }`, { c: convo })).messages.edges[0].node.cursor;
  // Resuming after her own message: Chen's reply arrives whether it is sent
  // before or after the stream is registered.
  const herMessages = stream(herWs, 'messageAdded', `subscription($c: ID!, $a: String) { messageAdded(channelID: $c, after: $a) { id body cursor sender { name jobTitle } } }`, { c: convo, a: cursor });
  await gql(await staff(CHEN), `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "Of course, it will be ready at the front desk tomorrow."}) { id } }`, { c: convo });
  const reply = (await herMessages.until('Dr Chen\'s reply', () => true)).messageAdded;
  assert(reply.body.startsWith('Of course') && reply.sender?.name === 'Dr Wei Chen' && reply.sender?.jobTitle === 'General Practitioner', `Amelia received ${show(reply)}`);
  ok('Amelia sees Dr Chen\'s reply live, with his name and job title');

  await herBadge.until('her badge at 1', (d) => d.unreadBadge.total === 1);
  await gql(her.accessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, { c: convo });
  await herBadge.until('her badge back at 0', (d) => d.unreadBadge.total === 0);
  ok('her unreadBadge goes to 1 and back to 0 when she reads');

  await gql(her.accessToken, `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "Thank you!"}) { id } }`, { c: convo });
  const note = (await chenNotes.until('the PATIENT_PORTAL notification', (d) => d.notificationAdded.kind === 'PATIENT_PORTAL')).notificationAdded;
  assert(note.patient?.id === amelia.id, `Chen's PATIENT_PORTAL notification: ${show(note)}`);
  await chenBadge.until('her reply and the notification on Chen\'s badge', (d) => channelUnread(d, convo) === 1 && portalUnread(d) === portalBase + 1);
  await gql(await staff(CHEN), `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, { c: convo });
  await chenBadge.until('Chen\'s badge after reading', (d) => channelUnread(d, convo) === 0 && portalUnread(d) === portalBase);
  ok('her reply raises Dr Chen\'s PATIENT_PORTAL notification and his badge live; reading clears both');

  // 4. The reply she leaves unread, and her token running out.
  await gql(await staff(CHEN), `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "Also, please book a review for next month."}) { id } }`, { c: convo });
  await herBadge.until('the unread reply on her badge', (d) => d.unreadBadge.total === 1);
  const expired = await herBadge.end('TOKEN_EXPIRED', (ACCESS_TTL_S + 10) * 1000);
  assert(show(expired).includes('TOKEN_EXPIRED'), `her stream ended with ${show(expired)}`);
  const refused = await post(her.accessToken, `{ patientConversations { totalCount } }`);
  assert(refused.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED', `the expired token answered ${show(refused)}`);
  her = (await gql(null, `mutation($r: String!) { patientRefreshSession(refreshToken: $r) { accessToken refreshToken } }`, { r: her.refreshToken })).patientRefreshSession;
  const list = (await gql(her.accessToken, `{ patientConversations(filter: {read: UNREAD}) { totalCount } }`)).patientConversations;
  assert(list.totalCount === 1, `after the refresh her unread conversations: ${show(list)}`);
  const herWs2 = socket('amelia (refreshed)', her.accessToken);
  const herBadge2 = stream(herWs2, 'unreadBadge', BADGE);
  const after = await herBadge2.until('her badge after the refresh', () => true);
  assert(after.unreadBadge.total === 1, `her badge after the refresh: ${show(after)}`);
  ok('after her access token expired (TOKEN_EXPIRED), patientRefreshSession keeps her signed in, live again');

  // 5. The nudge: one email, no clinical content, and only one. Olivia (a
  // demo portal patient, opted out of SMS so her nudge is an email too) is
  // written to after Amelia's nudge: her nudge comes from a later pass of
  // the worker, which saw Amelia's conversation again and left it.
  const nudge = await smtp.mailTo(AMELIA, NUDGE, NUDGE_WAIT_MS);
  assert(!/inhaler|review|prescription/i.test(nudge), `the nudge carries clinical content: ${nudge}`);
  ok('the reply she left unread brings a nudge email without clinical content');
  const olivia = (await gql(await staff(RECEPTION), `{ patients(search: "Olivia Brown") { edges { node { id } } } }`)).patients.edges[0].node;
  await gql(await staff(RECEPTION), `mutation($id: ID!) { setPatientConsent(patientID: $id, sms: OPTED_OUT) { id } }`, { id: olivia.id });
  await gql(await staff(CHEN), `mutation($p: ID!) { startPatientConversation(input: {patientID: $p, topic: "Results", body: "Your results are in."}) { id } }`, { p: olivia.id });
  await smtp.mailTo(OLIVIA, NUDGE, NUDGE_WAIT_MS);
  const nudges = smtp.received(AMELIA, NUDGE);
  assert(nudges.length === 1, `Amelia got ${nudges.length} nudges, want one`);
  ok('a later nudge pass (Olivia\'s nudge) sent Amelia no second one');

  // 6. The receptionist takes her access away: her stream ends at once.
  // (Her token has run out again meanwhile: she refreshes and reconnects.)
  her = (await gql(null, `mutation($r: String!) { patientRefreshSession(refreshToken: $r) { accessToken refreshToken } }`, { r: her.refreshToken })).patientRefreshSession;
  const herBadge3 = stream(socket('amelia (refreshed again)', her.accessToken), 'unreadBadge', BADGE);
  await herBadge3.until('her badge before the revocation', () => true);
  await gql(await staff(RECEPTION), `mutation($id: ID!) { revokePatientPortalAccess(patientID: $id) { portalAccess } }`, { id: amelia.id });
  const revoked = await herBadge3.end('PORTAL_ACCESS_REVOKED', 5_000);
  assert(show(revoked).includes('PORTAL_ACCESS_REVOKED'), `after the revocation her stream ended with ${show(revoked)}`);
  const gone = await post(null, `mutation($r: String!) { patientRefreshSession(refreshToken: $r) { accessToken } }`, { r: her.refreshToken });
  assert(gone.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED', `refresh after the revocation: ${show(gone)}`);
  ok('revoking her portal access ends her stream with PORTAL_ACCESS_REVOKED and refuses her refresh');

  for (const c of clients) await c.dispose();
  server.kill('SIGTERM');
  smtp.close();
  console.log('portal: all checks passed');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`not ok - portal: ${err.message}`);
    console.error('----- server output -----');
    console.error(output.join(''));
    process.exit(1);
  },
);
