/**
 * How the dashboard reads allocation and reward from GET /admin/monitor/series (src/ui/app/
 * allocation.js, plain JavaScript run in the browser).
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript without declarations (type-checked by src/ui/app/tsconfig.json)
import { bucketed, recentAllocation } from '../../src/ui/app/allocation.js';

type ArmMinute = { pulls: number; outcomes: number; rewardSum: number; propensitySum: number };
type Minute = { t: string; arms: Record<string, ArmMinute> };

const minute = (i: number, arms: Record<string, Partial<ArmMinute>>): Minute => ({
  t: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
  arms: Object.fromEntries(
    Object.entries(arms).map(([k, v]) => [k, { pulls: 0, outcomes: 0, rewardSum: 0, propensitySum: 0, ...v }]),
  ),
});

describe('allocation from the series', () => {
  it("is each arm's mean weight (expected pulls / decisions) and its share of the pulls, over recent minutes only", () => {
    const series = [
      minute(0, { a: { pulls: 100, propensitySum: 10 }, b: { pulls: 0 } }), // too old: left out
      // A 70/30 split that drew 9 and 1 in one minute, 5 and 5 in the next.
      minute(1, { a: { pulls: 9, propensitySum: 7 }, b: { pulls: 1, propensitySum: 3 } }),
      minute(2, { a: { pulls: 5, propensitySum: 7 }, b: { pulls: 5, propensitySum: 3 } }),
    ];
    const alloc = recentAllocation(series, ['a', 'b', 'c'], 2);
    expect(alloc.a).toEqual({ weight: expect.closeTo(0.7, 9), share: 0.7, pulls: 14 });
    expect(alloc.b).toEqual({ weight: expect.closeTo(0.3, 9), share: 0.3, pulls: 6 });
    // An arm that had no weight and no pulls: 0 and 0.
    expect(alloc.c).toEqual({ weight: 0, share: 0, pulls: 0 });
    expect(recentAllocation([], ['a'], 15).a).toEqual({ weight: null, share: null, pulls: 0 });
  });

  it('buckets minutes for charts: share of pulls and mean reward per bucket, null where nothing happened', () => {
    const series = [
      minute(0, { a: { pulls: 3, outcomes: 2, rewardSum: 1 }, b: { pulls: 1 } }),
      minute(1, { a: { pulls: 1, outcomes: 2, rewardSum: 2 }, b: { pulls: 3, outcomes: 1, rewardSum: 1 } }),
      minute(2, { a: {}, b: {} }),
      minute(3, { a: {}, b: {} }),
      minute(4, { a: { pulls: 2 }, b: {} }),
    ];
    const { times, share, reward } = bucketed(series, ['a', 'b'], 2);
    expect(times).toEqual([0, 2, 4].map((m) => Date.UTC(2026, 0, 1, 0, m) / 1000));
    expect(share.a).toEqual([0.5, null, 1]);
    expect(share.b).toEqual([0.5, null, 0]);
    expect(reward.a).toEqual([0.75, null, null]);
    expect(reward.b).toEqual([1, null, null]);
  });
});
