/** A restart keeps every route's statistics and the decisions still waiting, across compaction. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoRow, postJson, startTestServer, type TestServer, embeddedLog } from '../helpers/server.js';

const stateDir = mkdtempSync(join(tmpdir(), 'croupier-restart-'));
let t: TestServer | undefined;
afterAll(async () => {
  await t?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const decide = async (url: string) =>
  ((await (await postJson(`${url}/v1/predict/fraud-scoring`, { features: demoRow() })).json()) as { decision: string })
    .decision;
const statsOf = (s: TestServer) =>
  s.server.gateway.router
    .get('fraud-scoring')!
    .stats.map((a) => ({ pulls: a.pulls, n: a.n, sum: a.sum, version: a.versionKey }));

describe('restart', () => {
  it('restores statistics and pending decisions, before and after compaction', async () => {
    t = await startTestServer({ CROUPIER_STATE_DIR: stateDir });
    const decisions: string[] = [];
    for (let i = 0; i < 30; i++) decisions.push(await decide(t.url));
    const res = await postJson(`${t.url}/v1/feedback`, {
      events: decisions.slice(0, 10).map((decision, i) => ({ decision, reward: i % 2 })),
    });
    expect(res.status).toBe(202);
    await embeddedLog(t.server).state.compact();
    for (let i = 0; i < 10; i++) decisions.push(await decide(t.url));
    expect((await postJson(`${t.url}/v1/feedback`, { decision: decisions[10], reward: 1 })).status).toBe(202);
    const before = statsOf(t);
    const pending = embeddedLog(t.server).pending;
    await t.stop();

    t = await startTestServer({ CROUPIER_STATE_DIR: stateDir });
    expect(statsOf(t)).toEqual(before);
    expect(embeddedLog(t.server).pending).toBe(pending);
    // Counted outcomes stay counted; waiting decisions still take theirs.
    expect((await postJson(`${t.url}/v1/feedback`, { decision: decisions[3], reward: 1 })).status).toBe(200);
    expect((await postJson(`${t.url}/v1/feedback`, { decision: decisions[10], reward: 1 })).status).toBe(200);
    expect((await postJson(`${t.url}/v1/feedback`, { decision: decisions[20], reward: 1 })).status).toBe(202);
    expect((await postJson(`${t.url}/v1/feedback`, { decision: decisions[35], reward: 0 })).status).toBe(202);
    // Start-up compacted: one snapshot and one journal generation.
    expect(readdirSync(stateDir).filter((f) => f.startsWith('journal-'))).toHaveLength(1);
  });
});
