/**
 * Issue 12, finding 4: any client could break /metrics. A reward of 1e308 on a Gaussian route
 * overflowed the statistics to +Inf, saved as null; after a restart every scrape answered 500 until
 * an admin reset the route. One 1e200 (its square is +Inf) silently corrupted the arm selection.
 * Rule: a reward the statistics cannot hold is refused with a coded 400 before anything is counted,
 * and a snapshot already holding null or Inf cannot make /metrics fail.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer, embeddedLog } from '../helpers/server.js';

const fraud = (name: string, version: string) => ({ name, model: 'fraud', version });
const routesFile = join(mkdtempSync(join(tmpdir(), 'croupier-routes-')), 'routes.json');
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: {
      revenue: { policy: 'thompson', reward: 'gaussian', arms: [fraud('a', '1'), fraud('b', '2')] },
      fading: { policy: 'ucb1', reward: 'gaussian', halfLifeSeconds: 60, arms: [fraud('a', '1'), fraud('b', '2')] },
    },
  }),
);
const dirs: string[] = [];
let t: TestServer | undefined;
afterAll(async () => {
  await t?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let stateDir = '';
const start = () => startTestServer({ CROUPIER_ROUTES: routesFile, CROUPIER_STATE_DIR: stateDir });
const freshState = () => {
  stateDir = mkdtempSync(join(tmpdir(), 'croupier-12-4-'));
  dirs.push(stateDir);
};
const decide = async (s: TestServer, route: string) =>
  (
    (await (await postJson(`${s.url}/v1/predict/${route}`, { features: new Array(32).fill(0.5) })).json()) as {
      decision: string;
    }
  ).decision;
const feedback = (s: TestServer, body: unknown) => postJson(`${s.url}/v1/feedback`, body);

/** Every value of the arm gauges (pulls, rewards, selection probability); /metrics must answer 200. */
async function armGauges(s: TestServer): Promise<number[]> {
  const res = await fetch(`${s.url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return [...text.matchAll(/^croupier_arm_\w+\{route="(?:revenue|fading)",arm="\w+"\} (\S+)$/gm)].map((m) =>
    Number(m[1]),
  );
}
const allFinite = (xs: number[]) => xs.length > 0 && xs.every((x) => Number.isFinite(x));

describe('issue 12-4: a reward the statistics cannot hold', () => {
  it('is refused with 400 reward_out_of_range, alone or in a batch, and counts nothing', async () => {
    freshState();
    t = await start();
    for (const route of ['revenue', 'fading']) {
      for (const reward of [1e308, -1e308, 1e200, 1e16]) {
        const id = await decide(t, route);
        const res = await feedback(t, { decision: id, reward });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('reward_out_of_range');
        const batch = await feedback(t, { events: [{ decision: id, reward }] });
        expect(batch.status).toBe(200);
        expect(await batch.json()).toMatchObject({ accepted: 0, results: [{ index: 0, result: 'invalid' }] });
        // Still waiting: a sane reward for it is accepted.
        expect((await feedback(t, { decision: id, reward: 12.5 })).status).toBe(202);
      }
    }
    const stats = [...t.server.gateway.router.routes.values()].flatMap((r) => r.stats);
    for (const s of stats) for (const x of [s.n, s.sum, s.sumSq, s.rewardTotal]) expect(Number.isFinite(x)).toBe(true);
    expect(allFinite(await armGauges(t))).toBe(true);
    // The largest reward allowed is held without overflow, also through discounting.
    for (const route of ['revenue', 'fading']) {
      for (let i = 0; i < 20; i++)
        expect((await feedback(t, { decision: await decide(t, route), reward: i % 2 ? 1e15 : -1e15 })).status).toBe(
          202,
        );
    }
    t.server.gateway.router.recomputeAll();
    expect(allFinite(await armGauges(t))).toBe(true);
    await t.stop();
    t = await start();
    expect(allFinite(await armGauges(t))).toBe(true);
    await t.stop();
    t = undefined;
  });

  it('already in a snapshot as null or Infinity cannot make /metrics fail after a restart', async () => {
    await t?.stop();
    freshState();
    t = await start();
    for (const arm of ['a', 'b']) {
      // Each arm pulled and rewarded, so that both have statistics to corrupt.
      while (t.server.gateway.router.get('revenue')!.stats[arm === 'a' ? 0 : 1]!.n === 0) {
        expect((await feedback(t, { decision: await decide(t, 'revenue'), reward: 2 })).status).toBe(202);
      }
    }
    // The statistics in the snapshot, not in the journal.
    await embeddedLog(t.server).state.compact();
    await t.stop();
    t = undefined;
    const file = join(stateDir, 'snapshot.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    const stats = JSON.parse(lines[1]!) as { stats: Record<string, Record<string, Record<string, unknown>>> };
    // What an overflowed arm looked like on disk (JSON turns Infinity into null)...
    Object.assign(stats.stats.revenue!.a!, { rewards: null, sum: null, sumSq: null });
    // ...and a hand-edited one.
    lines[1] = JSON.stringify(stats).replace('"sumSq":', '"sumSq":1e999,"x":');
    writeFileSync(file, lines.join('\n'));

    t = await start();
    expect(allFinite(await armGauges(t))).toBe(true);
    const route = t.server.gateway.router.get('revenue')!;
    for (const s of route.stats)
      for (const x of [s.pulls, s.n, s.sum, s.sumSq, s.rewardTotal]) expect(Number.isFinite(x)).toBe(true);
    expect(t.logs.some((l) => l.level === 'warn' && String(l.msg).includes('statistics'))).toBe(true);
    // And the route goes on learning.
    expect((await feedback(t, { decision: await decide(t, 'revenue'), reward: 3 })).status).toBe(202);
    expect(allFinite(await armGauges(t))).toBe(true);
  });
});
