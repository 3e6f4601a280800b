/**
 * Log lines as operators and log pipelines read them: ISO-8601 times and level names; admin changes
 * logged (not only audited) without the token; request ids that two replicas never share.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packRelease } from '../src/admin/release.js';
import { createLogger } from '../src/log.js';
import { spawnCroupier, type Child } from './helpers/process.js';
import { copyDemoModels } from './helpers/server.js';

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TOKEN = 'log-test-admin-token-4242';

function capture(level: string): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger(level, sink), lines };
}

describe('log format', () => {
  it('writes ISO-8601 UTC times and level names, and redacts tokens', async () => {
    const { log, lines } = capture('debug');
    const before = Date.now();
    log.info({ token: 'secret-token-value', model: 'fraud' }, 'hello');
    log.warn('careful');
    log.debug({ headers: { authorization: 'Bearer abc' } }, 'detail');
    log.trace('not written at debug');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.level)).toEqual(['info', 'warn', 'debug']);
    for (const l of lines) {
      expect(l.time).toMatch(ISO_TIME);
      expect(Math.abs(Date.parse(String(l.time)) - before)).toBeLessThan(60_000);
      expect(l.service).toBe('croupier');
    }
    expect(lines[0]).toMatchObject({ msg: 'hello', model: 'fraud', token: '[redacted]' });
    expect(JSON.stringify(lines)).not.toContain('Bearer abc');
  });
});

describe('two replicas (the real binary)', () => {
  const models: string[] = [];
  let a: Child;
  let b: Child;
  let urlA: string;
  let urlB: string;
  beforeAll(async () => {
    const env = (): Record<string, string> => {
      const dir = copyDemoModels();
      models.push(dir);
      return { CROUPIER_MODELS_DIR: dir, CROUPIER_ADMIN_TOKEN: TOKEN };
    };
    // Started together: with a start-time prefix, replicas started in the same second shared ids.
    a = spawnCroupier(['serve', '--port', '0'], env());
    b = spawnCroupier(['serve', '--port', '0'], env());
    urlA = `http://127.0.0.1:${await a.ready}`;
    urlB = `http://127.0.0.1:${await b.ready}`;
  }, 60_000);
  afterAll(async () => {
    for (const child of [a, b]) {
      child?.proc.kill('SIGTERM');
      await child?.exited;
    }
    for (const dir of models) rmSync(dir, { recursive: true, force: true });
  });

  it('every line on stdout is JSON with an ISO time and a level name', () => {
    const lines = a.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l.time).toMatch(ISO_TIME);
      expect(['info', 'warn', 'error', 'debug', 'fatal', 'trace']).toContain(l.level);
    }
    expect(lines.find((l) => l.msg === 'croupier ready')?.level).toBe('info');
  });

  it('request ids differ between replicas and between requests', async () => {
    const ids = async (url: string): Promise<string[]> =>
      Promise.all([1, 2, 3].map(async () => (await fetch(`${url}/v2/health/live`)).headers.get('x-request-id')!));
    const fromA = await ids(urlA);
    const fromB = await ids(urlB);
    for (const id of [...fromA, ...fromB]) expect(id).toMatch(/^[0-9a-z]{10}-\d+$/);
    expect(new Set([...fromA, ...fromB]).size).toBe(6);
    const prefix = (id: string): string => id.split('-')[0]!;
    expect(prefix(fromA[0]!)).not.toBe(prefix(fromB[0]!));
    // One prefix per process.
    expect(new Set(fromA.map(prefix)).size).toBe(1);
  });

  it('a deploy, a rollback, a route edit and a push are logged at info with actor, target and versions, not the token', async () => {
    const admin = (method: string, path: string, body?: unknown): Promise<Response> =>
      fetch(urlA + path, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const deployed = await admin('POST', '/admin/models/fraud/deploy', { version: '2' });
    expect(deployed.status).toBe(200);
    const rolledBack = await admin('POST', '/admin/models/fraud/rollback');
    expect(rolledBack.status).toBe(200);
    const route = { policy: 'fixed', arms: [{ name: 'solo', model: 'fraud', version: '2' }] };
    expect((await admin('PUT', '/admin/routes/solo', route)).status).toBe(200);
    const refused = await admin('POST', '/admin/models/fraud/deploy', { version: '99' });
    expect(refused.status).toBe(404);
    // The answers come after the log line is written; give the pipe a moment to deliver it.
    const logged = async (action: string): Promise<Record<string, unknown>> => {
      for (let i = 0; i < 50; i++) {
        const line = a.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.action === action);
        if (line) return line;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no log line for ${action}`);
    };
    expect(await logged('deploy')).toMatchObject({
      level: 'info',
      msg: 'admin deploy',
      actor: 'admin',
      target: 'fraud',
      before: '1',
      after: '2',
      result: 'ok',
      requestId: deployed.headers.get('x-request-id'),
    });
    expect((await logged('deploy')).sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await logged('rollback')).toMatchObject({ level: 'info', target: 'fraud', before: '2', after: '1' });
    expect(await logged('routes.put')).toMatchObject({ level: 'info', target: 'solo', after: route });
    // A pushed release: version 2's files as version 3.
    const dir = join(mkdtempSync(join(tmpdir(), 'croupier-log-release-')), 'fraud', '3');
    models.push(dirname(dirname(dir)));
    cpSync(join(models[0]!, 'fraud', '2'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...manifest, version: '3' }));
    const { archive, sha256 } = packRelease(dir);
    const pushed = await fetch(`${urlA}/admin/models/fraud/versions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/gzip' },
      body: archive,
    });
    expect(pushed.status).toBe(201);
    expect(await logged('push')).toMatchObject({
      level: 'info',
      msg: 'admin push',
      target: 'fraud',
      after: '3',
      sha256,
    });
    // Only changes that were made are logged at info (the refusal is audited).
    expect(a.stdout.filter((l) => l.includes('"msg":"admin deploy"'))).toHaveLength(1);
    expect(a.stdout.join('\n')).not.toContain(TOKEN);
  });
});
