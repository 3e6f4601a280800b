/**
 * A synthetic world for the guardrail tests: a model repository with a good model (`good`, two
 * versions that answer alike) and one that fails on the world's requests (`bad`: an embedding
 * lookup whose table is too short for the ids sent), routes, an alerts file with a local webhook
 * as the `events` channel, and helpers to drive traffic and feedback through a running server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddingManifest, embeddingModel, writeVersion } from '../../helpers/onnx.js';
import { postJson } from '../../helpers/server.js';

export const ADMIN = { authorization: 'Bearer admin-secret' };
export const VIEWER = { authorization: 'Bearer viewer-secret' };
export const TOKENS = 'ops:admin-secret,look:viewer-secret:viewer';

export function worldModels(routes: Record<string, unknown>, webhookUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'croupier-world-'));
  const table = new Uint8Array(100 * 16).fill(0x3e);
  for (const [model, version, rows] of [
    ['good', '1', 100],
    ['good', '2', 100],
    ['bad', '1', 2],
    ['scored', '1', 100],
    ['scored', '2', 2],
  ] as const) {
    const bytes = embeddingModel(rows, rows === 100 ? table : undefined);
    writeVersion(dir, model, version, bytes, embeddingManifest(model, version, bytes));
  }
  writeFileSync(join(dir, 'scored', 'LIVE'), '1\n');
  writeFileSync(join(dir, 'routes.json'), JSON.stringify({ routes }));
  writeFileSync(
    join(dir, 'alerts.json'),
    JSON.stringify({ channels: { ops: { type: 'webhook', url: webhookUrl } }, rules: [], events: ['ops'] }),
  );
  return dir;
}

export const removeModels = (dir: string): void => rmSync(dir, { recursive: true, force: true });

export interface Answer {
  status: number;
  arm?: string;
  version?: string;
  propensity?: number;
  decision?: string;
}

/** `n` predictions (id 50: out of `bad`'s table), `parallel` at a time. */
export async function predict(url: string, route: string, n: number, parallel = 16): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < n; i += parallel) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(parallel, n - i) }, async () => {
        const res = await postJson(`${url}/v1/predict/${route}`, { features: [50] });
        const body = (await res.json()) as Record<string, unknown>;
        return { status: res.status, ...(res.status === 200 ? body : {}) } as Answer;
      }),
    );
    out.push(...batch);
  }
  return out;
}

/** Feedback for each answered decision: `reward(arm, i)`. */
export async function feedback(
  url: string,
  answers: Answer[],
  reward: (arm: string, i: number) => number,
): Promise<void> {
  const events = answers
    .filter((a) => a.status === 200)
    .map((a, i) => ({ decision: a.decision, reward: reward(a.arm!, i) }));
  for (let i = 0; i < events.length; i += 500) {
    const res = await postJson(`${url}/v1/feedback`, { events: events.slice(i, i + 500) });
    if (res.status !== 202) throw new Error(`feedback answered ${res.status}: ${await res.text()}`);
  }
}

export async function getJson(url: string, headers = ADMIN): Promise<Record<string, any>> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, any>;
}

/** Polls `check` until it holds (generous deadline: the machine is shared). */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
