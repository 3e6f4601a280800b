/**
 * The dashboard's own SHA-256 and audit-chain check (src/ui/app/, plain JavaScript that runs in the
 * browser) against Node's crypto and the server's chain (src/state/audit-chain.ts).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainEntry, GENESIS, type AuditEntry } from '../../src/state/audit-chain.js';
// @ts-expect-error plain JavaScript without declarations (type-checked by src/ui/app/tsconfig.json)
import { verifyEntries } from '../../src/ui/app/audit-chain.js';
// @ts-expect-error plain JavaScript without declarations
import { sha256Hex } from '../../src/ui/app/sha256.js';

const verify = verifyEntries as (entries: AuditEntry[]) => {
  ok: boolean;
  checked: number;
  fromGenesis: boolean;
  problem?: { seq: number; reason: string };
};

function chain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = GENESIS;
  for (let i = 1; i <= n; i++) {
    const e = chainEntry(prev === GENESIS ? 1 : out.length + 1, prev, {
      actor: i % 3 === 0 ? null : 'ops',
      action: i % 2 ? 'deploy' : 'routes.put',
      target: 'fraud',
      before: { live: String(i) },
      after: { live: String(i + 1), note: 'café ☕ 𝄞', nested: { z: 1, a: [1, null, { b: 2.5 }] } },
      result: 'ok',
      status: 200,
      sha256: 'ab'.repeat(32),
    });
    out.push(e);
    prev = e.hash;
  }
  return out;
}

describe('the dashboard checks the audit chain as the server writes it', () => {
  it('hashes like Node for every length around the block boundaries, and for any UTF-8', () => {
    const texts = [
      '',
      'abc',
      'a'.repeat(55),
      'a'.repeat(56),
      'a'.repeat(63),
      'a'.repeat(64),
      'x'.repeat(1000),
      'é☕𝄞'.repeat(50),
    ];
    for (const text of texts)
      expect(sha256Hex(text), text.slice(0, 10)).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('finds an intact chain intact, from its first entry or from the middle', () => {
    const entries = chain(25);
    expect(verify(entries)).toMatchObject({ ok: true, checked: 25, fromGenesis: true });
    expect(verify(entries.slice(10))).toMatchObject({ ok: true, checked: 15, fromGenesis: false });
  });

  it('finds an edited, a deleted and a moved entry', () => {
    const edited = chain(5).map((e) => (e.seq === 3 ? { ...e, actor: 'mallory' } : e));
    expect(verify(edited)).toMatchObject({ ok: false, problem: { seq: 3, reason: expect.stringMatching(/edited/) } });
    const deleted = chain(5).filter((e) => e.seq !== 2);
    expect(verify(deleted)).toMatchObject({ ok: false, problem: { seq: 3, reason: expect.stringMatching(/jumps/) } });
    const entries = chain(5);
    const swapped = [entries[0]!, entries[2]!, entries[1]!, entries[3]!, entries[4]!];
    expect(verify(swapped).ok).toBe(false);
  });
});
