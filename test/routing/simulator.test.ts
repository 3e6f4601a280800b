/** Chapelle & Li (2011) §3 on the gateway's own Thompson policy, with a fixed seed. */
import { describe, expect, it } from 'vitest';
import { chapelleLiArms, laiRobbinsSlope, simulate } from '../../bench/simulator.js';

describe('simulator', () => {
  const arms = chapelleLiArms();
  const T = 50_000;

  it('computes the Lai–Robbins slope of the setup (≈ 44.7)', () => {
    expect(laiRobbinsSlope(arms)).toBeCloseTo(44.7, 1);
  });

  it("keeps Thompson's regret within a small multiple of the bound and far below uniform", () => {
    const bound = laiRobbinsSlope(arms) * Math.log(T);
    const thompson = simulate({
      probabilities: arms,
      horizon: T,
      policy: 'thompson',
      floor: 0,
      seed: 42,
      checkpoints: [5_000],
    });
    const uniform = simulate({ probabilities: arms, horizon: T, policy: 'uniform', seed: 42 }).at(-1)!.regret;
    const regret = thompson.at(-1)!.regret;
    expect(regret).toBeLessThan(2 * bound);
    expect(regret).toBeLessThan(uniform / 10);
    // Growth between 5k and 50k is logarithmic: its slope per ln T stays near the bound's.
    const slope = (regret - thompson[0]!.regret) / Math.log(T / 5_000);
    expect(slope).toBeLessThan(3 * laiRobbinsSlope(arms));
    expect(uniform).toBeGreaterThan(0.08 * T);
  });
});
