/**
 * Issue 12, finding 2: an acknowledged outcome was lost on restart when its decision had passed the
 * feedback window by then (replay dropped the decision, so the journaled outcome found nothing to
 * credit, while the decision's pull was still counted). Rule: an outcome answered 2xx survives any
 * restart, whatever the decision's age at replay time, from the journal or from a snapshot.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DecisionIds } from '../../src/feedback/decision-id.js';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';

const WINDOW_S = 2;
const routesFile = join(mkdtempSync(join(tmpdir(), 'croupier-routes-')), 'routes.json');
writeFileSync(routesFile, JSON.stringify({
  routes: { short: { policy: 'fixed', feedbackWindow: WINDOW_S, arms: [{ name: 'a', model: 'fraud', version: '1' }] } },
}));
const dirs: string[] = [];
let t: TestServer | undefined;
afterAll(async () => {
  await t?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const start = (stateDir: string) => startTestServer({ CROUPIER_ROUTES: routesFile, CROUPIER_STATE_DIR: stateDir });
const decide = async (s: TestServer) => ((await (await postJson(`${s.url}/v1/predict/short`, { features: new Array(32).fill(0.5) })).json()) as { decision: string }).decision;
const gauge = async (s: TestServer, name: string) => {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{route="short",arm="a"\\} (\\S+)$`, 'm').exec(text)?.[1]);
};

/** Waits (the server stopped) until the decision is past its route's window, with a margin. */
async function outlive(stateDir: string, decision: string): Promise<void> {
  const createdMs = DecisionIds.fromFile(join(stateDir, 'decision-secret')).verify(decision)!;
  const wait = createdMs + WINDOW_S * 1000 + 500 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

describe('issue 12-2: an accepted outcome survives a restart after its decision\'s window', () => {
  it('from the journal (decision and outcome in the same generation)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'croupier-12-2-'));
    dirs.push(stateDir);
    t = await start(stateDir);
    const id = await decide(t);
    expect((await postJson(`${t.url}/v1/feedback`, { decision: id, reward: 1 })).status).toBe(202);
    expect(await gauge(t, 'croupier_arm_rewards')).toBe(1);
    await t.stop();
    await outlive(stateDir, id);

    t = await start(stateDir);
    expect(await gauge(t, 'croupier_arm_pulls')).toBe(1);
    expect(await gauge(t, 'croupier_arm_rewards')).toBe(1);
    // And it stays counted through the compaction that start-up ran, to the next start.
    await t.stop();
    t = await start(stateDir);
    expect(await gauge(t, 'croupier_arm_rewards')).toBe(1);
    await t.stop();
    t = undefined;
  });

  it('from a snapshot (decision snapshotted while waiting, outcome journaled after)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'croupier-12-2-'));
    dirs.push(stateDir);
    t = await start(stateDir);
    const id = await decide(t);
    await t.server.feedbackLoop!.state.compact();
    expect((await postJson(`${t.url}/v1/feedback`, { decision: id, reward: 1 })).status).toBe(202);
    await t.stop();
    await outlive(stateDir, id);

    t = await start(stateDir);
    expect(await gauge(t, 'croupier_arm_pulls')).toBe(1);
    expect(await gauge(t, 'croupier_arm_rewards')).toBe(1);
    await t.stop();
    t = undefined;
  });
});
