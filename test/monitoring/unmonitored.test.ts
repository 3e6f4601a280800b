/**
 * A version without `monitor` or without baseline histograms "simply has no label metrics or
 * drift, and /admin/monitor says so" (issue 16): on a real server, the arm of a version without
 * `monitor` carries `noLabels`, and versions without a baseline, or with one that has no histogram,
 * are listed in `noDrift` with the reason; versions that have both carry neither.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorReport } from '../../src/monitoring/report.js';
import { copyDemoModels, startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'unmonitored-admin-token';

/** The demo models; mlp@1 without a baseline, checkout@1's baseline without its amount histogram. */
function models(): string {
  const dir = copyDemoModels();
  const edit = (path: string, change: (m: Record<string, unknown>) => void): void => {
    const m = JSON.parse(readFileSync(join(dir, path), 'utf8')) as Record<string, unknown>;
    change(m);
    writeFileSync(join(dir, path), JSON.stringify(m));
  };
  edit('mlp/1/model.json', (m) => {
    delete m.baseline;
  });
  edit('checkout/1/model.json', (m) => {
    const amount = (m.baseline as { features: Record<string, Record<string, unknown>> }).features.amount!;
    delete amount.histogram;
  });
  return dir;
}

describe('/admin/monitor says why a version has no label metrics or no drift', () => {
  let t: TestServer;
  let dir = '';
  let report: MonitorReport;

  beforeAll(async () => {
    dir = models();
    t = await startTestServer({ CROUPIER_MODELS_DIR: dir, CROUPIER_ADMIN_TOKENS: `ops:${ADMIN}` });
    const res = await fetch(`${t.url}/admin/monitor`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    report = (await res.json()) as MonitorReport;
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names what is missing on the arm of a version without `monitor`, and only there', () => {
    const checkout = report.routes.checkout!.arms.default!;
    expect(checkout.noLabels).toMatch(/checkout@1 has no "monitor"/);
    expect(checkout.windows['1h'].labels).toBeUndefined();
    const champion = report.routes['fraud-scoring']!.arms.champion!;
    expect(champion.noLabels).toBeUndefined();
    expect(champion.windows['1h'].labels).toBeDefined();
  });

  it('lists the versions without drift with the reason: no baseline, or no histogram in it', () => {
    expect(report.noDrift).toEqual({
      mlp: { '1': expect.stringMatching(/mlp@1 has no "baseline"/) },
      checkout: { '1': expect.stringMatching(/baseline of checkout@1 has no histogram/) },
    });
    expect(report.models.mlp).toBeUndefined();
    expect(report.models.checkout).toBeUndefined();
    expect(Object.keys(report.models.fraud!)).toEqual(['1', '2']);
  });
});
