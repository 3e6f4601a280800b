/** Each rule kind against the monitor's report: fires, stays quiet, or has no data (never fires on an absence). */
import { describe, expect, it } from 'vitest';
import { parseAlertsDocument, type Rule } from '../../../src/monitoring/alerts/alerts-config.js';
import { judge, type RewardHistory } from '../../../src/monitoring/alerts/rules.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { minuteOf } from '../../../src/monitoring/minute-window.js';
import { report } from './fixtures.js';

const known = { hasModel: () => true, hasRoute: () => true };
const rule = (spec: Record<string, unknown>): Rule =>
  parseAlertsDocument(
    {
      channels: { ops: { type: 'webhook', url: 'http://127.0.0.1:1/' } },
      defaultChannels: ['ops'],
      rules: [{ name: 'r', ...spec }],
    },
    known,
  ).rules[0]!;
const NOW = Date.UTC(2026, 11, 3, 12, 0);
const none = { rewards: undefined, errors: undefined };

describe('alert rules', () => {
  const drift = rule({ when: 'drift', model: 'fraud', threshold: 0.2, window: '1h', minRows: 500 });

  it('drift fires at the threshold, names the version and feature, and is quiet below it', async () => {
    const firing = await judge(drift, report({ psi: 0.25 }), none, NOW);
    expect(firing).toMatchObject({
      state: 'firing',
      details: { model: 'fraud', version: '1', feature: 'amount', psi: 0.25 },
    });
    expect(await judge(drift, report({ psi: 0.2 }), none, NOW)).toMatchObject({ state: 'firing' });
    expect(await judge(drift, report({ psi: 0.19 }), none, NOW)).toMatchObject({ state: 'ok' });
  });

  it('drift has no data with a null PSI, too few rows, or an unknown model', async () => {
    expect(await judge(drift, report({ psi: null }), none, NOW)).toEqual({ state: 'no_data' });
    expect(await judge(drift, report({ psi: 5, rows: 499 }), none, NOW)).toEqual({ state: 'no_data' });
    expect(await judge(drift, { routes: {}, models: {}, alerts: [] }, none, NOW)).toEqual({ state: 'no_data' });
  });

  it('label_metric fires on the arm below the bound once it has minLabels, and has no data on a null metric', async () => {
    const r = rule({
      when: 'label_metric',
      route: 'fraud-scoring',
      metric: 'precision',
      below: 0.5,
      window: '24h',
      minLabels: 200,
    });
    expect(await judge(r, report({ precision: 0.4 }), none, NOW)).toMatchObject({
      state: 'firing',
      details: { arm: 'challenger', value: 0.4 },
    });
    expect(await judge(r, report({ precision: 0.6 }), none, NOW)).toMatchObject({ state: 'ok' });
    expect(await judge(r, report({ precision: 0.4, labels: 199 }), none, NOW)).toEqual({ state: 'no_data' });
    // The champion still judges (0.9); the challenger's null does not fire.
    expect(await judge(r, report({ precision: null }), none, NOW)).toMatchObject({ state: 'ok' });
  });

  it('srm fires when p < 0.001', async () => {
    const r = rule({ when: 'srm', route: 'fraud-scoring', window: '1h' });
    expect(await judge(r, report({ srmP: 0.0001 }), none, NOW)).toMatchObject({ state: 'firing' });
    expect(await judge(r, report({ srmP: 0.2 }), none, NOW)).toMatchObject({ state: 'ok' });
    expect(await judge(r, { routes: {}, models: {}, alerts: [] }, none, NOW)).toEqual({ state: 'no_data' });
  });

  it("reward_drop compares the window's mean reward with the window before it", async () => {
    const r = rule({ when: 'reward_drop', route: 'fraud-scoring', drop: 0.02, window: '1h' });
    const asked: [number, number][] = [];
    const history = (current: number | null, previous: number | null): RewardHistory => ({
      meanReward: async (_route, from, to) => {
        asked.push([from, to]);
        return to > minuteOf(NOW) ? current : previous;
      },
    });
    expect(await judge(r, report(), { rewards: history(0.07, 0.1), errors: undefined }, NOW)).toMatchObject({
      state: 'firing',
      details: { current: 0.07, previous: 0.1, drop: 0.03 },
    });
    const end = minuteOf(NOW) + 1;
    expect(asked).toEqual([
      [end - 60, end],
      [end - 120, end - 60],
    ]);
    expect(await judge(r, report(), { rewards: history(0.09, 0.1), errors: undefined }, NOW)).toMatchObject({
      state: 'ok',
    });
    expect(await judge(r, report(), { rewards: history(null, 0.1), errors: undefined }, NOW)).toEqual({
      state: 'no_data',
    });
    expect(await judge(r, report(), none, NOW)).toEqual({ state: 'no_data' });
  });

  it("error_rate judges the window's requests and 5xx answers from the shared health counts", async () => {
    const r = rule({ when: 'error_rate', route: 'fraud-scoring', above: 0.01, window: '1h' });
    const asked: [string, number, number][] = [];
    let counts = { requests: 0, errors: 0 };
    const errors = {
      errorCounts: async (route: string, minutes: number, now: number) => {
        asked.push([route, minutes, now]);
        return counts;
      },
    };
    const sources = { rewards: undefined, errors };
    expect(await judge(r, report(), sources, NOW)).toEqual({ state: 'no_data' });
    expect(asked).toEqual([['fraud-scoring', 60, NOW]]);
    counts = { requests: 1000, errors: 20 };
    expect(await judge(r, report(), sources, NOW)).toMatchObject({
      state: 'firing',
      details: { requests: 1000, errors: 20 },
    });
    counts = { requests: 1000, errors: 10 };
    expect(await judge(r, report(), sources, NOW)).toMatchObject({ state: 'ok', details: { errors: 10 } });
  });

  it("reads a route's requests and 5xx answers from the metrics the server counts", () => {
    const metrics = new Metrics();
    for (const code of [200, 200, 400, 500, 503])
      metrics.request('fraud-scoring', 'champion', 'fraud', '1', code, 0.001);
    metrics.request('fraud-scoring', 'challenger', 'fraud', '2', 500, 0.001);
    metrics.request('fraud-ab', 'a', 'fraud', '1', 500, 0.001);
    expect(metrics.requestTotals('fraud-scoring')).toEqual({ requests: 6, errors: 3 });
    expect(metrics.requestTotals('no-such-route')).toEqual({ requests: 0, errors: 0 });
  });
});
