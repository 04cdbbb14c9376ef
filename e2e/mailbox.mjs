// A minimal SMTP server on loopback for the end-to-end suites: it accepts
// every message and keeps its decoded text, so a test reads the links and
// notices Whisper emailed through a real SMTP conversation.

import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

function decodeQP(s) {
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

// startMailbox listens on 127.0.0.1 (a free port) and resolves to
// { port, close(), mailTo(address, pattern, timeoutMs), received(address, pattern) }.
// mailTo waits for the next message to address whose text matches pattern
// and takes it out of the mailbox; received lists the matching messages
// kept so far (mailTo takes them out; received does not).
export async function startMailbox(name = 'e2e.test') {
  const mails = [];
  const seen = [];
  let arrived = () => {};
  const srv = net.createServer((sock) => {
    let buf = '';
    let inData = false;
    let data = '';
    let rcpt = [];
    sock.write(`220 ${name} ESMTP\r\n`);
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            const mail = { to: rcpt, text: decodeQP(data) };
            mails.push(mail);
            seen.push(mail);
            arrived();
            rcpt = [];
            data = '';
            sock.write('250 OK queued\r\n');
          } else {
            data += (line.startsWith('..') ? line.slice(1) : line) + '\n';
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') sock.write(`250-${name}\r\n250 8BITMIME\r\n`);
        else if (verb === 'HELO') sock.write(`250 ${name}\r\n`);
        else if (verb === 'RCPT') {
          rcpt.push(line.replace(/^RCPT TO:\s*/i, '').replace(/[<>]/g, ''));
          sock.write('250 OK\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          sock.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') {
          sock.end('221 bye\r\n');
        } else sock.write('250 OK\r\n'); // MAIL, RSET, NOOP
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: srv.address().port,
    close: () => srv.close(),
    async mailTo(address, pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = mails.find((x) => x.to.includes(address) && pattern.test(x.text));
        if (m) {
          mails.splice(mails.indexOf(m), 1);
          return m.text;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no email to ${address} matching ${pattern} within ${timeoutMs / 1000} s (got ${mails.length} others)`);
        await Promise.race([new Promise((r) => (arrived = r)), sleep(left)]);
      }
    },
    received(address, pattern) {
      return seen.filter((x) => x.to.includes(address) && pattern.test(x.text)).map((x) => x.text);
    },
  };
}

// tokenIn reads the token of a /<path>?token=… link in an email.
export function tokenIn(text, path) {
  const m = text.match(new RegExp(`/${path}\\?token=([A-Za-z0-9_.~%-]+)`));
  if (!m) throw new Error(`the email carries no ${path} link: ${text.slice(0, 400)}`);
  return decodeURIComponent(m[1]);
}
