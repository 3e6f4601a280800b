// What drift counting costs the predict path (issue 16: at most 5% of a request's CPU, about 1 µs):
// the demo fraud model's 32 features and its score binned by DriftCounter, batch by batch, as the
// batcher does it, on the generator's own training rows. A micro-benchmark on one thread, not a
// server run: it reports nanoseconds per row counted (every row: below the sampling rate) for
// batches of 1 row (a lone request) and of 64 rows (a busy batcher).
//
//   node --import tsx bench/drift.ts [--seconds 2]
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { demoTrainingRows } from '../scripts/make-models.js';
import type { TensorData } from '../src/inference/messages.js';
import { DriftCounter, driftLayout } from '../src/monitoring/drift-counter.js';
import { scanRepository } from '../src/registry/repository.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' } } });
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error('--seconds must be a positive number');

const version = scanRepository(join(ROOT, 'models')).models.get('fraud')!.versions.get('1')!;
const layout = driftLayout(version)!;
const training = demoTrainingRows('fraud', '1');
const WIDTH = 32;

function batches(rows: number): { inputs: TensorData[]; outputs: TensorData[] }[] {
  const out = [];
  for (let at = 0; at + rows <= training.rows.length; at += rows) {
    const data = new Float32Array(rows * WIDTH);
    for (let r = 0; r < rows; r++) data.set(training.rows[at + r]!, r * WIDTH);
    const scores = Float32Array.from(training.scores.subarray(at, at + rows));
    out.push({
      inputs: [{ name: 'features', type: 'float32', dims: [rows, WIDTH], data }],
      outputs: [{ name: 'probability', type: 'float32', dims: [rows, 1], data: scores }],
    } as { inputs: TensorData[]; outputs: TensorData[] });
  }
  return out;
}

/** ns per row for `rows`-row batches, counted for about `seconds` after a warm-up. */
function measure(rows: number): number {
  const counter = new DriftCounter(layout);
  const work = batches(rows);
  // Each batch a second apart on the counter's clock: every row counted, never sampled.
  let clock = 0;
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const b = work[i % work.length]!;
      clock += 1000;
      counter.countScores(b.outputs, rows, counter.count(b.inputs, rows, clock));
    }
  };
  run(20_000);
  counter.take();
  let batchesRun = 0;
  const started = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - started < budget) {
    run(1000);
    batchesRun += 1000;
  }
  const ns = Number(process.hrtime.bigint() - started);
  const counted = counter.take().reduce((n, m) => n + m.amounts[0]!, 0);
  if (counted !== batchesRun * rows) throw new Error(`counted ${counted} rows, expected ${batchesRun * rows}`);
  return ns / counted;
}

console.log(`drift counting, fraud@1: ${layout.features.length} features + score, ${layout.length} slots`);
for (const rows of [1, 64])
  console.log(`  batches of ${String(rows).padStart(2)} rows: ${measure(rows).toFixed(1)} ns per row`);
