/**
 * Drift counting: the counter's bins equal a row-by-row histogram, it samples past 10,000 rows a
 * second, and the demo fraud model scored by ONNX Runtime through the real engine shows no drift on
 * its own training rows and clear drift on shifted ones; what is counted reaches the monitor store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoTrainingRows } from '../../scripts/make-models.js';
import type { Job, RowSlice } from '../../src/inference/batcher.js';
import { InferenceEngine } from '../../src/inference/engine.js';
import { InlineRunner } from '../../src/inference/inline.js';
import type { TensorData } from '../../src/inference/messages.js';
import { InferencePool } from '../../src/inference/pool.js';
import { createLogger } from '../../src/log.js';
import { histogramBin, psi } from '../../src/monitoring/drift.js';
import {
  DriftCounter,
  driftLayout,
  driftReport,
  SAMPLE_ABOVE,
  SAMPLE_STRIDE,
} from '../../src/monitoring/drift-counter.js';
import { DriftApplier, DriftCounters, driftSeries } from '../../src/monitoring/drift-counters.js';
import { minuteOf } from '../../src/monitoring/minute-window.js';
import type { Manifest } from '../../src/registry/manifest.js';
import { scanRepository, type ModelVersion } from '../../src/registry/repository.js';
import { EmbeddedMonitorCounts } from '../../src/state/embedded/monitor-counts.js';
import { modelVersion } from '../protocol/versions.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** 20 edges: more than the branch-free search takes, so the version is binned by binary search. */
const WIDE = { edges: Array.from({ length: 20 }, (_, i) => -2.5 + i * 0.25), counts: new Array<number>(21).fill(1) };

/** x FP32 [-1, 3] (a, b, c; c has no histogram unless `wide`) -> p FP32 [-1, 1], with a baseline. */
function small(wide = false): ModelVersion {
  const v = modelVersion(
    [{ name: 'x', datatype: 'FP32', shape: [-1, 3], featureNames: ['a', 'b', 'c'] }],
    [{ name: 'p', datatype: 'FP32', shape: [-1, 1] }],
  );
  const manifest: Manifest = {
    ...v.manifest,
    baseline: {
      features: {
        a: { histogram: { edges: [-1, 0, 1], counts: [1, 2, 2, 1] } },
        b: { histogram: { edges: [10], counts: [5, 5] } },
        c: wide ? { histogram: WIDE } : { mean: 0 },
      },
      prediction: { histogram: { edges: [0.25, 0.5, 0.75], counts: [1, 1, 1, 1] } },
    },
  };
  return { ...v, manifest };
}

const tensor = (data: Float32Array, rows: number, width: number): TensorData[] => [
  { name: 'x', type: 'float32', dims: [rows, width], data },
];
const scoresOf = (data: Float32Array): TensorData[] => [{ name: 'p', type: 'float32', dims: [data.length, 1], data }];

/** Everything the counter counted since the last take, summed over its minutes (undefined: nothing). */
function takeAll(counter: DriftCounter): Float64Array | undefined {
  const taken = counter.take();
  if (taken.length === 0) return undefined;
  const out = new Float64Array(counter.layout.length);
  for (const { amounts } of taken) for (let i = 0; i < out.length; i++) out[i]! += amounts[i]!;
  return out;
}

/** A seeded stream of values in [-3, 3), with some NaN. */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    if (i % 97 === 13) return Number.NaN;
    if (i % 89 === 5) return i % 2 === 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    return (s / 2 ** 32) * 6 - 3;
  });
}

