// @ts-check
/**
 * A route's allocation from its per-minute series (GET /admin/monitor/series). Every decision adds
 * each arm's probability in it to that arm's `propensitySum` (its expected pulls), so an arm's
 * propensitySum / decisions over recent minutes is the mean weight it had; its share of the pulls
 * is what it actually got.
 */

/**
 * @typedef {{ pulls: number, outcomes: number, rewardSum: number, propensitySum: number }} ArmMinute
 * @typedef {{ t: string, arms: Record<string, ArmMinute> }} Minute
 */

/**
 * Per arm, over the last `minutes` minutes: its mean weight in the route's decisions (null: no
 * decision then) and its share of the pulls.
 * @param {Minute[]} series oldest first
 * @param {string[]} arms
 * @param {number} minutes
 */
export function recentAllocation(series, arms, minutes) {
  const recent = series.slice(-minutes);
  /** @type {Record<string, { weight: number | null, share: number | null, pulls: number }>} */
  const out = {};
  /** @type {Record<string, number>} */
  const expected = {};
  let total = 0;
  for (const arm of arms) {
    let pulls = 0;
    let propensity = 0;
    for (const m of recent) {
      pulls += m.arms[arm]?.pulls ?? 0;
      propensity += m.arms[arm]?.propensitySum ?? 0;
    }
    total += pulls;
    expected[arm] = propensity;
    out[arm] = { weight: null, share: null, pulls };
  }
  for (const arm of arms) {
    const a = out[arm];
    if (!a || total === 0) continue;
    a.weight = (expected[arm] ?? 0) / total;
    a.share = a.pulls / total;
  }
  return out;
}

/**
 * The series in buckets of `size` minutes, for charts: per arm its share of the bucket's pulls and
 * its mean reward there (null where it had none).
 * @param {Minute[]} series
 * @param {string[]} arms
 * @param {number} size
 */
export function bucketed(series, arms, size) {
  /** @type {number[]} */
  const times = [];
  /** @type {Record<string, (number | null)[]>} */
  const share = {};
  /** @type {Record<string, (number | null)[]>} */
  const reward = {};
  for (const arm of arms) {
    share[arm] = [];
    reward[arm] = [];
  }
  for (let i = 0; i < series.length; i += size) {
    const chunk = series.slice(i, i + size);
    const first = chunk[0];
    if (!first) break;
    times.push(Date.parse(first.t) / 1000);
    let total = 0;
    /** @type {Record<string, { pulls: number, outcomes: number, rewardSum: number }>} */
    const sums = {};
    for (const arm of arms) {
      const s = { pulls: 0, outcomes: 0, rewardSum: 0 };
      for (const m of chunk) {
        const a = m.arms[arm];
        if (!a) continue;
        s.pulls += a.pulls;
        s.outcomes += a.outcomes;
        s.rewardSum += a.rewardSum;
      }
      total += s.pulls;
      sums[arm] = s;
    }
    for (const arm of arms) {
      const s = sums[arm] ?? { pulls: 0, outcomes: 0, rewardSum: 0 };
      share[arm]?.push(total > 0 ? s.pulls / total : null);
      reward[arm]?.push(s.outcomes > 0 ? s.rewardSum / s.outcomes : null);
    }
  }
  return { times, share, reward };
}
