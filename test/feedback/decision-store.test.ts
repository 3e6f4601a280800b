/** The decision store is bounded, evicts the oldest, and finds decisions by id across wrap and restore. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecisionIds } from '../../src/feedback/decision-id.js';
import { DecisionStore } from '../../src/state/embedded/decision-store.js';
import { Decision, decisionLine } from '../../src/feedback/decision.js';
import type { ArmChoice } from '../../src/routing/router.js';
import { Bytes } from '../../src/state/bytes.js';
import type { Journal } from '../../src/state/embedded/journal.js';

const answered = { answer: (): void => undefined };
const pick = {
  route: { name: 'r', spec: { logFeatures: false } },
  arm: { name: 'a', index: 0 },
  version: { model: 'm', version: '1', sha256: 'f'.repeat(64) },
  propensity: 0.25,
} as unknown as ArmChoice;

function decide(store: DecisionStore, ids: DecisionIds, n: number): string[] {
  return Array.from({ length: n }, () => {
    const id = ids.mint();
    store.decided(id, ids.mintedAtMs, pick, 1, undefined, answered);
    return id;
  });
}

describe('DecisionStore', () => {
  it('holds at most its capacity, evicting the oldest waiting decisions and counting them', () => {
    const ids = new DecisionIds(randomBytes(32));
    // Given the minter, the store takes a fresh id's bytes from it rather than decoding the id.
    const store = new DecisionStore(100, ids);
    const made = decide(store, ids, 250);
    expect(store.size).toBe(100);
    expect(store.pending).toBe(100);
    expect(store.evicted).toBe(150);
    expect(made.slice(0, 150).filter((id) => store.get(id))).toEqual([]);
    // The feedback path finds a decision from the bytes its ids were verified as: an evicted one not at all.
    const { bytes } = ids.verifyAll([made[0], made[249]]);
    expect(store.find(bytes, 0)).toBe(-1);
    const slot = store.find(bytes, 24);
    expect(store.servedAt(slot)).toMatchObject({ route: 'r', arm: 'a', versionKey: 'm@1' });
    expect(store.settledAt(slot)).toBe(false);
    const d = store.get(made[249]!)!;
    expect(d).toMatchObject({
      route: 'r',
      arm: 'a',
      model: 'm',
      version: '1',
      versionKey: 'm@1',
      propensity: 0.25,
      rows: 1,
      reward: undefined,
    });
    store.settle(d, 1);
    expect(store.get(made[249]!)!.reward).toBe(1);
    expect(store.pending).toBe(99);
    // A settled decision overwritten later is not an eviction.
    decide(store, ids, 100);
    expect(store.evicted).toBe(249);
  });

  it('does not waste slots when traffic is slow (id blocks abandoned after 50 ms)', () => {
    const ids = new DecisionIds(randomBytes(32));
    const store = new DecisionStore(10);
    const made: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = ids.mint(1_000 + i * 100); // a new block for every id
      store.decided(id, ids.mintedAtMs, pick, 1, undefined, answered);
      made.push(id);
    }
    expect(made.every((id) => store.get(id))).toBe(true);
    expect(store.evicted).toBe(0);
  });

  it('refuses ids it does not hold, including altered and foreign ones', () => {
    const ids = new DecisionIds(randomBytes(32));
    const store = new DecisionStore(10);
    const [id] = decide(store, ids, 1);
    const foreign = new DecisionIds(randomBytes(32)).mint();
    for (const bad of [foreign, id!.slice(0, -1) + (id!.endsWith('A') ? 'B' : 'A'), '', 'short', '!'.repeat(32)]) {
      expect(store.get(bad)).toBeUndefined();
    }
  });

  it('leaves decisions past their window out of a snapshot, and drops them as it is read', () => {
    const ids = new DecisionIds(randomBytes(32));
    const store = new DecisionStore(10_000, ids);
    const old = Array.from({ length: 3000 }, () => {
      const id = ids.mint(1_000_000);
      store.decided(id, ids.mintedAtMs, pick, 1, undefined, answered);
      return id;
    });
    const fresh = decide(store, ids, 4000);
    const snapshot = store.snapshotLines(Date.now(), () => 60_000);
    expect(store.pending).toBe(7000);
    const lines = Buffer.concat([...snapshot])
      .toString()
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as { d: string });
    expect(lines.map((l) => l.d)).toEqual(fresh);
    expect(store.pending).toBe(4000);
    expect(store.size).toBe(4000);
    expect(store.evicted).toBe(0);
    expect(old.filter((id) => store.get(id))).toEqual([]);
  });

  it('restores from snapshot lines, and new ids continue after the restored ones', () => {
    const ids = new DecisionIds(randomBytes(32));
    const store = new DecisionStore(50);
    const made = decide(store, ids, 40);
    store.settle(store.get(made[5]!)!, 0.5);
    const snapshot = store.snapshotLines(Date.now(), () => Infinity);
    // The snapshot is the state when it was asked for, though it is read later.
    decide(store, ids, 5);
    store.settle(store.get(made[6]!)!, 1);
    const lines = Buffer.concat([...snapshot])
      .toString()
      .split('\n')
      .slice(0, -1);
    expect(lines).toHaveLength(40);
    expect(JSON.parse(lines[6]!).w).toBeUndefined();
    expect(JSON.parse(lines[0]!).d).toBe(made[0]);

    const again = new DecisionStore(50);
    for (const l of lines) expect(again.restore(Decision.fromLine(JSON.parse(l)))).toBe(true);
    expect(again.restore(Decision.fromLine(JSON.parse(lines[0]!)))).toBe(false);
    expect(again.get(made[5]!)!.reward).toBe(0.5);
    expect(again.pending).toBe(39);
    const restarted = new DecisionIds((ids as unknown as { secret: Buffer }).secret);
    restarted.continueAfter(again.maxSeq);
    const fresh = decide(again, restarted, 10);
    expect([...made, ...fresh].every((id) => again.get(id))).toBe(true);
    expect(again.evicted).toBe(0);
  });

  it("keeps a contextual decision's context through a snapshot, bit for bit", () => {
    const ids = new DecisionIds(randomBytes(32));
    const store = new DecisionStore(16);
    const x = Float64Array.of(0.1 + 0.2, -1 / 3, 12345.678901234567, 0);
    const id = ids.mint();
    store.decided(id, ids.mintedAtMs, { ...pick, context: x } as ArmChoice, 1, undefined, answered);
    const plain = decide(store, ids, 1)[0]!;
    expect(store.get(id)!.context).toEqual(x);
    expect(store.get(plain)!.context).toBeUndefined();
    const lines = Buffer.concat([...store.snapshotLines(Date.now(), () => Infinity)])
      .toString()
      .split('\n')
      .slice(0, -1);
    const again = new DecisionStore(16);
    for (const l of lines) again.restore(Decision.fromLine(JSON.parse(l)));
    expect(again.get(id)!.context).toEqual(x);
    expect(again.get(plain)!.context).toBeUndefined();
  });

  it('keeps no context that would take the ring past its budget, and counts it', () => {
    const ids = new DecisionIds(randomBytes(32));
    // 100 slots × 2 doubles fit in 2,000 bytes; 100 × 3 do not.
    const store = new DecisionStore(100, undefined, { maxBytes: 1000, budgetBytes: 2000 });
    const small = ids.mint();
    store.decided(
      small,
      ids.mintedAtMs,
      { ...pick, context: Float64Array.of(1, 2) } as ArmChoice,
      1,
      undefined,
      answered,
    );
    const large = ids.mint();
    store.decided(
      large,
      ids.mintedAtMs,
      { ...pick, context: Float64Array.of(1, 2, 3) } as ArmChoice,
      1,
      undefined,
      answered,
    );
    expect(store.get(small)!.context).toEqual(Float64Array.of(1, 2));
    expect(store.get(large)!.context).toBeUndefined();
    expect(store.contexts.dropped).toBe(1);
  });

  it('journals exactly the lines decisionLine makes, in order, even when the ring wraps before the journal writes', () => {
    const ids = new DecisionIds(randomBytes(32));
    const store = new DecisionStore(8, ids);
    const out = new Bytes(16);
    // A journal that only takes lines: what a write round would put in the file.
    const journal = {
      attachSource: () => undefined,
      pullSource: () => store.drainInto(out),
      poke: () => undefined,
    } as unknown as Journal;
    store.attach(journal);
    const expected: string[] = [];
    // Arms belong to one route: the store tells what served by the arm object.
    const logging = {
      ...pick,
      route: { name: 'logs-features', spec: { logFeatures: true } },
      arm: { name: 'a', index: 0 },
      propensity: 1 / 3,
    } as unknown as ArmChoice;
    for (let i = 0; i < 30; i++) {
      // Contextual routes' decisions keep their context ("x"), exactly (shortest round-trip text).
      const context = i % 5 === 0 ? Float64Array.of(i / 3, -0.1, 1e300, 0) : undefined;
      const p = i % 3 === 0 ? logging : context ? ({ ...pick, context } as ArmChoice) : pick;
      const features = i % 3 === 0 ? { amount: i * 1.5, note: 'café "quoted"' } : undefined;
      const id = ids.mint(1_700_000_000_000 + i * (i % 2) * 60);
      // Versions with `monitor` keep the score of the first row ("c"); the others write none.
      const score = i % 2 === 1 ? 0.125 + i / 64 : NaN;
      store.decided(id, ids.mintedAtMs, p, 1 + (i % 4), features, answered, score);
      expected.push(
        decisionLine(
          id,
          ids.mintedAtMs,
          { route: p.route.name, arm: 'a', model: 'm', version: '1', sha256: 'f'.repeat(64) },
          p.propensity,
          1 + (i % 4),
          features,
          undefined,
          score,
          p.context,
        ),
      );
    }
    store.drainInto(out);
    expect(out.view().toString('utf8')).toBe(expected.map((l) => l + '\n').join(''));
    out.clear();
    store.drainInto(out);
    expect(out.length).toBe(0);
  });
});
