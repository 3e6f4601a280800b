/**
 * Issue 12, finding 2: an acknowledged outcome was lost on restart when its decision had passed the
 * feedback window by then (replay dropped the decision, so the journaled outcome found nothing to
 * credit, while the decision's pull was still counted). Rule: an outcome answered 2xx survives any
 * restart, whatever the decision's age at replay time, from the journal or from a snapshot.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DecisionIds } from '../../src/feedback/decision-id.js';
import { Outcome, RouteReset } from '../../src/feedback/outcome.js';
import type { Bytes } from '../../src/state/bytes.js';
import { Journal } from '../../src/state/embedded/journal.js';
import { postJson, startTestServer, type TestServer, embeddedLog } from '../helpers/server.js';

const WINDOW_S = 2;
const routesFile = join(mkdtempSync(join(tmpdir(), 'croupier-routes-')), 'routes.json');
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: {
      short: { policy: 'fixed', feedbackWindow: WINDOW_S, arms: [{ name: 'a', model: 'fraud', version: '1' }] },
    },
  }),
);
const dirs: string[] = [];
let t: TestServer | undefined;
afterAll(async () => {
  await t?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const start = (stateDir: string) => startTestServer({ CROUPIER_ROUTES: routesFile, CROUPIER_STATE_DIR: stateDir });
const decide = async (s: TestServer) =>
  (
    (await (await postJson(`${s.url}/v1/predict/short`, { features: new Array(32).fill(0.5) })).json()) as {
      decision: string;
    }
  ).decision;
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

describe("issue 12-2: an accepted outcome survives a restart after its decision's window", () => {
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
    await embeddedLog(t.server).state.compact();
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

/**
 * Compaction rotates the journal while a snapshot is written. An outcome acknowledged in between
 * rides on the new generation; its decision must be durable by then too, or a crash before the
 * snapshot is durable (kill -9, power loss) replays the outcome without its decision.
 */
describe("issue 12-2: across a journal rotation, an acknowledged outcome's decision is durable with it", () => {
  const dir = mkdtempSync(join(tmpdir(), 'croupier-12-2-journal-'));
  dirs.push(dir);
  const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
  /** A source that hands the journal one decision line the next time it is asked. */
  const oneDecision = (id: string) => {
    let given = false;
    return {
      drainInto(out: Bytes) {
        if (!given) {
          out.writeString(`{"d":"${id}"}\n`);
          given = true;
        }
      },
    };
  };

  it('keeps the decisions not yet written when it rotates (dropping only what replay cannot repeat)', async () => {
    // A long linger: the decision is still buffered when compaction rotates.
    const journal = await Journal.open(join(dir, 'a1.jsonl'), 60_000);
    journal.attachSource(oneDecision('D1'));
    journal.poke();
    journal.append(new RouteReset('r', 1));
    await journal.rotate(await open(join(dir, 'a2.jsonl'), 'a'));
    journal.append(new Outcome('D1', 1, undefined, 2));
    await journal.commit();
    // "Crash" here, before any snapshot: what is on disk must hold the decision before its outcome.
    const onDisk = [...lines(join(dir, 'a1.jsonl')), ...lines(join(dir, 'a2.jsonl'))];
    expect(onDisk).toEqual(['{"d":"D1"}', '{"o":"D1","w":1,"t":2}']);
    await journal.close();
  });

  it('acknowledges outcomes after a rotation only once the old file is synced too', async () => {
    const journal = await Journal.open(join(dir, 'b1.jsonl'), 0);
    journal.attachSource(oneDecision('D2'));
    journal.poke();
    // The decision is written to the old file in the background, without a sync of its own.
    while (lines(join(dir, 'b1.jsonl')).length === 0) await new Promise((r) => setTimeout(r, 5));
    const old = (journal as unknown as { fh: { datasync(): Promise<void> } }).fh;
    const datasync = old.datasync.bind(old);
    let releaseOld: () => void = () => undefined;
    let oldSyncs = 0;
    old.datasync = () => {
      oldSyncs++;
      return new Promise<void>((r) => {
        releaseOld = r;
      }).then(datasync);
    };
    const rotated = journal.rotate(await open(join(dir, 'b2.jsonl'), 'a'));
    journal.append(new Outcome('D2', 1, undefined, 2));
    let acknowledged = false;
    const committed = journal.commit().then(() => {
      acknowledged = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(oldSyncs).toBe(1);
    expect(acknowledged).toBe(false);
    releaseOld();
    await committed;
    await rotated;
    expect(acknowledged).toBe(true);
    await journal.close();
  });
});
