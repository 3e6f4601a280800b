/**
 * croupier_rows_dropped_total: an outcome log that cannot be written (here a file stands where the
 * route's day files go) counts its lost rows in the metric, while the outcomes stay counted.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const dropped = async (t: TestServer, log: string): Promise<number> => {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const m = new RegExp(`^croupier_rows_dropped_total\\{log="${log}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

describe('croupier_rows_dropped_total', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('starts at 0 for both logs, and counts the outcome rows a failing disk could not keep', async () => {
    expect(await dropped(t, 'training')).toBe(0);
    expect(await dropped(t, 'outcomes')).toBe(0);
    mkdirSync(join(t.stateDir, 'outcomes'), { recursive: true });
    writeFileSync(join(t.stateDir, 'outcomes', 'fraud-ab'), 'not a directory');
    for (let k = 0; k < 3; k++) {
      const res = await postJson(`${t.url}/v1/predict/fraud-ab`, { features: demoRow(k) });
      const { decision } = (await res.json()) as { decision: string };
      expect((await postJson(`${t.url}/v1/feedback`, { decision, reward: 1 })).status).toBe(202);
    }
    await expect.poll(() => dropped(t, 'outcomes'), { timeout: 10_000 }).toBe(3);
    expect(await dropped(t, 'training')).toBe(0);
  });
});
