/**
 * The retraining loop end to end, as an operator runs it: a real server (real ONNX) on a copy of
 * the demo models with a route that keeps features, traffic labelled by a synthetic world, then the
 * real CLI — `croupier export` (read back with apache-arrow), `croupier retrain` exporting by itself
 * and putting the candidate on the challenger arm, and a person's `croupier deploy`. In Redis mode,
 * two replicas export the same rows, and a retrain runs on that export.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RowJson } from '../../src/retrain/dataset-row.js';
import type { DatasetManifest } from '../../src/retrain/export.js';
import { DriftingWorld } from '../helpers/drifting-world.js';
import { describeRedis, startRedis, until, type TestRedis } from '../helpers/redis.js';
import { spawnCroupier, type Child } from '../helpers/process.js';
import { copyDemoModels, postJson, ROOT, startTestServer, type TestServer } from '../helpers/server.js';

const RETRAIN_TOKEN = 'retrain-job-token-1234';
const OPS_TOKEN = 'ops-person-token-1234';
const TOKENS = `retrain:${RETRAIN_TOKEN},ops:${OPS_TOKEN}`;
const ROUTE = 'fraud-loop';
/** Enough rows for the trainer (it refuses under 100): 480 to train on, 120 held out. */
const ROWS = 600;

const work = mkdtempSync(join(tmpdir(), 'croupier-loop-'));
const models = copyDemoModels();
const NAMES = (
  JSON.parse(readFileSync(join(models, 'fraud', '1', 'model.json'), 'utf8')) as {
    inputs: { featureNames: string[] }[];
  }
).inputs[0]!.featureNames;
const routesFile = join(work, 'routes.json');
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: {
      [ROUTE]: {
        policy: 'fixed',
        logFeatures: true,
        arms: [
          { name: 'champion', model: 'fraud', version: 'live', weight: 0.8 },
          { name: 'challenger', model: 'fraud', version: '2', weight: 0.2 },
        ],
      },
    },
  }),
);

interface Sent {
  decision: string;
  arm: string;
  version: string;
  propensity: number;
  features: Record<string, number>;
  label: number;
}

