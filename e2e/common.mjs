// Plumbing shared by the end-to-end suites that start their own server
// (golive.mjs, portal.mjs, explorer.mjs, clients.mjs, apollo-cache.mjs): running a command, a free loopback port,
// waiting for /readyz, and GraphQL over HTTP.

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

// repoRoot is the repository's root (the parent of e2e/).
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// run runs cmd in the repository's root with env added to the process's
// environment, and resolves to its stdout (rejects with its output when
// it fails).
export function run(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${out}${err}`))));
  });
}

// freePort finds a free TCP port on 127.0.0.1.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// untilReady polls base/readyz until it answers 200 (a bounded poll of a
// starting process: there is nothing to wait on), failing when exited()
// says the server stopped or after timeoutMs.
export async function untilReady(base, exited, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) return;
    } catch {}
    if (exited()) throw new Error('the server exited during start-up');
    if (Date.now() > deadline) throw new Error(`the server was not ready within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

// graphqlAt returns post (the raw response body) and gql (the data, or an
// Error naming the errors) for the server at base.
export function graphqlAt(base) {
  async function post(token, query, variables = {}) {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    return res.json();
  }
  async function gql(token, query, variables) {
    const body = await post(token, query, variables);
    if (body.errors?.length) throw new Error(`errors: ${JSON.stringify(body.errors)}\n  query: ${query}`);
    return body.data;
  }
  return { post, gql };
}
