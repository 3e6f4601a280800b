/** The audit chain: intact logs verify; an edited or deleted line is found. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/state/embedded/audit-log.js';
import { canonicalJson, verifyAuditLog } from '../../src/state/audit-chain.js';

let dir: string;
let text: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'croupier-audit-'));
  const log = new AuditLog(dir);
  for (let i = 0; i < 5; i++)
    await log.append({
      actor: 'alice',
      action: 'deploy',
      target: 'fraud',
      before: String(i),
      after: String(i + 1),
      result: 'ok',
      status: 200,
      sha256: 'ab'.repeat(32),
    });
  await log.close();
  // Reopened, the chain continues where it stopped.
  const again = new AuditLog(dir);
  await again.append({
    actor: null,
    action: 'unknown',
    target: null,
    result: 'refused',
    status: 401,
    error: { code: 'unauthorized', message: 'no token' },
  });
  expect((await again.read(2, undefined)).map((e) => e.seq)).toEqual([5, 6]);
  await again.close();
  text = readFileSync(join(dir, 'audit.log'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (): string[] => text.trimEnd().split('\n');

describe('verifyAuditLog', () => {
  it('accepts the intact log', () => {
    expect(verifyAuditLog(text)).toMatchObject({ ok: true, entries: 6 });
  });

  it('finds an edited line', () => {
    const edited = lines();
    edited[2] = edited[2]!.replace('"actor":"alice"', '"actor":"mallory"');
    expect(verifyAuditLog(edited.join('\n'))).toMatchObject({ ok: false, problem: { line: 3 } });
  });

  it('finds an edit that recomputes the line hash (the next line no longer links)', () => {
    const edited = lines();
    const entry = JSON.parse(edited[1]!) as Record<string, unknown>;
    entry.after = '99';
    const { hash: _h, ...rest } = entry;
    entry.hash = createHashHex(String(entry.prev) + canonicalJson(rest));
    edited[1] = JSON.stringify(entry);
    expect(verifyAuditLog(edited.join('\n'))).toMatchObject({ ok: false, problem: { line: 3 } });
  });

  it('finds a deleted line', () => {
    const deleted = lines();
    deleted.splice(3, 1);
    const verdict = verifyAuditLog(deleted.join('\n'));
    expect(verdict).toMatchObject({ ok: false, entries: 3, problem: { line: 4 } });
    expect(verdict.problem!.reason).toMatch(/deleted/);
  });

  it('a tampered file is reported by the library and stays reported after reopening', async () => {
    const deleted = lines();
    deleted.splice(1, 1);
    writeFileSync(join(dir, 'audit.log'), deleted.join('\n') + '\n');
    const log = new AuditLog(dir);
    await log.append({ actor: 'alice', action: 'rollback', target: 'fraud', result: 'ok', status: 200 });
    await log.close();
    expect(verifyAuditLog(readFileSync(join(dir, 'audit.log'), 'utf8')).ok).toBe(false);
  });
});

function createHashHex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
