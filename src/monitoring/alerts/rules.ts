/**
 * Alert rules read against the monitor's report. A rule's verdict is `firing`, `ok`, or `no_data`
 * (the report has nothing to judge by: a null metric, too few rows or labels, no such route yet);
 * `no_data` changes no state, so a rule never fires, nor resolves, on an absence.
 */
import { minuteOf, WINDOWS } from '../minute-window.js';
import type { MonitorReport } from '../report.js';
import type { Rule } from './alerts-config.js';

export type Verdict =
  | { readonly state: 'firing'; readonly summary: string; readonly details: Record<string, unknown> }
  | { readonly state: 'ok'; readonly summary: string; readonly details: Record<string, unknown> }
  | { readonly state: 'no_data' };

/**
 * What `reward_drop` needs beyond the report: a route's mean reward over any span of minutes
 * (epoch minutes, `from` inclusive, `to` exclusive; Σ reward / Σ outcomes over the route's arms),
 * null without outcomes. The monitor's minute buckets answer it (they keep 24 h, so a 24 h rule's
 * previous window is whatever of it they still hold; null when none).
 */
export interface RewardHistory {
  meanReward(route: string, fromMinute: number, toMinute: number): Promise<number | null>;
}

/**
 * A route's scoring requests and those answered with a 5xx over the last `minutes`, from the shared
 * health windows (monitoring/guardrails/health.ts): in Redis mode the whole fleet's, not the
 * evaluating replica's share. Requests refused before an arm was picked are not in them.
 */
export interface ErrorCounts {
  errorCounts(route: string, minutes: number, now: number): Promise<{ requests: number; errors: number }>;
}

const NO_DATA: Verdict = { state: 'no_data' };
const round = (x: number): number => Math.round(x * 10_000) / 10_000;

export interface RuleSources {
  readonly rewards: RewardHistory | undefined;
  readonly errors: ErrorCounts | undefined;
}

export async function judge(rule: Rule, report: MonitorReport, sources: RuleSources, now: number): Promise<Verdict> {
  switch (rule.when) {
    case 'drift': {
      const versions = report.models[rule.model];
      if (!versions) return NO_DATA;
      let worst: { version: string; feature: string; psi: number } | undefined;
      let judged = false;
      for (const [version, { drift }] of Object.entries(versions)) {
        const w = drift[rule.window];
        if (!w || w.rows < rule.minRows || w.rows === 0) continue;
        const psis: [string, number | null][] = [...Object.entries(w.features), ['prediction', w.prediction]];
        for (const [feature, psi] of psis) {
          if (psi === null || !Number.isFinite(psi)) continue;
          judged = true;
          if (!worst || psi > worst.psi) worst = { version, feature, psi };
        }
      }
      if (!judged || !worst) return NO_DATA;
      const details = {
        model: rule.model,
        ...worst,
        psi: round(worst.psi),
        threshold: rule.threshold,
        window: rule.window,
      };
      const what = `${rule.model} v${worst.version} ${worst.feature} PSI ${round(worst.psi)} (${rule.window})`;
      return worst.psi >= rule.threshold
        ? { state: 'firing', summary: `drift: ${what} ≥ ${rule.threshold}`, details }
        : { state: 'ok', summary: `no drift: largest ${what} < ${rule.threshold}`, details };
    }
    case 'reward_drop': {
      if (!sources.rewards || !report.routes[rule.route]) return NO_DATA;
      const minutes = WINDOWS[rule.window];
      const to = minuteOf(now) + 1;
      const [current, previous] = await Promise.all([
        sources.rewards.meanReward(rule.route, to - minutes, to),
        sources.rewards.meanReward(rule.route, to - 2 * minutes, to - minutes),
      ]);
      if (current === null || previous === null) return NO_DATA;
      const drop = previous - current;
      const details = {
        route: rule.route,
        window: rule.window,
        current: round(current),
        previous: round(previous),
        drop: round(drop),
      };
      const what = `${rule.route} mean reward ${round(current)} vs ${round(previous)} the ${rule.window} before`;
      return drop >= rule.drop
        ? { state: 'firing', summary: `reward drop: ${what} (−${round(drop)} ≥ ${rule.drop})`, details }
        : { state: 'ok', summary: `reward steady: ${what}`, details };
    }
    case 'label_metric': {
      const route = report.routes[rule.route];
      if (!route) return NO_DATA;
      let breach: { arm: string; value: number; n: number } | undefined;
      let judged = false;
      for (const [arm, a] of Object.entries(route.arms)) {
        const labels = a.windows[rule.window]?.labels;
        const value = labels?.[rule.metric];
        if (!labels || labels.n < rule.minLabels || value === null || value === undefined || !Number.isFinite(value))
          continue;
        judged = true;
        const bad = rule.below !== undefined ? value < rule.below : value > rule.above!;
        if (bad && !breach) breach = { arm, value, n: labels.n };
      }
      if (!judged) return NO_DATA;
      const bound = rule.below !== undefined ? `below ${rule.below}` : `above ${rule.above}`;
      if (!breach)
        return {
          state: 'ok',
          summary: `${rule.route} ${rule.metric} not ${bound} (${rule.window})`,
          details: { route: rule.route, metric: rule.metric, window: rule.window },
        };
      return {
        state: 'firing',
        summary: `${rule.route} arm ${breach.arm}: ${rule.metric} ${round(breach.value)} ${bound} (${rule.window}, ${breach.n} labels)`,
        details: {
          route: rule.route,
          arm: breach.arm,
          metric: rule.metric,
          value: round(breach.value),
          labels: breach.n,
          window: rule.window,
          below: rule.below,
          above: rule.above,
        },
      };
    }
    case 'srm': {
      const srm = report.routes[rule.route]?.srm[rule.window];
      if (!srm || !Number.isFinite(srm.pValue)) return NO_DATA;
      const details = { route: rule.route, window: rule.window, pValue: srm.pValue };
      return srm.srm
        ? {
            state: 'firing',
            summary: `sample-ratio mismatch on ${rule.route} (${rule.window}, p = ${srm.pValue.toExponential(2)})`,
            details,
          }
        : { state: 'ok', summary: `no sample-ratio mismatch on ${rule.route} (${rule.window})`, details };
    }
    case 'error_rate': {
      const counts = await sources.errors?.errorCounts(rule.route, WINDOWS[rule.window], now);
      if (!counts || counts.requests <= 0) return NO_DATA;
      const rate = counts.errors / counts.requests;
      const details = {
        route: rule.route,
        window: rule.window,
        requests: counts.requests,
        errors: counts.errors,
        rate: round(rate),
        above: rule.above,
      };
      const what = `${rule.route} error rate ${round(rate)} (${counts.errors} of ${counts.requests}, ${rule.window})`;
      return rate > rule.above
        ? { state: 'firing', summary: `${what} above ${rule.above}`, details }
        : { state: 'ok', summary: what, details };
    }
  }
}
