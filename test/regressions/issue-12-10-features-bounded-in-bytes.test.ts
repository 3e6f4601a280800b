/**
 * Issue 12, finding 10: with `logFeatures`, memory was bounded by the decision count, not bytes: 100
 * requests of 1 MB added 150 MB of RSS and 88 MB of journal. Rule: the features kept with decisions
 * are bounded in bytes, per decision (CROUPIER_FEATURES_MAX) and in total (CROUPIER_FEATURES_BUDGET);
 * past either, the decision keeps no features (counted), and the prediction is still answered.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer, embeddedLog } from '../helpers/server.js';

const MAX = 8 * 1024;
const BUDGET = 64 * 1024;
const routesFile = join(mkdtempSync(join(tmpdir(), 'croupier-routes-')), 'routes.json');
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: { logged: { policy: 'fixed', logFeatures: true, arms: [{ name: 'a', model: 'fraud', version: '1' }] } },
  }),
);
const stateDir = mkdtempSync(join(tmpdir(), 'croupier-12-10-'));
let t: TestServer | undefined;
afterAll(async () => {
  await t?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const start = () =>
  startTestServer({
    CROUPIER_ROUTES: routesFile,
    CROUPIER_STATE_DIR: stateDir,
    CROUPIER_FEATURES_MAX: String(MAX),
    CROUPIER_FEATURES_BUDGET: String(BUDGET),
  });
const row = (seed: number) =>
  Array.from({ length: 32 }, (_, i) => Number((((i * 7 + seed * 13) % 1000) / 1000 + 0.000123456).toFixed(9)));
async function predict(s: TestServer, rows: number, seed: number): Promise<string> {
  const features = rows === 1 ? row(seed) : Array.from({ length: rows }, (_, r) => row(seed + r));
  const res = await postJson(`${s.url}/v1/predict/logged`, { features });
  expect(res.status).toBe(200);
  return ((await res.json()) as { decision: string }).decision;
}
/** Bytes of features in the state directory's files (journals and snapshot), and the ids that have them. */
function persisted(): { bytes: number; ids: Set<string> } {
  let bytes = 0;
  const ids = new Set<string>();
  for (const f of readdirSync(stateDir).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(stateDir, f), 'utf8').split('\n')) {
      if (!line.includes('"f":')) continue;
      const d = JSON.parse(line) as { d: string; f: unknown };
      bytes += JSON.stringify(d.f).length;
      ids.add(d.d);
    }
  }
  return { bytes, ids };
}
const metric = async (s: TestServer, name: string) => {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
};

describe('issue 12-10: features kept with decisions are bounded in bytes', () => {
  it('drops the features of a decision larger than the cap, and stops keeping more past the budget; every prediction is answered', async () => {
    t = await start();
    // Ten requests of about 1 MB: each far over the per-decision cap.
    const big: string[] = [];
    for (let i = 0; i < 10; i++) big.push(await predict(t, 2600, i));
    // Then small ones (about 400 bytes each) until well past the budget.
    const small: string[] = [];
    for (let i = 0; i < (2 * BUDGET) / 400; i++) small.push(await predict(t, 1, i));
    await embeddedLog(t.server).state.compact();

    const store = embeddedLog(t.server).decisions;
    for (const id of big) expect(store.get(id)!.features).toBeUndefined();
    expect(store.get(small[0]!)!.features).toEqual(row(0));
    expect(store.get(small.at(-1)!)!.features).toBeUndefined();
    expect(await metric(t, 'croupier_features_bytes')).toBeLessThanOrEqual(BUDGET);
    expect(await metric(t, 'croupier_features_bytes')).toBeGreaterThan(BUDGET / 2);
    expect(await metric(t, 'croupier_features_dropped_total')).toBeGreaterThan(10);
    const onDisk = persisted();
    expect(onDisk.bytes).toBeLessThanOrEqual(BUDGET);
    expect(big.some((id) => onDisk.ids.has(id))).toBe(false);
    // The journal and snapshot are small: the 10 MB of features were never written.
    const total = readdirSync(stateDir).reduce((sum, f) => sum + statSync(join(stateDir, f)).size, 0);
    expect(total).toBeLessThan(2 * 1024 * 1024);
    await t.stop();

    // After a restart the budget holds too, and features kept before are kept again.
    t = await start();
    const again = embeddedLog(t.server).decisions;
    expect(again.get(small[0]!)!.features).toEqual(row(0));
    expect(await metric(t, 'croupier_features_bytes')).toBeLessThanOrEqual(BUDGET);
    await predict(t, 1, 7);
  });
});
