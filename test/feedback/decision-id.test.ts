/** Decision ids are unguessable and carry a MAC: forged or altered ids are recognised without a lookup. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DECISION_ID_LENGTH, DecisionIds } from '../../src/feedback/decision-id.js';

describe('DecisionIds', () => {
  const ids = new DecisionIds(randomBytes(32));

  it('mints distinct ids that verify and carry their creation time', () => {
    const before = Date.now();
    const minted = Array.from({ length: 1000 }, () => ids.mint());
    expect(new Set(minted).size).toBe(1000);
    for (const id of minted) {
      expect(id).toHaveLength(DECISION_ID_LENGTH);
      const at = ids.verify(id)!;
      expect(at).toBeGreaterThanOrEqual(before - 50);
      expect(at).toBeLessThanOrEqual(Date.now());
    }
    expect(ids.verify(ids.mint(1_000_000))).toBe(1_000_000);
  });

  it('refuses altered, forged and malformed ids', () => {
    const id = ids.mint();
    for (let i = 0; i < id.length; i++) {
      const altered = id.slice(0, i) + (id[i] === 'A' ? 'B' : 'A') + id.slice(i + 1);
      expect(ids.verify(altered)).toBeUndefined();
    }
    expect(new DecisionIds(randomBytes(32)).verify(id)).toBeUndefined();
    for (const bad of [
      '',
      'x',
      id + 'A',
      id.slice(1),
      42,
      null,
      undefined,
      '../../../../etc/passwd/aaaaaaaaaaa',
      '+'.repeat(32),
    ]) {
      expect(ids.verify(bad)).toBeUndefined();
    }
  });

  it('verifies many ids at once exactly as one at a time', () => {
    const genuine = Array.from({ length: 5 }, (_, i) => ids.mint(1_000_000 + i));
    const forged = genuine[2]!.slice(0, -1) + (genuine[2]!.endsWith('A') ? 'B' : 'A');
    const batch: unknown[] = [genuine[0], 'x', forged, genuine[1], 42, genuine[4], '', genuine[3]];
    const { createdMs, bytes } = ids.verifyAll(batch);
    expect(createdMs).toEqual(batch.map((id) => ids.verify(id)));
    expect(createdMs).toEqual([1_000_000, undefined, undefined, 1_000_001, undefined, 1_000_004, undefined, 1_000_003]);
    // The ids' bytes, for the decision store's lookup: each genuine id's own.
    for (const [i, id] of batch.entries())
      if (createdMs[i] !== undefined) expect(bytes.toString('base64url', i * 24, i * 24 + 24)).toBe(id);
    expect(ids.verifyAll([]).createdMs).toEqual([]);
  });
});
