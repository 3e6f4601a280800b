/**
 * Issue 12, finding 6: every admin call refused for a missing or wrong token (or cross-site, or with
 * admin off) was written and fsynced to the audit log, so one client filled the disk (950 req/s, 438
 * bytes each), and `GET /admin/audit` read the whole file each time. Now such refusals are counted
 * (croupier_admin_refused_total{reason}) and audited at most once per source and minute, with the
 * count; the table of sources is bounded; reading the log reads its tail.
 */
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainEntry, GENESIS, type AuditEntry } from '../../src/state/audit-chain.js';
import { SOURCES_MAX } from '../../src/admin/refusals.js';
import { admin, TOKEN } from '../admin/admin-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Sent {
  status: number;
}

/** One admin call from a given local (loopback) address, on a connection of its own. */
function callFrom(
  t: TestServer,
  localAddress: string,
  headers: Record<string, string>,
  path = '/admin/models/fraud/deploy',
): Promise<Sent> {
  const port = Number(new URL(t.url).port);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', reject);
    req.end('{"version":"2"}');
  });
}

/** Runs `jobs` with at most `width` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

const refusedIn = (entries: AuditEntry[]): AuditEntry[] =>
  entries.filter((e) => e.actor === null && e.result === 'refused');
/** How many refused calls the entries account for: 1 for a call audited at once, `refused` for a count. */
const accounted = (entries: AuditEntry[]): number =>
  refusedIn(entries).reduce((n, e) => n + (e.action === 'refused' ? (e.after as { refused: number }).refused : 1), 0);

describe('issue 12-6: refused admin calls cannot fill the disk', () => {
  let t: TestServer;
  const stateDir = mkdtempSync(join(tmpdir(), 'croupier-12-6-'));
  beforeAll(async () => {
    t = await startTestServer({
      CROUPIER_ADMIN_TOKEN: TOKEN,
      CROUPIER_STATE_DIR: stateDir,
      CROUPIER_LOG_LEVEL: 'warn',
    });
  }, 60_000);
  afterAll(async () => {
    await t?.stop().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  const kinds: Record<string, string>[] = [
    { authorization: 'Bearer wrong-token-123456' },
    {},
    { 'sec-fetch-site': 'cross-site' },
  ];
  const PER_KIND = 400;
  let total = 0;

  it('a flood from one source: every call refused and counted by reason, the log grows by one entry', async () => {
    const before = statSync(join(stateDir, 'audit.log')).size;
    const answers = await pool(
      kinds.flatMap((h) => Array.from({ length: PER_KIND }, () => () => callFrom(t, '127.0.0.1', h))),
      32,
    );
    total += answers.length;
    expect(answers.filter((a) => a.status === 401)).toHaveLength(2 * PER_KIND);
    expect(answers.filter((a) => a.status === 403)).toHaveLength(PER_KIND);
    const entries = (await admin(t, 'GET', '/admin/audit?limit=10000')).body.entries as AuditEntry[];
    // The first refusal is written at once, with where it came from; the rest wait for their minute.
    expect(refusedIn(entries)).toHaveLength(1);
    expect(refusedIn(entries)[0]).toMatchObject({
      action: 'deploy',
      target: 'fraud',
      status: 401,
      after: { source: '127.0.0.1', reason: 'wrong_token' },
    });
    expect(statSync(join(stateDir, 'audit.log')).size - before).toBeLessThan(2048);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    for (const reason of ['wrong_token', 'missing_token', 'cross_site']) {
      expect(metrics).toContain(`croupier_admin_refused_total{reason="${reason}"} ${PER_KIND}`);
    }
  }, 120_000);

  it('many sources: one entry each at most, and past the bound they share one row', async () => {
    const sources = Array.from({ length: SOURCES_MAX + 44 }, (_, i) => `127.0.${1 + (i >> 8)}.${i & 255}`).filter(
      (a) => !a.endsWith('.0'),
    );
    const answers = await pool(
      sources.flatMap((s) => [() => callFrom(t, s, {}), () => callFrom(t, s, {})]),
      16,
    );
    total += answers.length;
    expect(answers.every((a) => a.status === 401)).toBe(true);
    const entries = refusedIn((await admin(t, 'GET', '/admin/audit?limit=10000')).body.entries as AuditEntry[]);
    // 127.0.0.1 holds one row already: SOURCES_MAX - 1 more sources get theirs, the rest share "other".
    expect(entries).toHaveLength(1 + (SOURCES_MAX - 1) + 1);
    expect(entries.at(-1)!.after).toMatchObject({ source: 'other' });
  }, 120_000);

  it('nothing is lost: at shutdown the counts still open are written, and they add up to every refusal', async () => {
    await t.stop();
    const text = readFileSync(join(stateDir, 'audit.log'), 'utf8');
    const entries = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry);
    expect(accounted(entries)).toBe(total);
    expect(entries.filter((e) => e.action === 'refused').length).toBeLessThanOrEqual(SOURCES_MAX + 1);
  }, 60_000);
});

describe('issue 12-6: reading the audit log costs its tail, not the file', () => {
  // 600 MB of holes (no disk used) before the entries: more than any string can hold, so a reader
  // of the whole file fails, while the newest entries are a few KB from the end.
  const stateDir = mkdtempSync(join(tmpdir(), 'croupier-12-6-tail-'));
  const ENTRIES = 3000;
  let t: TestServer;
  beforeAll(async () => {
    const fd = openSync(join(stateDir, 'audit.log'), 'w');
    let position = 600 * 1024 * 1024;
    writeSync(fd, '\n', position++);
    let prev = GENESIS;
    const lines: string[] = [];
    for (let seq = 1; seq <= ENTRIES; seq++) {
      const e = chainEntry(seq, prev, {
        actor: 'alice',
        action: 'deploy',
        target: 'fraud',
        before: '1',
        after: '2',
        result: 'ok',
        status: 200,
      });
      prev = e.hash;
      lines.push(JSON.stringify(e) + '\n');
    }
    writeSync(fd, lines.join(''), position);
    closeSync(fd);
    t = await startTestServer({
      CROUPIER_ADMIN_TOKEN: TOKEN,
      CROUPIER_STATE_DIR: stateDir,
      CROUPIER_LOG_LEVEL: 'warn',
    });
  }, 60_000);
  afterAll(async () => {
    await t?.stop().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('GET /admin/audit answers the newest entries, and pages back with before', async () => {
    // The chain continues from the last entry, found from the end at start-up.
    expect((await admin(t, 'POST', '/admin/models/fraud/deploy', { version: '1' })).status).toBe(200);
    const last = await admin(t, 'GET', '/admin/audit?limit=5');
    expect(last.status).toBe(200);
    const entries = last.body.entries as AuditEntry[];
    expect(entries.map((e) => e.seq)).toEqual([ENTRIES - 3, ENTRIES - 2, ENTRIES - 1, ENTRIES, ENTRIES + 1]);
    expect(entries[4]).toMatchObject({ action: 'deploy', result: 'noop', prev: entries[3]!.hash });
    const page = await admin(t, 'GET', '/admin/audit?limit=3&before=1500');
    expect((page.body.entries as AuditEntry[]).map((e) => e.seq)).toEqual([1497, 1498, 1499]);
    const oldest = await admin(t, 'GET', '/admin/audit?limit=3&before=3');
    expect((oldest.body.entries as AuditEntry[]).map((e) => e.seq)).toEqual([1, 2]);
  }, 60_000);
});
