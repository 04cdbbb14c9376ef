// End-to-end test of going live: a practice switches Whisper on with an
// empty database in production mode and nobody in it.
//
// Builds the server; runs `whisper bootstrap-admin` on an empty database
// (PostgreSQL when WHISPER_E2E_GOLIVE_DATABASE_URL is set, else a temporary
// SQLite file); starts the server in production mode with a real SMTP
// conversation on loopback (the small SMTP server of e2e/mailbox.mjs receives
// the invitation and reset emails); the administrator accepts the invitation,
// creates a doctor and a receptionist, invites them (the links are read from
// the emails), they accept and sign in and chat live over graphql-ws; the
// receptionist is deactivated and her socket ends at once with
// USER_DEACTIVATED and her sign-in is refused; the doctor resets his password
// through the emailed link; the practice's time zone is set and a booking
// reminder is rendered in it.
//
// Usage: node e2e/golive.mjs. Exit status 0 when every check passes.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { freePort, graphqlAt, run, untilReady } from './common.mjs';
import { startMailbox, tokenIn } from './mailbox.mjs';

const OVERALL_TIMEOUT_MS = 180_000;
const WAIT_MS = 15_000;
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-golive-'));
const binary = path.join(tmpDir, 'whisper');
const output = [];
let server = null;
let serverExited = false;

function fail(message) {
  throw new Error(message);
}
function assert(cond, message) {
  if (!cond) fail(message);
}
function ok(message) {
  console.log(`ok - golive: ${message}`);
}

process.on('exit', () => {
  if (server && !serverExited) server.kill('SIGKILL');
  fs.rmSync(tmpDir, { recursive: true, force: true });
});
setTimeout(() => {
  console.error(`not ok - golive: did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`);
  console.error(output.join(''));
  process.exit(1);
}, OVERALL_TIMEOUT_MS).unref();

// ------------------------------------------------------------- GraphQL --

let post;
let gql;

const PASSWORD = 'correct horse battery staple';