interface Answer {
  decision: string;
  arm: string;
  model: string;
  version: string;
  propensity: number;
  outputs: { probability: number[] };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real binary (dist/), as an operator runs it, with its own environment. */
function croupier(url: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'croupier.js'), ...args, '--url', url],
      { cwd: work, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 180_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function admin<T>(url: string, path: string, token = OPS_TOKEN): Promise<T> {
  const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

async function datasetRows(url: string): Promise<RowJson[]> {
  const res = await fetch(`${url}/admin/routes/${ROUTE}/dataset?since=1d`, {
    headers: { authorization: `Bearer ${OPS_TOKEN}` },
  });
  expect(res.status).toBe(200);
  const text = await res.text();
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as RowJson);
}

/** Features named as the fraud model names them, valued and labelled by the synthetic world. */
function worldTraffic(seed: number): { features: Record<string, number>; label: number }[] {
  const world = new DriftingWorld({ seed, width: NAMES.length });
  return world.rows(0, ROWS).map((r) => ({
    features: Object.fromEntries(world.features.map((f, j) => [NAMES[j]!, r.features[f] as number])),
    label: Number(r.label),
  }));
}

/**
 * Posts outcomes as a client must: a 503 (Redis mode on a loaded machine: a write that timed out)
 * is retried after its Retry-After; a repeat of an outcome already counted adds nothing.
 */
async function postOutcomes(url: string, events: unknown[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const res = await postJson(`${url}/v1/feedback`, { events });
    if (res.status < 300) return;
    const body = await res.text();
    if (res.status !== 503 || attempt === 20) throw new Error(`feedback answered ${res.status}: ${body}`);
    await new Promise((ok) => setTimeout(ok, 1000 * Number(res.headers.get('retry-after') ?? 1)));
  }
}

/**
 * Predictions on `predictUrl` (eight at a time), then every outcome with its label on
 * `feedbackUrl`; resolves once `readUrl` serves a row for each.
 */
async function sendTraffic(predictUrl: string, feedbackUrl: string, readUrl: string, seed: number): Promise<Sent[]> {
  const traffic = worldTraffic(seed);
  const sent: Sent[] = new Array(traffic.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < traffic.length; i = next++) {
      const { features, label } = traffic[i]!;
      const res = await postJson(`${predictUrl}/v1/predict/${ROUTE}`, { features });
      expect(res.status).toBe(200);
      const a = (await res.json()) as Answer;
      sent[i] = { decision: a.decision, arm: a.arm, version: a.version, propensity: a.propensity, features, label };
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  const events = sent.map((s) => ({ decision: s.decision, reward: s.label, label: s.label }));
  for (let start = 0; start < events.length; start += 100)
    await postOutcomes(feedbackUrl, events.slice(start, start + 100));
  // Rows are written behind the outcome's answer (batched per turn of the event loop).
  await until(`${ROWS} training rows`, async () => (await datasetRows(readUrl)).length === ROWS, 20_000);
  return sent;
}

/** Every row of an export folder, read back with apache-arrow, in file order. */
function readExport(dir: string): { manifest: DatasetManifest; rows: Record<string, unknown>[] } {
  const manifest = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8')) as DatasetManifest;
  const rows = manifest.files.flatMap((f) =>
    tableFromIPC(readFileSync(join(dir, f.name)))
      .toArray()
      .map((r) => r.toJSON() as Record<string, unknown>),
  );
  return { manifest, rows };
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

describe('the retraining loop on a real server (embedded mode)', () => {
  let t: TestServer;
  let sent: Sent[];
  const exportDir = join(work, 'week');
  /** The retrain's own temporary folders go here, to see that none is left behind. */
  const retrainTmp = join(work, 'tmp');

  beforeAll(async () => {
    t = await startTestServer({
      CROUPIER_MODELS_DIR: models,
      CROUPIER_ROUTES: routesFile,
      CROUPIER_ADMIN_TOKENS: TOKENS,
    });
    sent = await sendTraffic(t.url, t.url, t.url, 11);
    mkdirSync(retrainTmp);
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    rmSync(models, { recursive: true, force: true });
  });

  it('croupier export writes Arrow files equal to the rows sent, dataset.json last', async () => {
    const r = await croupier(t.url, ['export', '--route', ROUTE, '--since', '1d', '-o', exportDir, '--json'], {
      CROUPIER_ADMIN_TOKEN: RETRAIN_TOKEN,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(join(exportDir, 'dataset.json'), 'utf8')));
    expect(r.stderr).toMatch(new RegExp(`export ${ROUTE}: ${ROWS} rows received`));
    const { manifest, rows } = readExport(exportDir);
    expect(manifest).toMatchObject({ format: 'arrow', route: ROUTE, rows: ROWS });
    expect(readdirSync(exportDir).sort()).toEqual(['dataset.json', 'part-00000.arrow']);
    expect(manifest.sha256).toBe(sha256(manifest.files.map((f) => f.sha256).join('')));
    expect(manifest.files[0]!.sha256).toBe(sha256(readFileSync(join(exportDir, 'part-00000.arrow'))));
    expect(manifest.columns.filter((c) => c.role === 'feature').map((c) => c.name)).toEqual(NAMES);
    expect(manifest.columns.find((c) => c.role === 'label')).toEqual({ name: 'label', type: 'float64', role: 'label' });

    expect(rows).toHaveLength(ROWS);
    const byDecision = new Map(rows.map((row) => [row.decision as string, row]));
    for (const s of sent) {
      const row = byDecision.get(s.decision);
      expect(row, s.decision).toBeDefined();
      expect(row).toMatchObject({
        route: ROUTE,
        arm: s.arm,
        model: 'fraud',
        version: s.version,
        propensity: s.propensity,
        reward: s.label,
        label: s.label,
      });
      expect(typeof row!.score).toBe('number'); // the demo fraud model has `monitor`
      for (const name of NAMES) expect(row![name], name).toBe(s.features[name]);
    }
    const times = rows.map((row) => row.at as number);
    expect(manifest.from).toBe(new Date(Math.min(...times)).toISOString());
    expect(manifest.to).toBe(new Date(Math.max(...times)).toISOString());
    // Both arms served, and each row says which, with its propensity.
    expect(new Set(sent.map((s) => s.arm))).toEqual(new Set(['champion', 'challenger']));
  });

  it('--since and -o shape the export retrain makes; with --dataset they are refused before any call', async () => {
    const runs = await Promise.all([
      croupier(t.url, ['retrain', 'fraud', '--route', ROUTE, '--dataset', exportDir, '-o', join(work, 'x')]),
      croupier(t.url, ['retrain', 'fraud', '--route', ROUTE, '--dataset', exportDir, '--since', '7d']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2]);
    expect(runs[0]!.stderr).toMatch(/--output is for the export croupier retrain makes without --dataset/);
    expect(runs[1]!.stderr).toMatch(/--since is for the export croupier retrain makes without --dataset/);
  });

  it('croupier retrain exports by itself, validates, registers version 3 never live, on the challenger arm', async () => {
    const r = await croupier(
      t.url,
      ['retrain', 'fraud', '--route', ROUTE, '--since', '1d', '--challenger', 'challenger', '--json'],
      { CROUPIER_ADMIN_TOKEN: RETRAIN_TOKEN, TMPDIR: retrainTmp },
    );
    expect(r.code, r.stderr).toBe(0);
    // It exported first (progress on stderr; stdout is the JSON alone).
    expect(r.stderr).toMatch(new RegExp(`export ${ROUTE}: ${ROWS} rows received`));
    const out = JSON.parse(r.stdout) as {
      version: string;
      live: string;
      registered: boolean;
      rows: { train: number; holdout: number; skipped: number };
      dataset: { sha256: string };
      validation: {
        holdout: { rows: number };
        candidate: { auc: number };
        live: { version: string; auc: number };
        passed: boolean;
      };
      challenger: { route: string; arm: string };
    };
    expect(out).toMatchObject({ version: '3', live: '1', registered: true });
    expect(out.rows).toEqual({ train: 480, holdout: 120, skipped: 0 });
    expect(out.validation.holdout.rows).toBe(120);
    expect(out.validation.live.version).toBe('1');
    expect(out.validation.passed).toBe(true);
    // Trained on the world's relation, the candidate beats the demo model it replaces.
    expect(out.validation.candidate.auc).toBeGreaterThan(out.validation.live.auc + 0.1);
    // Its own export is the same rows, in the same bytes, as the operator's export above.
    const week = JSON.parse(readFileSync(join(exportDir, 'dataset.json'), 'utf8')) as DatasetManifest;
    expect(out.dataset).toEqual({ sha256: week.sha256 }); // no `dir`: that folder is removed
    // Its temporary export is gone (other programs may leave their own files in TMPDIR).
    expect(readdirSync(retrainTmp).filter((name) => name.startsWith('croupier-'))).toEqual([]);

    // The manifest it registered: validation as printed, the dataset it came from.
    const manifest = JSON.parse(readFileSync(join(models, 'fraud', '3', 'model.json'), 'utf8')) as {
      validation: unknown;
      monitor: unknown;
      inputs: { featureNames: string[] }[];
      source: { dataset: { sha256: string; route: string; rows: number; from: string; to: string } };
    };
    expect(manifest.validation).toEqual(out.validation);
    expect(manifest.source.dataset).toMatchObject({
      sha256: week.sha256,
      route: ROUTE,
      rows: ROWS,
      from: week.from,
      to: week.to,
    });
    expect(manifest.inputs[0]!.featureNames).toEqual(NAMES);
    expect(manifest.monitor).toEqual({ score: 'probability', threshold: 0.5, positive: 1 });

    // Registered as the next version, never live.
    const listed = await admin<{ models: { name: string; live: string; versions: { version: string }[] }[] }>(
      t.url,
      '/admin/models',
    );
    const fraud = listed.models.find((m) => m.name === 'fraud')!;
    expect(fraud.live).toBe('1');
    expect(fraud.versions.map((v) => v.version)).toEqual(['1', '2', '3']);

    // The challenger arm now serves it, its weight kept.
    const routes = await admin<{ routes: Record<string, { arms: unknown[] }> }>(t.url, '/admin/routes');
    expect(routes.routes[ROUTE]!.arms).toEqual([
      { name: 'champion', model: 'fraud', version: 'live', weight: 0.8 },
      { name: 'challenger', model: 'fraud', version: '3', weight: 0.2 },
    ]);

    // Audited under the retrain job's own token: the upload, then the route edit.
    const audit = await admin<{ entries: { actor: string | null; action: string; target: string; result: string }[] }>(
      t.url,
      '/admin/audit',
    );
    const mine = audit.entries.filter((e) => e.actor === 'retrain');
    expect(mine.map((e) => [e.action, e.target, e.result])).toEqual([
      ['push', 'fraud', 'ok'],
      ['routes.put', ROUTE, 'ok'],
    ]);
  });

  it("the challenger arm answers with the candidate's own scores; a person's deploy puts it live", async () => {
    const session = await ort.InferenceSession.create(readFileSync(join(models, 'fraud', '3', 'model.onnx')));
    const expected = async (features: Record<string, number>): Promise<number> => {
      const x = Float32Array.from(NAMES, (n) => features[n]!);
      const out = await session.run({ features: new ort.Tensor('float32', x, [1, NAMES.length]) });
      return (out.probability!.data as Float32Array)[0]!;
    };
    try {
      // One request in five goes to the challenger: ask until it has answered (1e-23 to miss 240 times).
      let challenger: Answer | undefined;
      const features = sent[0]!.features;
      for (let i = 0; i < 240 && !challenger; i++) {
        const res = await postJson(`${t.url}/v1/predict/${ROUTE}`, { features });
        expect(res.status).toBe(200);
        const a = (await res.json()) as Answer;
        if (a.arm === 'challenger') challenger = a;
        else expect(a.version).toBe('1');
      }
      expect(challenger).toMatchObject({ model: 'fraud', version: '3', propensity: 0.2 });
      expect(challenger!.outputs.probability[0]).toBeCloseTo(await expected(features), 6);

      // The swap is a person's, under their own token.
      const deployed = await croupier(t.url, ['deploy', 'fraud', '3'], { CROUPIER_ADMIN_TOKEN: OPS_TOKEN });
      expect(deployed.code, deployed.stderr).toBe(0);
      const listed = await admin<{ models: { name: string; live: string }[] }>(t.url, '/admin/models');
      expect(listed.models.find((m) => m.name === 'fraud')!.live).toBe('3');
      const audit = await admin<{ entries: { actor: string | null; action: string; target: string }[] }>(
        t.url,
        '/admin/audit',
      );
      expect(audit.entries.at(-1)).toMatchObject({ actor: 'ops', action: 'deploy', target: 'fraud' });
      // The champion (version "live") now serves the candidate too.
      let champion: Answer | undefined;
      for (let i = 0; i < 50 && !champion; i++) {
        const a = (await (await postJson(`${t.url}/v1/predict/${ROUTE}`, { features })).json()) as Answer;
        if (a.arm === 'champion') champion = a;
      }
      expect(champion!.version).toBe('3');
      expect(champion!.outputs.probability[0]).toBeCloseTo(await expected(features), 6);
    } finally {
      await session.release();
    }
  });
});

describeRedis('the retraining loop in Redis mode: two replicas, one dataset', () => {
  let redis: TestRedis;
  const replicas: Child[] = [];
  const urls: string[] = [];
  const redisModels = copyDemoModels();

  beforeAll(async () => {
    redis = await startRedis();
    // Two processes (replicas are told apart by host and pid) on one models folder, as on a
    // ReadWriteMany volume: a push to one reaches the other. One after the other, as a rollout
    // starts them; each loads the demo models into ONNX Runtime, slow on a loaded machine.
    for (let i = 0; i < 2; i++) {
      const child = spawnCroupier(['serve', '--port', '0'], {
        CROUPIER_REDIS_URL: redis.url,
        CROUPIER_MODELS_DIR: redisModels,
        CROUPIER_STATE_DIR: mkdtempSync(join(work, 'replica-')),
        CROUPIER_ROUTES: routesFile,
        CROUPIER_ADMIN_TOKENS: TOKENS,
        CROUPIER_LOG_LEVEL: 'info', // "croupier ready" is an info line
      });
      replicas.push(child);
      urls.push(`http://127.0.0.1:${await child.ready}`);
    }
  }, 180_000);

  afterAll(async () => {
    for (const child of replicas) {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
    await redis?.stop();
    rmSync(redisModels, { recursive: true, force: true });
  });

  it('exports from either replica are the same rows; a retrain on one registers the candidate', async () => {
    // Decisions on one replica, outcomes posted to the other.
    const [a, b] = urls as [string, string];
    const sent = await sendTraffic(a, b, b, 23);
    const env = { CROUPIER_ADMIN_TOKEN: RETRAIN_TOKEN };
    const [fromA, fromB] = await Promise.all([
      croupier(a, ['export', '--route', ROUTE, '--since', '1d', '-o', join(work, 'redis-a')], env),
      croupier(b, ['export', '--route', ROUTE, '--since', '1d', '-o', join(work, 'redis-b')], env),
    ]);
    expect(fromA.code, fromA.stderr).toBe(0);
    expect(fromB.code, fromB.stderr).toBe(0);
    const ea = readExport(join(work, 'redis-a'));
    const eb = readExport(join(work, 'redis-b'));
    expect(ea.rows).toHaveLength(ROWS);
    expect(eb.rows).toEqual(ea.rows);
    expect(eb.manifest.sha256).toBe(ea.manifest.sha256);
    expect(new Set(ea.rows.map((r) => r.decision))).toEqual(new Set(sent.map((s) => s.decision)));

    const r = await croupier(a, ['retrain', 'fraud', '--route', ROUTE, '--dataset', join(work, 'redis-b')], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^AUC\s+0\.\d{4}\s+0\.\d{4}\s+\+0\.\d{4}$/m);
    expect(r.stdout).toMatch(/registered fraud 3 .*; live is still 1/);
    for (const url of urls) {
      const listed = await admin<{ models: { name: string; live: string; versions: { version: string }[] }[] }>(
        url,
        '/admin/models',
      );
      const fraud = listed.models.find((m) => m.name === 'fraud')!;
      expect(fraud.live).toBe('1');
      expect(fraud.versions.map((v) => v.version)).toContain('3');
    }
  });
});
