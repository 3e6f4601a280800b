/**
 * Found by the dashboard's first screenshot: a healthy 80/20 split (`fraud-ab`, fixed weights) was
 * flagged as a sample-ratio mismatch at p ≈ 0. Each arm's expected pulls were the Σ propensity of
 * the decisions that drew it (0.8 · 0.8 n against 0.2 · 0.2 n), where they are the Σ of the arm's
 * probability over every decision (0.8 n and 0.2 n). An equal split could never show a mismatch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorReport } from '../../src/monitoring/report.js';
import { chiSquareSurvival } from '../../src/monitoring/statistics.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'srm-admin-token-1234';
const N = 300;

describe('SRM: expected pulls are every decision’s probability of each arm', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN });
  }, 60_000);
  afterAll(async () => {
    await t.stop();
  });

  it('an 80/20 fixed split expects 0.8 n and 0.2 n pulls, and its p-value is the hand computation', async () => {
    const pulls: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < N; i++) {
      const res = await postJson(`${t.url}/v1/predict/fraud-ab`, { features: demoRow(i) });
      expect(res.status).toBe(200);
      pulls[((await res.json()) as { arm: string }).arm]! += 1;
    }
    const get = async <T>(path: string): Promise<T> =>
      (await (await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;
    const series = await get<{ minutes: { arms: Record<string, { pulls: number; propensitySum: number }> }[] }>(
      '/admin/monitor/series?route=fraud-ab&window=1h',
    );
    const sum = (arm: string, k: 'pulls' | 'propensitySum'): number =>
      series.minutes.reduce((s, m) => s + (m.arms[arm]?.[k] ?? 0), 0);
    expect(sum('a', 'pulls')).toBe(pulls.a);
    expect(sum('a', 'propensitySum')).toBeCloseTo(0.8 * N, 9);
    expect(sum('b', 'propensitySum')).toBeCloseTo(0.2 * N, 9);

    const x = (pulls.a! - 0.8 * N) ** 2 / (0.8 * N) + (pulls.b! - 0.2 * N) ** 2 / (0.2 * N);
    const srm = (await get<MonitorReport>('/admin/monitor')).routes['fraud-ab']!.srm['1h'];
    expect(srm.pValue).toBeCloseTo(chiSquareSurvival(x, 1), 10);
    expect(srm.srm).toBe(srm.pValue < 0.001);
  });
});