async function main() {
  await run('go', ['build', '-o', binary, './server']);
  let databaseURL = process.env.WHISPER_E2E_GOLIVE_DATABASE_URL;
  if (!databaseURL) databaseURL = `sqlite:${path.join(tmpDir, 'golive.db')}`;
  const smtp = await startMailbox('golive.test');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  ({ post, gql } = graphqlAt(base));
  const env = {
    DATABASE_URL: databaseURL,
    WHISPER_PRODUCTION: 'true',
    WHISPER_TOKEN_SECRET: 'golive-secret-0123456789-abcdefghijklmnop',
    WHISPER_CORS_ORIGINS: 'https://app.practice.test',
    WHISPER_APP_URL: 'https://app.practice.test',
    WHISPER_SMTP_HOST: '127.0.0.1',
    WHISPER_SMTP_PORT: String(smtp.port),
    WHISPER_SMTP_FROM: 'whisper@practice.test',
    WHISPER_SMTP_STARTTLS: 'false',
    WHISPER_LOG_LEVEL: 'warn',
  };

  // 1. The first administrator, from the command line.
  const boot = await run(binary, ['bootstrap-admin', '-email', 'ada@practice.test', '-name', 'Ada Admin'], env);
  const inviteLine = boot.split('\n').find((l) => l.startsWith('invitation: '));
  const tokenLine = boot.split('\n').find((l) => l.startsWith('token: '));
  assert(inviteLine?.includes('https://app.practice.test/accept-invitation?token='), `bootstrap printed ${boot}`);
  ok('bootstrap-admin prints the invitation URL and token');
  await run(binary, ['bootstrap-admin', '-email', 'eve@practice.test', '-name', 'Eve'], env).then(
    () => fail('a second bootstrap-admin succeeded'),
    (e) => assert(/exit 2/.test(e.message), `a second bootstrap-admin: ${e.message}`),
  );
  ok('a second bootstrap-admin is refused (exit 2)');

  // 2. The server in production mode.
  server = spawn(binary, ['-addr', `127.0.0.1:${port}`], { cwd: tmpDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => output.push(d.toString()));
  server.stderr.on('data', (d) => output.push(d.toString()));
  server.on('exit', () => (serverExited = true));
  await untilReady(base, () => serverExited);

  const accept = `mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) { accessToken user { id email } } }`;
  const ada = (await gql(null, accept, { t: tokenLine.slice('token: '.length), p: PASSWORD })).acceptInvitation;
  ok('the administrator accepts her invitation and is signed in');

  // 3. A doctor and a receptionist, invited by email.
  const groups = (await gql(ada.accessToken, `{ securityGroups { id name } }`)).securityGroups;
  const def = groups.find((g) => g.name === 'Default');
  assert(def, `no Default group: ${JSON.stringify(groups)}`);
  const create = `mutation($in: CreateUserInput!) { createUser(input: $in) { id } }`;
  const doctor = (await gql(ada.accessToken, create, { in: { name: 'Dr Sam Lee', email: 'sam@practice.test', jobTitle: 'GP', securityGroupIDs: [def.id] } })).createUser;
  const desk = (await gql(ada.accessToken, create, { in: { name: 'Rita Desk', email: 'rita@practice.test', jobTitle: 'Receptionist', securityGroupIDs: [def.id] } })).createUser;
  const invite = `mutation($id: ID!) { inviteUser(userID: $id) { url } }`;
  await gql(ada.accessToken, invite, { id: doctor.id });
  await gql(ada.accessToken, invite, { id: desk.id });
  const samMail = await smtp.mailTo('sam@practice.test', /accept-invitation/);
  const ritaMail = await smtp.mailTo('rita@practice.test', /accept-invitation/);
  assert(!samMail.includes(PASSWORD), 'an invitation email contains a password');
  await gql(null, accept, { t: tokenIn(samMail, 'accept-invitation'), p: PASSWORD });
  await gql(null, accept, { t: tokenIn(ritaMail, 'accept-invitation'), p: PASSWORD });
  ok('the doctor and the receptionist accept the invitations read from real SMTP');

  const login = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }`;
  const sam = (await gql(null, login, { e: 'sam@practice.test', p: PASSWORD })).login;
  const rita = (await gql(null, login, { e: 'rita@practice.test', p: PASSWORD })).login;
  ok('both sign in');

  // 4. They chat live.
  const ws = createClient({
    url: `ws://127.0.0.1:${port}/graphql`,
    webSocketImpl: class extends WebSocket {
      constructor(url, protocols) {
        super(url, protocols, { headers: { Origin: 'https://app.practice.test' } });
      }
    },
    connectionParams: { Authorization: `Bearer ${rita.accessToken}` },
    retryAttempts: 0,
  });
  const events = [];
  let wake = () => {};
  let ended = null;
  ws.subscribe(
    { query: `subscription { messageAdded { body sender { name } } }` },
    {
      next: (r) => {
        events.push(r);
        wake();
      },
      error: (e) => {
        ended = e;
        wake();
      },
      complete: () => {
        ended = { complete: true };
        wake();
      },
    },
  );
  await new Promise((r) => ws.on('connected', r));
  const dm = (await gql(sam.accessToken, `mutation($u: ID!) { openConversation(input: {userIDs: [$u]}) { id } }`, { u: rita.user.id })).openConversation;
  // Resend until the stream is registered (graphql-transport-ws has no
  // subscribe acknowledgement); a message before that is in history.
  const until = Date.now() + WAIT_MS;
  while (events.length === 0) {
    await gql(sam.accessToken, `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "Mrs Jones is ready"}) { id } }`, { c: dm.id });
    await Promise.race([new Promise((r) => (wake = r)), sleep(300)]);
    if (Date.now() > until) fail('the receptionist never received the doctor\'s message');
  }
  const first = events[0].data?.messageAdded;
  assert(first?.body === 'Mrs Jones is ready' && first.sender?.name === 'Dr Sam Lee', `received ${JSON.stringify(events[0])}`);
  ok('the receptionist receives the doctor\'s message live');

  // 5. The receptionist leaves: her socket ends at once, sign-in refused.
  const started = Date.now();
  await gql(ada.accessToken, `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, { id: desk.id });
  while (!ended && Date.now() - started < 5_000) await Promise.race([new Promise((r) => (wake = r)), sleep(100)]);
  const took = Date.now() - started;
  assert(ended && JSON.stringify(ended).includes('USER_DEACTIVATED'), `after deactivation the stream ended with ${JSON.stringify(ended)}`);
  assert(took < 1_500, `the deactivated receptionist's stream ended after ${took} ms`);
  ok(`the receptionist's live stream ends with USER_DEACTIVATED ${took} ms after deactivation`);
  const refused = await post(null, login, { e: 'rita@practice.test', p: PASSWORD });
  const wrong = await post(null, login, { e: 'sam@practice.test', p: 'not the password at all' });
  assert(refused.errors?.[0]?.message === wrong.errors?.[0]?.message, `deactivated sign-in: ${JSON.stringify(refused)} vs wrong password ${JSON.stringify(wrong)}`);
  ok('her sign-in is refused like a wrong password');
  await ws.dispose();

  // 6. The doctor resets his password through the emailed link.
  await gql(null, `mutation($e: String!) { requestPasswordReset(email: $e) }`, { e: 'sam@practice.test' });
  const reset = await smtp.mailTo('sam@practice.test', /reset-password/);
  const NEW = 'a brand new long password';
  await gql(null, `mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) { accessToken } }`, { t: tokenIn(reset, 'reset-password'), p: NEW });
  const again = await post(null, login, { e: 'sam@practice.test', p: NEW });
  assert(again.data?.login?.accessToken, `sign-in with the new password: ${JSON.stringify(again)}`);
  const old = await post(null, login, { e: 'sam@practice.test', p: PASSWORD });
  assert(old.errors?.length, 'the old password still works');
  ok('the doctor resets his password through the emailed link');

  // 7. The practice's time zone, and a booking reminder rendered in it.
  await gql(ada.accessToken, `mutation { updatePracticeSettings(input: {name: "Harbour GP", timeZone: "Australia/Sydney"}) { timeZone } }`);
  const t = (await gql(ada.accessToken, `mutation { createTemplate(input: {kind: SMS, name: "reminder", body: "{{practice.name}}: see you {{booking.date}} at {{booking.time}}"}) { id } }`)).createTemplate;
  const p = (await gql(ada.accessToken, `mutation { createProgram(input: {name: "Day before", type: BOOKING}) { id } }`)).createProgram;
  await gql(ada.accessToken, `mutation($in: ProgramActionInput!) { addProgramAction(input: $in) { id } }`, {
    in: { programID: p.id, type: 'SMS', templateID: t.id, offset: 1, unit: 'DAYS', relation: 'BEFORE' },
  });
  await gql(ada.accessToken, `mutation($id: ID!) { setProgramEnabled(id: $id, enabled: true) { id } }`, { id: p.id });
  const patient = (await gql(ada.accessToken, `mutation { upsertPatient(input: {externalID: "pms-1", patientNumber: "P1", firstName: "Nora", lastName: "Jones", mobile: "+61400000001"}) { id } }`)).upsertPatient;
  // 02:00 in Sydney is the previous day in UTC: the text must say the Sydney date and time.
  const year = new Date().getUTCFullYear() + 1;
  const startsAt = `${year}-03-10T15:00:00Z`; // 11 March 02:00 in Sydney (AEDT, UTC+11)
  await gql(ada.accessToken, `mutation($in: BookingInput!) { upsertBooking(input: $in) { id } }`, {
    in: { externalID: 'bk-1', patientID: patient.id, doctorID: doctor.id, startsAt, status: 'BOOKED' },
  });
  await gql(ada.accessToken, `mutation($in: EnrollPatientInput!) { enrollPatient(input: $in) { id } }`, { in: { programID: p.id, patientID: patient.id, referenceDate: startsAt } });
  const plan = (await gql(ada.accessToken, `mutation($id: ID!) { previewProgram(input: {programID: $id}) { body dueAt } }`, { id: p.id })).previewProgram;
  assert(plan.length === 1 && /02:00/.test(plan[0].body) && /11/.test(plan[0].body) && !/15:00/.test(plan[0].body),
    `the reminder reads ${JSON.stringify(plan)}, want 11 March at 02:00 (Sydney)`);
  ok(`the booking reminder is rendered in the practice's time zone: "${plan[0].body}"`);

  server.kill('SIGTERM');
  smtp.close();
  console.log('golive: all checks passed');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`not ok - golive: ${err.message}`);
    console.error('----- server output -----');
    console.error(output.join(''));
    process.exit(1);
  },
);
