/**
 * croupier_drift_psi on a real server: after rows far from the demo fraud model's training rows,
 * the scraped PSI of a drifted feature and of the score equals the number `/admin/monitor` gives,
 * per version and window; a version that scored nothing has no series; promtool accepts the page.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorReport } from '../../src/monitoring/report.js';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'drift-metric-admin-token';

/** The value of the one line of `series{labels}` on the page; undefined without one. */
function scraped(text: string, labels: Record<string, string>): number | undefined {
  const prefix = `croupier_drift_psi{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describe('croupier_drift_psi', () => {
  let t: TestServer;
  const versions = new Set<string>();

  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKENS: `ops:${ADMIN}` });
    // demoRow's values are in [0, 1): the fraud amounts of the baseline are far larger, so `amount` drifts.
    for (let i = 0; i < 60; i++) {
      const res = await postJson(`${t.url}/v1/predict/fraud-ab`, { features: [demoRow(i), demoRow(i + 100)] });
      expect(res.status).toBe(200);
      versions.add(((await res.json()) as { version: string }).version);
    }
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('scrapes the PSI /admin/monitor reports, per version, feature (the score as "prediction") and window', async () => {
    // The scrape first: it computes the windows itself (no report was asked for yet).
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const res = await fetch(`${t.url}/admin/monitor`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    const report = (await res.json()) as MonitorReport;
    expect(versions.size).toBeGreaterThan(0);
    for (const version of versions)
      for (const window of ['1h', '24h'] as const) {
        const drift = report.models.fraud![version]!.drift[window];
        expect(drift.rows).toBeGreaterThan(0);
        expect(drift.features.amount!).toBeGreaterThan(0.2);
        const labels = { model: 'fraud', version, feature: 'amount', window };
        expect(scraped(text, labels), JSON.stringify(labels)).toBe(drift.features.amount);
        expect(scraped(text, { ...labels, feature: 'prediction' })).toBe(drift.prediction);
        expect(scraped(text, { ...labels, feature: 'account_age_days' })).toBe(drift.features.account_age_days);
      }
    // ctr has baseline histograms but scored no row: no PSI, no series (not a 0 that would read "no drift").
    expect(report.models.ctr!['1']!.drift['1h'].features.user_age_years).toBeNull();
    expect(text).not.toMatch(/croupier_drift_psi\{model="ctr"/);
    expect(text).toMatch(/# TYPE croupier_drift_psi gauge/);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (check.status !== null || process.env.CI === 'true') {
      const findings = `${check.stdout}${check.stderr}`.split('\n').filter((l) => l.includes('croupier_drift_psi'));
      expect(findings).toEqual([]);
    }
  });
});