describe('DriftCounter', () => {
  it('lays out [rows, sampled rows, bins of each histogram feature, prediction bins]', () => {
    const layout = driftLayout(small())!;
    expect(layout.features).toEqual(['a', 'b']);
    expect(layout.baselines.map((b) => b.offset)).toEqual([2, 6]);
    expect(layout.prediction?.offset).toBe(8);
    expect(layout.length).toBe(12);
  });

  it('has no layout for a version without histograms (nothing to count)', () => {
    expect(
      driftLayout(
        modelVersion(
          [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
          [{ name: 'p', datatype: 'FP32', shape: [-1, 1] }],
        ),
      ),
    ).toBeUndefined();
    const categorical = small();
    const manifest: Manifest = { ...categorical.manifest, baseline: { features: { c: { frequencies: { x: 1 } } } } };
    expect(driftLayout({ ...categorical, manifest })).toBeUndefined();
  });

  it('bins only numeric features of a mixed model: checkout counts its FP32 amount among string inputs', () => {
    const checkout = scanRepository(join(ROOT, 'models')).models.get('checkout')!.versions.get('1')!;
    const layout = driftLayout(checkout)!;
    expect(layout.features).toEqual(['amount']);
    expect(layout.groups.map((g) => g.input)).toEqual([2]);
    const counter = new DriftCounter(layout);
    const inputs: TensorData[] = [
      { name: 'country', type: 'string', dims: [2, 1], data: ['FR', 'NG'] },
      { name: 'channel', type: 'string', dims: [2, 1], data: ['app', 'web'] },
      { name: 'amount', type: 'float32', dims: [2, 1], data: Float32Array.of(1, 5000) },
    ];
    counter.countScores([], 2, counter.count(inputs, 2, 0));
    const v = takeAll(counter)!;
    const bins = checkout.manifest.baseline!.features.amount!.histogram!.counts.length;
    expect(Array.from(v.subarray(2, 2 + bins))).toEqual([1, ...new Array<number>(bins - 2).fill(0), 1]);
  });

  it.each([
    ['the branch-free search', false],
    ['binary search (a feature of 20 edges)', true],
  ])(
    'counts, batch by batch, exactly the histogram of every row, feature and score (NaN has no bin, ±Infinity the end bins), by %s',
    (_, wide) => {
      const version = small(wide);
      const layout = driftLayout(version)!;
      expect(layout.groups[0]!.table === undefined).toBe(wide);
      const counter = new DriftCounter(layout);
      const expected = new Float64Array(layout.length);
      let t = 0;
      for (const [b, rows] of [1, 7, 64, 3, 200].entries()) {
        const x = values(rows * 3, b + 1);
        const p = values(rows, b + 100).map((v) => (v + 3) / 6);
        const token = counter.count(tensor(x, rows, 3), rows, t);
        counter.countScores(scoresOf(p), rows, token);
        t += 10;
        expected[0]! += rows;
        for (let r = 0; r < rows; r++) {
          const a = histogramBin([-1, 0, 1], x[r * 3]!);
          const bb = histogramBin([10], x[r * 3 + 1]!);
          const s = histogramBin([0.25, 0.5, 0.75], p[r]!);
          if (a >= 0) expected[2 + a]!++;
          if (bb >= 0) expected[6 + bb]!++;
          const c = histogramBin(WIDE.edges, x[r * 3 + 2]!);
          if (wide && c >= 0) expected[8 + c]!++;
          if (s >= 0) expected[(wide ? 29 : 8) + s]!++;
        }
      }
      expect(Array.from(takeAll(counter)!)).toEqual(Array.from(expected));
      expect(takeAll(counter)).toBeUndefined();
      const report = driftReport(layout, expected);
      expect(report.rows).toBe(275);
      expect(report.sampled).toBe(false);
      expect(report.features.a).toBeCloseTo(psi([1, 2, 2, 1], expected.slice(2, 6))!, 12);
      const p = wide ? 29 : 8;
      expect(report.prediction).toBeCloseTo(psi([1, 1, 1, 1], expected.slice(p, p + 4))!, 12);
    },
  );

  it('counts every row up to 10,000 a second, then one row in 8, evenly across batches, and says so; a second after a busy one is sampled from its start', () => {
    const layout = driftLayout(small())!;
    const counter = new DriftCounter(layout);
    const rows = 100;
    let offered = 0;
    // 30,000 rows within one second: the first 10,000 all counted, then every 8th offered row.
    for (let b = 0; b < 300; b++) {
      const x = new Float32Array(rows * 3);
      const p = new Float32Array(rows);
      for (let r = 0; r < rows; r++) {
        // Row number i: feature a is in bin 0 before the threshold, bin 3 after; the score marks the row.
        const i = offered + r;
        x[r * 3] = i < SAMPLE_ABOVE ? -2 : 2;
        x[r * 3 + 1] = 0;
        p[r] = 0.9;
      }
      counter.countScores(scoresOf(p), rows, counter.count(tensor(x, rows, 3), rows, 500 + b));
      offered += rows;
    }
    const v = takeAll(counter)!;
    const sampledRows = (30_000 - SAMPLE_ABOVE) / SAMPLE_STRIDE;
    expect(v[0]).toBe(SAMPLE_ABOVE + sampledRows);
    expect(v[1]).toBe(sampledRows);
    expect(v[2]).toBe(SAMPLE_ABOVE); // bin 0 of a: every row before the threshold
    expect(v[5]).toBe(sampledRows); // bin 3 of a: one in 8 after it
    expect(v[11]).toBe(SAMPLE_ABOVE + sampledRows); // the scores of exactly the rows counted
    expect(driftReport(layout, v).sampled).toBe(true);
    // The next second, after a busy one: sampled from its first row (one or two of these ten).
    const x = new Float32Array(30);
    counter.count(tensor(x, 10, 3), 10, 1600);
    const next = takeAll(counter)!;
    expect(next[1]).toBe(next[0]);
    expect([1, 2]).toContain(next[0]);
    // A second after a quiet one (ten rows): every row again.
    counter.count(tensor(x, 10, 3), 10, 2700);
    expect(takeAll(counter)!.slice(0, 2)).toEqual(Float64Array.of(10, 0));
  });

  it('samples evenly when every batch is one row (no row-0 bias)', () => {
    const counter = new DriftCounter(driftLayout(small())!);
    const x = new Float32Array(3);
    for (let i = 0; i < SAMPLE_ABOVE + 800; i++) counter.count(tensor(x, 1, 3), 1, 0);
    expect(takeAll(counter)![0]).toBe(SAMPLE_ABOVE + 100);
  });

  it('reports null PSI without rows, and null prediction without a prediction histogram', () => {
    const layout = driftLayout(small())!;
    expect(driftReport(layout, new Float64Array(0))).toEqual({
      rows: 0,
      sampled: false,
      features: { a: null, b: null },
      prediction: null,
    });
    const v = small();
    const manifest: Manifest = { ...v.manifest, baseline: { features: v.manifest.baseline!.features } };
    const noPrediction = driftLayout({ ...v, manifest })!;
    const counter = new DriftCounter(noPrediction);
    counter.countScores(scoresOf(Float32Array.of(0.5)), 1, counter.count(tensor(new Float32Array(3), 1, 3), 1, 0));
    expect(driftReport(noPrediction, takeAll(counter)!).prediction).toBeNull();
  });
});

describe('drift of the demo fraud model, scored by ONNX Runtime in the engine', () => {
  let engine: InferenceEngine;
  let version: ModelVersion;
  /** The counters' wall clock: the real one, or a fixed time (the hand-over test). */
  let clockMs: number | undefined;
  const counters = new DriftCounters(() => clockMs ?? Date.now());
  const training = demoTrainingRows('fraud', '1');
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'croupier-drift-'));
    version = scanRepository(join(ROOT, 'models')).models.get('fraud')!.versions.get('1')!;
    const observer = { batch: () => {}, queueDepth: () => {}, shed: () => {} };
    const pool = new InferencePool({ workers: 1, intraOpThreads: 1 });
    engine = new InferenceEngine(
      pool,
      new InlineRunner(),
      observer,
      { maxBatch: 256, batchDelayUs: 0, maxQueuedRows: 20_000, inlineMaxUs: 0 },
      counters,
    );
    await engine.load(version);
  }, 60_000);

  afterAll(async () => {
    await engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Scores the rows through the engine in jobs of 50 rows; resolves when all are answered. */
  async function score(rows: readonly Float64Array[]): Promise<void> {
    const width = 32;
    const jobs: Promise<RowSlice>[] = [];
    for (let at = 0; at < rows.length; at += 50) {
      const n = Math.min(50, rows.length - at);
      const data = new Float32Array(n * width);
      for (let r = 0; r < n; r++) data.set(rows[at + r]!, r * width);
      jobs.push(
        new Promise((resolve, reject) => {
          const job: Job = { rows: n, inputs: [data], deadline: 0, started: performance.now(), resolve, reject };
          engine.submit(version, job);
        }),
      );
    }
    await Promise.all(jobs);
  }

  it('finds no drift on its own training rows, features exactly and the score within rounding', async () => {
    // 10,000 rows in under a second could pass the sampling rate: score them in two halves.
    await score(training.rows.slice(0, 5000));
    await new Promise((r) => setTimeout(r, 1100));
    await score(training.rows.slice(5000));
    const layout = counters.layout(version)!;
    const v = takeAll(counters.counter(version)!)!;
    const report = driftReport(layout, v);
    expect(report.rows).toBe(10_000);
    expect(report.sampled).toBe(false);
    expect(Object.keys(report.features)).toEqual(training.features);
    // The baseline's counts are the same rows binned as float32: identical histograms.
    for (const [name, value] of Object.entries(report.features)) expect(value, name).toBeCloseTo(0, 12);
    // Scores from ONNX Runtime in float32 against the generator's float64 forward pass.
    expect(report.prediction!).toBeLessThan(1e-4);
  }, 60_000);

  it('finds drift (PSI > 0.2) on shifted rows in the shifted features and the score, none in the others', async () => {
    const amount = training.features.indexOf('amount');
    const risk = training.features.indexOf('merchant_risk_score');
    const vpn = training.features.indexOf('is_vpn_or_proxy');
    const shifted = training.rows.slice(0, 3000).map((row) => {
      const r = Float64Array.from(row);
      r[amount] = row[amount]! * 4;
      r[risk] = Math.min(1, row[risk]! + 0.4);
      r[vpn] = 1;
      return r;
    });
    await score(shifted);
    const report = counters.report(version, takeAll(counters.counter(version)!)!)!;
    expect(report.rows).toBe(3000);
    expect(report.features.amount!).toBeGreaterThan(0.2);
    expect(report.features.merchant_risk_score!).toBeGreaterThan(0.2);
    expect(report.features.is_vpn_or_proxy!).toBeGreaterThan(0.2);
    expect(report.prediction!).toBeGreaterThan(0.2);
    // An unshifted feature on 3,000 of the same rows: sampling noise only.
    expect(report.features.account_age_days!).toBeLessThan(0.02);
  }, 60_000);

  it('hands what it counted to the monitor store as series drift:<version> of the model, summed per minute', async () => {
    const store = EmbeddedMonitorCounts.open(dir, createLogger('silent'));
    const now = Date.UTC(2026, 11, 3, 7, 0, 30);
    clockMs = now;
    const applier = new DriftApplier(counters, store, createLogger('silent'), 60_000);
    try {
      await score(training.rows.slice(0, 500));
      await applier.flush();
      await score(training.rows.slice(500, 1200));
      await applier.flush();
      const layout = counters.layout(version)!;
      const [summed] = await store.sums([driftSeries('fraud', '1')], minuteOf(now), 60, layout.length);
      const report = driftReport(layout, summed!);
      expect(report.rows).toBe(1200);
      // PSI equal to a recomputation from the rows counted.
      const col = training.features.indexOf('amount');
      const h = version.manifest.baseline!.features.amount!.histogram!;
      const recount = new Array<number>(h.counts.length).fill(0);
      for (const row of training.rows.slice(0, 1200)) recount[histogramBin(h.edges, Math.fround(row[col]!))]!++;
      expect(report.features.amount).toBeCloseTo(psi(h.counts, recount)!, 12);
      expect(driftSeries('fraud', '1')).toEqual({ scope: 'model', name: 'fraud', series: 'drift:1' });
    } finally {
      clockMs = undefined;
      await applier.close();
      await store.close();
    }
  }, 60_000);
});
