/**
 * `croupier retrain` (the real binary) against a real server with real ONNX: a live model fitted
 * on week 0 of a drifting world, export folders of later weeks, the built-in and an external
 * trainer, validation, registration (never live), a challenger arm, and a person's deploy.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitLogistic } from '../../src/retrain/logistic.js';
import { logisticModel } from '../../src/retrain/onnx-writer.js';
import { writeDatasetFolder, type Row } from '../helpers/dataset-folder.js';
import { DriftingWorld } from '../helpers/drifting-world.js';
import { postJson, ROOT, startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'retrain-test-token-123';
const FIXTURE_TRAINER = join(ROOT, 'test/retrain/fixtures/trainer.mjs');
const world = new DriftingWorld({ seed: 7, radiansPerWeek: 0.08 });
let t: TestServer;
let work: string;
let models: string;
let recent: string; // weeks 6 and 7
let recentRows: Row[];

function fitRows(rows: readonly Row[]) {
  const columns = world.features.map((f) => Float64Array.from(rows, (r) => r.features[f] as number));
  const y = Uint8Array.from(rows, (r) => Number(r.label));
  return fitLogistic(columns, y, Uint32Array.from(rows.keys()));
}

/** scorer/1: a logistic regression fitted on week 0, as a team would have deployed it then. */
function writeLiveModel(dir: string): void {
  const f = fitRows(world.rows(0, 4000));
  const bytes = logisticModel({
    inputs: [{ name: 'features', weights: f.weights }],
    bias: f.bias,
    output: 'probability',
    graphName: 'scorer_v1',
    docString: 'week 0',
    producerVersion: 'test',
  });
  mkdirSync(join(dir, 'scorer', '1'), { recursive: true });
  writeFileSync(join(dir, 'scorer', '1', 'model.onnx'), bytes);
  writeFileSync(
    join(dir, 'scorer', '1', 'model.json'),
    JSON.stringify({
      name: 'scorer',
      version: '1',
      file: 'model.onnx',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      created: '2026-01-05T00:00:00Z',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 32], featureNames: world.features }],
      outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
      monitor: { score: 'probability', threshold: 0.5, positive: 1 },
    }),
  );
  writeFileSync(join(dir, 'scorer', 'LIVE'), '1\n');
  writeFileSync(
    join(dir, 'routes.json'),
    JSON.stringify({
      routes: { scoring: { policy: 'thompson', arms: [{ name: 'champion', model: 'scorer', version: 'live' }] } },
    }),
  );
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'croupier-retrain-'));
  models = join(work, 'models');
  writeLiveModel(models);
  recentRows = [...world.rows(6, 1500), ...world.rows(7, 1500)];
  recent = writeDatasetFolder(join(work, 'recent'), recentRows, { route: 'scoring', rowsPerFile: 1000 });
  t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_MODELS_DIR: models });
});
afterAll(async () => {
  await t?.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function retrain(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return croupier(['retrain', 'scorer', '--route', 'scoring', ...args], env);
}

function croupier(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'croupier.js'), ...args, '--url', t.url],
      { cwd: work, env: { PATH: process.env.PATH ?? '', CROUPIER_ADMIN_TOKEN: TOKEN, ...env }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function admin<T>(path: string): Promise<T> {
  const res = await fetch(t.url + path, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

async function versions(): Promise<string[]> {
  const answer = await admin<{ models: { name: string; live: string; versions: { version: string }[] }[] }>(
    '/admin/models',
  );
  return answer.models.find((m) => m.name === 'scorer')!.versions.map((v) => v.version);
}

/** The weights a trainer of one's own would find on the training part of `recent`, as [w..., b]. */
function externalWeights(sign: 1 | -1): string {
  const sorted = [...recentRows].sort((a, b) => a.atMs - b.atMs);
  const f = fitRows(sorted.slice(0, Math.round(sorted.length * 0.8)));
  return JSON.stringify([...Array.from(f.weights, (w) => sign * w), sign * f.bias]);
}

describe('croupier retrain: refusals register nothing', () => {
  it('an unusable dataset: missing, empty, too small, another route (exit 3)', async () => {
    const empty = writeDatasetFolder(join(work, 'empty'), [], { route: 'scoring' });
    const small = writeDatasetFolder(join(work, 'small'), recentRows.slice(0, 50), { route: 'scoring' });
    const other = writeDatasetFolder(join(work, 'other'), recentRows, { route: 'fraud-scoring' });
    const runs = await Promise.all([
      retrain(['--dataset', join(work, 'nowhere')]),
      retrain(['--dataset', empty]),
      retrain(['--dataset', small]),
      retrain(['--dataset', other]),
    ]);
    expect(runs.map((r) => r.code)).toEqual([3, 3, 3, 3]);
    expect(runs[0]!.stderr).toMatch(/has no dataset.json/);
    expect(runs[1]!.stderr).toMatch(/has 0 rows: at least 100 are needed/);
    expect(runs[2]!.stderr).toMatch(/has 50 rows: at least 100/);
    expect(runs[3]!.stderr).toMatch(/of route "fraud-scoring", not "scoring"/);
    expect(await versions()).toEqual(['1']);
  });

  it('a trainer that fails, times out, or writes a model whose inputs differ (exit 4)', async () => {
    const started = Date.now();
    const [failed, slow, mismatched] = await Promise.all([
      retrain([
        '--dataset',
        recent,
        '--trainer',
        `"${process.execPath}" -e "console.error('diverged'); process.exit(3)"`,
      ]),
      retrain([
        '--dataset',
        recent,
        '--trainer',
        `"${process.execPath}" -e "setTimeout(() => {}, 60000)"`,
        '--trainer-timeout',
        '1',
      ]),
      retrain(['--dataset', recent, '--trainer', `"${process.execPath}" "${FIXTURE_TRAINER}"`], {
        TRAINER_WEIGHTS: externalWeights(1),
        TRAINER_INPUT: 'x',
      }),
    ]);
    expect([failed.code, slow.code, mismatched.code]).toEqual([4, 4, 4]);
    expect(failed.stderr).toMatch(/diverged/); // its output is streamed
    expect(failed.stderr).toMatch(/failed \(exit code 3\)/);
    expect(slow.stderr).toMatch(/did not finish within 1 s and was stopped/);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(mismatched.stderr).toMatch(/inputs do not match .*missing "features", unexpected "x"/);
    expect(await versions()).toEqual(['1']);
  });

  it("the command's own --timeout stops the trainer with it (exit 124, no process left behind)", async () => {
    const pidFile = join(work, 'trainer.pid');
    const script = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setTimeout(() => {}, 60000)`;
    const r = await retrain([
      '--dataset',
      recent,
      '--trainer',
      `"${process.execPath}" -e "${script.replaceAll('"', '\\"')}"`,
      '--timeout',
      '3',
    ]);
    expect(r.code, r.stderr).toBe(124);
    expect(r.stderr).toMatch(/timed out after 3 s waiting for the trainer/);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // SIGKILL is sent to the trainer's process group as the CLI gives up: it is gone at once.
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((ok) => setTimeout(ok, 100));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
    expect(await versions()).toEqual(['1']);
  });
});

describe('croupier retrain: a candidate registered, never live', () => {
  it('the built-in trainer recovers the AUC the drift took, registers version 2, and its numbers can be recomputed', async () => {
    const r = await retrain(['--dataset', recent, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      version: string;
      registered: boolean;
      fit: { iterations: number; converged: boolean; lambda: number };
      validation: {
        holdout: { rows: number };
        candidate: { auc: number; logLoss: number; brier: number };
        live: { version: string; auc: number; logLoss: number; brier: number };
      };
    };
    expect(out.registered).toBe(true);
    expect(out.version).toBe('2');
    expect(out.fit.converged).toBe(true);
    const v = out.validation;
    expect(v.holdout.rows).toBe(600);
    expect(v.live.version).toBe('1');
    expect(v.candidate.auc).toBeGreaterThan(v.live.auc + 0.02);

    // Never live; audited as a push.
    const listed = await admin<{ models: { name: string; live: string }[] }>('/admin/models');
    expect(listed.models.find((m) => m.name === 'scorer')!.live).toBe('1');
    expect(await versions()).toEqual(['1', '2']);
    const audit = await admin<{ entries: { action: string; target: string; result: string }[] }>('/admin/audit');
    expect(audit.entries.some((e) => e.action === 'push' && e.target === 'scorer' && e.result === 'ok')).toBe(true);

    // The manifest: source, validation, baseline histograms, monitor.
    const manifest = JSON.parse(readFileSync(join(models, 'scorer', '2', 'model.json'), 'utf8')) as {
      source: { dataset: { sha256: string }; rows: { train: number }; trainer: string; croupierVersion: string };
      validation: unknown;
      baseline: { features: Record<string, { histogram: { edges: number[]; counts: number[] } }> };
      monitor: unknown;
    };
    const dataset = JSON.parse(readFileSync(join(recent, 'dataset.json'), 'utf8')) as { sha256: string };
    expect(manifest.source.dataset.sha256).toBe(dataset.sha256);
    expect(manifest.source.rows.train).toBe(2400);
    expect(manifest.source.trainer).toMatch(/logistic regression/);
    expect(manifest.validation).toEqual(v);
    expect(manifest.monitor).toEqual({ score: 'probability', threshold: 0.5, positive: 1 });
    expect(manifest.baseline.features.f00!.histogram.counts).toHaveLength(10);
    expect(manifest.baseline.features.f00!.histogram.counts.reduce((s, c) => s + c, 0)).toBe(2400);

    // Recomputed here, independently: the last 20% by time, both models scored by ONNX Runtime.
    const holdout = [...recentRows].sort((a, b) => a.atMs - b.atMs).slice(2400);
    const x = new Float32Array(holdout.length * 32);
    holdout.forEach((row, i) => {
      world.features.forEach((f, j) => {
        x[i * 32 + j] = row.features[f] as number;
      });
    });
    const labels = holdout.map((row) => Number(row.label));
    for (const [version, reported] of [
      ['1', v.live],
      ['2', v.candidate],
    ] as const) {
      const session = await ort.InferenceSession.create(readFileSync(join(models, 'scorer', version, 'model.onnx')));
      const p = Array.from(
        (await session.run({ features: new ort.Tensor('float32', x, [holdout.length, 32]) })).probability!
          .data as Float32Array,
      );
      await session.release();
      let wins = 0;
      let pairs = 0;
      for (let i = 0; i < p.length; i++)
        for (let j = 0; j < p.length; j++)
          if (labels[i] === 1 && labels[j] === 0) {
            pairs++;
            wins += p[i]! > p[j]! ? 1 : p[i] === p[j] ? 0.5 : 0;
          }
      const logLoss = -p.reduce((s, q, i) => s + (labels[i] ? Math.log(q) : Math.log(1 - q)), 0) / p.length;
      const brier = p.reduce((s, q, i) => s + (q - labels[i]!) ** 2, 0) / p.length;
      expect(Math.abs(wins / pairs - reported.auc)).toBeLessThan(0.005);
      expect(Math.abs(logLoss - reported.logLoss)).toBeLessThan(0.005);
      expect(Math.abs(brier - reported.brier)).toBeLessThan(0.005);
    }
  });

  it('prints the validation table on the terminal; a worse candidate is refused (exit 5) unless --force', async () => {
    const env = { TRAINER_WEIGHTS: externalWeights(-1) };
    const trainer = `"${process.execPath}" "${FIXTURE_TRAINER}"`;
    const refused = await retrain(['--dataset', recent, '--trainer', trainer], env);
    expect(refused.code, refused.stderr).toBe(5);
    expect(refused.stdout).toMatch(/^AUC\s+0\.\d{4}\s+0\.\d{4}\s+-0\.\d{4}$/m);
    expect(refused.stdout).toMatch(/^log loss\s/m);
    expect(refused.stderr).toMatch(/not registered: the candidate is worse than live 1 .*--force/);
    expect(await versions()).toEqual(['1', '2']);
    const forced = await retrain(['--dataset', recent, '--trainer', trainer, '--force'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/registered scorer 3 .* with --force, although worse than live; live is still 1/);
    expect(await versions()).toEqual(['1', '2', '3']);
  });

  it('an external trainer on CSV, put on the route as a challenger arm; a person deploys it', async () => {
    const csv = writeDatasetFolder(join(work, 'recent-csv'), recentRows, { route: 'scoring', format: 'csv' });
    const r = await retrain(
      ['--dataset', csv, '--trainer', `"${process.execPath}" "${FIXTURE_TRAINER}"`, '--challenger', 'challenger'],
      { TRAINER_WEIGHTS: externalWeights(1) },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/fixture trainer: 3000 rows of scoring, 32 weights/);
    expect(r.stderr).toMatch(/admin token visible: false/);
    expect(r.stdout).toMatch(/route scoring: arm challenger now serves scorer 4/);
    const manifest = JSON.parse(readFileSync(join(models, 'scorer', '4', 'model.json'), 'utf8')) as {
      source: { notebook: string; trainer: string };
      inputs: { featureNames: string[] }[];
    };
    expect(manifest.source.notebook).toBe('fixture-trainer.mjs');
    expect(manifest.source.trainer).toMatch(/trainer\.mjs/);
    expect(manifest.inputs[0]!.featureNames).toEqual(world.features);
    const routes = await admin<{ routes: Record<string, { arms: { name: string; version: string }[] }> }>(
      '/admin/routes',
    );
    expect(routes.routes.scoring!.arms).toEqual([
      { name: 'champion', model: 'scorer', version: 'live' },
      { name: 'challenger', model: 'scorer', version: '4' },
    ]);
    const audit = await admin<{ entries: { action: string; target: string }[] }>('/admin/audit');
    expect(audit.entries.some((e) => e.action === 'routes.put' && e.target === 'scoring')).toBe(true);

    // The swap is a person's: deploy, then the same request is served by the new version.
    const deployed = await croupier(['deploy', 'scorer', '4']);
    expect(deployed.code, deployed.stderr).toBe(0);
    const features = Object.fromEntries(world.features.map((f) => [f, recentRows[0]!.features[f] as number]));
    const res = await postJson(`${t.url}/v1/predict/scoring`, { features });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { version: string; outputs: { probability: number[] } };
    expect(answer.version).toBe('4');
    expect(answer.outputs.probability[0]).toBeGreaterThan(0);
  });
});
