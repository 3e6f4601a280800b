/**
 * Real notification receivers for the alerting tests: an HTTP webhook receiver (node:http, port 0)
 * that can answer 503 to its first N posts, and an SMTP server (smtp-server) that keeps what it is sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Webhook {
  readonly url: string;
  /** Bodies of the posts it accepted (2xx), parsed. */
  readonly received: unknown[];
  /** Every post, accepted or not. */
  posts: number;
  /** Answer 503 to the next `n` posts. */
  failNext(n: number): void;
  /** Resolves once `n` posts were accepted. */
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhook(): Promise<Webhook> {
  const received: unknown[] = [];
  let failing = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hook.posts++;
      if (failing > 0) {
        failing--;
        res.writeHead(503).end('down');
        return;
      }
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200).end('ok');
      for (const w of waiters.filter((w) => received.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const hook: Webhook = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    posts: 0,
    failNext: (n) => {
      failing = n;
    },
    waitFor: (n) =>
      received.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return hook;
}

export interface Mailbox {
  readonly url: string;
  /** `text`: the message with headers unfolded, encoded words and quoted-printable decoded (UTF-8). */
  readonly messages: { from: string; to: string[]; raw: string; text: string }[];
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSmtp(): Promise<Mailbox> {
  const messages: Mailbox['messages'] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          text: decodeMail(Buffer.concat(chunks).toString('latin1')),
        });
        callback();
        for (const w of waiters.filter((w) => messages.length >= w.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor: (n) =>
      messages.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const bytesOf = (qp: string): Buffer => {
  const out: number[] = [];
  for (let i = 0; i < qp.length; i++) {
    if (qp[i] === '=' && /^[0-9A-F]{2}$/i.test(qp.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(qp.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(qp.charCodeAt(i));
  }
  return Buffer.from(out);
};

/** Enough of RFC 2045/2047 to read what nodemailer sends: folded headers, encoded words, quoted-printable bodies. */
function decodeMail(raw: string): string {
  const unfolded = raw.replace(/\r\n[ \t]+/g, ' ');
  const words = unfolded.replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s?/gi, (_m, kind: string, data: string) =>
    kind.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('latin1')
      : bytesOf(data.replace(/_/g, ' ')).toString('latin1'),
  );
  return bytesOf(words.replace(/=\r\n/g, '')).toString('utf8');
}
