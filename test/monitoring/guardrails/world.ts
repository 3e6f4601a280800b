/**
 * A synthetic world for the guardrail tests: a model repository with a good model (`good`, two
 * versions that answer alike), one that fails on the world's requests (`bad`: an embedding lookup
 * whose table is too short for the ids sent), a slow one (`slow`) and one whose version 2 fails
 * (`scored`), routes, an alerts file with a local webhook
 * as the `events` channel, and helpers to drive traffic and feedback through a running server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Notice } from '../../../src/monitoring/alerts/notice.js';
import type { ArmReport, MonitorReport } from '../../../src/monitoring/report.js';
import type { AuditEntry } from '../../../src/state/audit-chain.js';
import type { Webhook } from '../../helpers/receivers.js';
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
  // `slow` answers like `good`, but its batches wait 250 ms to fill (and never fill): a slow model,
  // seen from the gateway, slower than a loaded machine makes the champion.
  const slow = embeddingModel(100, table);
  writeVersion(dir, 'slow', '1', slow, {
    ...embeddingManifest('slow', '1', slow),
    batchDelayUs: 250_000,
    maxBatch: 4096,
  });
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

export async function getJson<T>(url: string, headers = ADMIN): Promise<T> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** A route's arms as /admin/monitor shows them. */
export async function monitorArms(url: string, route: string): Promise<Record<string, ArmReport>> {
  return (await getJson<MonitorReport>(`${url}/admin/monitor`)).routes[route]!.arms;
}

export async function auditEntries(url: string): Promise<AuditEntry[]> {
  return (await getJson<{ entries: AuditEntry[] }>(`${url}/admin/audit`)).entries;
}

/** The live version of `model`, as GET /admin/models says. */
export async function liveOf(url: string, model: string): Promise<string | undefined> {
  const { models } = await getJson<{ models: { name: string; live: string }[] }>(`${url}/admin/models`);
  return models.find((m) => m.name === model)?.live;
}

/** The events a webhook received. */
export const eventsOf = (hook: Webhook, event: string): Notice[] =>
  (hook.received as Notice[]).filter((n) => n.event === event);

export async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
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
