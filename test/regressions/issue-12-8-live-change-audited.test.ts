/**
 * Issue 12, finding 8: a kill -9 between saving the new live version and writing its audit entry
 * left the change made and unaudited (2 of 34 live changes). Now the entry is saved in the same
 * atomic write as the pointer, and completed into the audit log at the next start. The real binary
 * is killed with SIGKILL at that very moment (CROUPIER_TEST_CRASH_AT=live-saved), then restarted.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditLog, type AuditEntry } from '../../src/state/audit-chain.js';
import { spawnCroupier, type Child } from '../helpers/process.js';
import { copyDemoModels } from '../helpers/server.js';

const TOKEN = 'test-admin-token-1234';
const models = copyDemoModels();
const stateDir = mkdtempSync(join(tmpdir(), 'croupier-12-8-'));
const env = { CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_MODELS_DIR: models, CROUPIER_STATE_DIR: stateDir };
let running: Child | undefined;

afterAll(async () => {
  running?.proc.kill('SIGKILL');
  rmSync(models, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
});

async function start(crash: false | 'live-saved' | 'routes-saved'): Promise<{ child: Child; url: string }> {
  const child = spawnCroupier(['serve', '--port', '0'], crash ? { ...env, CROUPIER_TEST_CRASH_AT: crash } : env);
  running = child;
  return { child, url: `http://127.0.0.1:${await child.ready}` };
}

async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The change is made on a server that dies the moment the new pointer is saved. */
async function changeAndDie(
  path: string,
  body?: unknown,
  at: 'live-saved' | 'routes-saved' = 'live-saved',
  method = 'POST',
): Promise<void> {
  const { child } = await start(at);
  await expect(call(`http://127.0.0.1:${await child.ready}`, method, path, body)).rejects.toThrow();
  await child.exited;
  expect(child.proc.signalCode).toBe('SIGKILL');
}

describe('issue 12-8: a live change and its audit entry survive kill -9 together', () => {
  it('deploy, rollback, deploy, each killed right after the pointer is saved: each is served and audited', async () => {
    const steps: [string, unknown, string, string, string][] = [
      ['/admin/models/fraud/deploy', { version: '2' }, 'deploy', '1', '2'],
      ['/admin/models/fraud/rollback', undefined, 'rollback', '2', '1'],
      ['/admin/models/fraud/deploy', { version: '2' }, 'deploy', '1', '2'],
    ];
    for (const [path, body, action, from, to] of steps) {
      await changeAndDie(path, body);
      const { child, url } = await start(false);
      const models = (await call(url, 'GET', '/admin/models')).body.models as { name: string; live: string }[];
      expect(models.find((m) => m.name === 'fraud')!.live, `${action} ${from} -> ${to}`).toBe(to);
      const entries = (await call(url, 'GET', '/admin/audit')).body.entries as AuditEntry[];
      expect(entries.at(-1), `${action} ${from} -> ${to}`).toMatchObject({
        actor: 'admin',
        action,
        target: 'fraud',
        before: from,
        after: to,
        result: 'ok',
        status: 200,
      });
      child.proc.kill('SIGTERM');
      await child.exited;
    }
    const text = readFileSync(join(stateDir, 'audit.log'), 'utf8');
    expect(verifyAuditLog(text)).toMatchObject({ ok: true });
    const changes = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry)
      .filter((e) => e.action === 'deploy' || e.action === 'rollback');
    // One entry per change: completing at start-up does not add it twice.
    expect(changes.map((e) => `${e.action} ${String(e.before)}->${String(e.after)}`)).toEqual([
      'deploy 1->2',
      'rollback 2->1',
      'deploy 1->2',
    ]);
  }, 180_000);

  it('a route edit killed right after it is saved is kept and audited too', async () => {
    const spec = { policy: 'fixed', arms: [{ name: 'only', model: 'fraud', version: '2' }] };
    await changeAndDie('/admin/routes/fraud-scoring', spec, 'routes-saved', 'PUT');
    const { child, url } = await start(false);
    const routes = (await call(url, 'GET', '/admin/routes')).body.routes as Record<
      string,
      { arms: { name: string }[] }
    >;
    expect(routes['fraud-scoring']!.arms.map((a) => a.name)).toEqual(['only']);
    const entries = (await call(url, 'GET', '/admin/audit')).body.entries as AuditEntry[];
    expect(entries.at(-1)).toMatchObject({
      actor: 'admin',
      action: 'routes.put',
      target: 'fraud-scoring',
      result: 'ok',
      status: 200,
    });
    child.proc.kill('SIGTERM');
    await child.exited;
    // Started again, nothing is completed twice.
    const again = await start(false);
    const after = (await call(again.url, 'GET', '/admin/audit')).body.entries as AuditEntry[];
    expect(after.filter((e) => e.action === 'routes.put')).toHaveLength(1);
    expect(after.filter((e) => e.action === 'deploy' || e.action === 'rollback')).toHaveLength(3);
    again.child.proc.kill('SIGTERM');
    await again.child.exited;
    expect(verifyAuditLog(readFileSync(join(stateDir, 'audit.log'), 'utf8'))).toMatchObject({ ok: true });
  }, 120_000);
});
