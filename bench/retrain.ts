// Retraining in numbers (issue 18): (a) a synthetic world whose feature–outcome relation drifts
// week by week (test/helpers/drifting-world.ts): the AUC of a model fitted on week 0 decays on the
// following weeks, and a retrain on the last window recovers it — measured through the same code
// `croupier retrain` runs (export folder read back, built-in trainer, ONNX written, both models
// scored by ONNX Runtime on the time-based holdout); (b) how long the built-in trainer takes to fit
// 100,000 rows x 32 features. One process, no server. Writes the "Retraining" section of RESULTS.md.
//
//   node --import tsx bench/retrain.ts [--rows 20000] [--weeks 8] [--no-write]
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseManifest } from '../src/registry/manifest.js';
import { fitLogistic } from '../src/retrain/logistic.js';
import { logisticModel } from '../src/retrain/onnx-writer.js';
import { trainBuiltin } from '../src/retrain/train-builtin.js';
import { readDataset } from '../src/retrain/train-dataset.js';
import { examples } from '../src/retrain/train-examples.js';
import { validate } from '../src/retrain/validate.js';
import { metrics } from '../src/retrain/validate-metrics.js';
import { scoreRows } from '../src/retrain/validate-score.js';
import { writeDatasetFolder, type Row } from '../test/helpers/dataset-folder.js';
import { DriftingWorld } from '../test/helpers/drifting-world.js';
import { fixed, int, mdTable, writeSection } from './lib/sections.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    weeks: { type: 'string', default: '8' },
    'no-write': { type: 'boolean', default: false },
  },
});
const ROWS = Number(values.rows);
const WEEKS = Number(values.weeks);
const RADIANS_PER_WEEK = 0.08;
const work = mkdtempSync(join(tmpdir(), 'croupier-bench-retrain-'));

const world = new DriftingWorld({ seed: 7, radiansPerWeek: RADIANS_PER_WEEK });
const live = parseManifest(
  {
    name: 'scorer',
    version: '1',
    sha256: '0'.repeat(64),
    created: '2026-01-05T00:00:00Z',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 32], featureNames: world.features }],
    outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
    monitor: { score: 'probability', threshold: 0.5, positive: 1 },
  },
  'scorer',
  '1',
);

function columns(rows: readonly Row[]): Float64Array[] {
  return world.features.map((f) => Float64Array.from(rows, (r) => r.features[f] as number));
}

// ---- (a) decay and recovery ----
const week0 = world.rows(0, ROWS);
const liveFit = fitLogistic(
  columns(week0),
  Uint8Array.from(week0, (r) => Number(r.label)),
  Uint32Array.from(week0.keys()),
);
const liveBytes = logisticModel({
  inputs: [{ name: 'features', weights: liveFit.weights }],
  bias: liveFit.bias,
  output: 'probability',
  graphName: 'scorer_v1',
  docString: 'week 0',
  producerVersion: 'bench',
});

async function liveAuc(rows: readonly Row[]): Promise<number> {
  const cols = columns(rows);
  const index = new Map(world.features.map((f, j) => [f, cols[j]!]));
  const scores = await scoreRows(
    liveBytes,
    live.inputs,
    'probability',
    (n) => index.get(n)!,
    Uint32Array.from(rows.keys()),
  );
  return metrics(
    scores,
    Uint8Array.from(rows, (r) => Number(r.label)),
  ).auc!;
}

const decay: string[][] = [];
const aucs: number[] = [];
let window: Row[] = [];
for (let week = 0; week <= WEEKS; week++) {
  const rows = week === 0 ? world.rows(0, ROWS) : world.rows(week, ROWS);
  const auc = await liveAuc(rows);
  aucs.push(auc);
  decay.push([String(week), fixed(auc, 4), week === 0 ? '' : fixed(auc - aucs[0]!, 4)]);
  if (week === WEEKS) window = rows;
}
// The last window: week WEEKS, exported; the retrain trains on its first 80% by time and both
// models are compared on its last 20%.
const dir = writeDatasetFolder(join(work, 'export'), window, { route: 'scoring' });
const ex = examples(readDataset(dir), live);
const out = join(work, 'out');
mkdirSync(out);
const fit = trainBuiltin(ex, live, out, 'bench');
const candidate = readFileSync(join(out, 'model.onnx'));
const v = await validate(ex, { bytes: candidate, manifest: live }, { bytes: liveBytes, manifest: live }, 0.005);

// ---- (b) fit time: 100,000 rows x 32 features ----
const big = world.rows(WEEKS, 100_000);
const bigColumns = columns(big);
const bigY = Uint8Array.from(big, (r) => Number(r.label));
const fits: { seconds: number; iterations: number }[] = [];
for (let round = 0; round < 3; round++) {
  const started = performance.now();
  const f = fitLogistic(bigColumns, bigY, Uint32Array.from(big.keys()));
  fits.push({ seconds: (performance.now() - started) / 1000, iterations: f.iterations });
}
fits.sort((a, b) => a.seconds - b.seconds);
rmSync(work, { recursive: true, force: true });

const perWeek = (aucs[0]! - aucs[WEEKS]!) / WEEKS;
const body = [
  '## Retraining',
  '',
  `- date: ${new Date().toISOString()}`,
  '- command: `npm run bench:retrain`',
  `- machine: ${cpus().length} cores (${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}), node ${process.version}; shared and noisy`,
  `- world: 32 features with different means and scales; true logit = -1 + 2 · (w(t) · z), the unit direction w(t) turning ${RADIANS_PER_WEEK} rad a week; ${int(ROWS)} rows a week; seeded`,
  "- live: a logistic regression fitted on week 0 (the built-in trainer's fit), then left alone",
  '',
  "(a) The live model on each week's rows (AUC by ONNX Runtime, in process):",
  '',
  mdTable(['week', 'live AUC', 'change since week 0'], decay),
  '',
  `The live model loses ${fixed(perWeek, 4)} AUC a week on average over ${WEEKS} weeks.`,
  `A retrain on week ${WEEKS} (the export folder read back; ${int(ex.train.length)} training rows, the last ${int(ex.holdout.length)} by time held out):`,
  '',
  mdTable(
    ['model', 'holdout AUC', 'log loss', 'Brier', 'calibration error'],
    [
      [
        `live (week 0)`,
        fixed(v.live.auc, 4),
        fixed(v.live.logLoss, 4),
        fixed(v.live.brier, 4),
        fixed(v.live.calibration.ece, 4),
      ],
      [
        `candidate (week ${WEEKS})`,
        fixed(v.candidate.auc, 4),
        fixed(v.candidate.logLoss, 4),
        fixed(v.candidate.brier, 4),
        fixed(v.candidate.calibration.ece, 4),
      ],
    ],
  ),
  '',
  `The candidate recovers ${fixed(v.aucDifference, 4)} AUC (week 0's live AUC was ${fixed(aucs[0], 4)}); the fit took ${fit.iterations} Newton iterations (tolerance ${fit.tolerance}, lambda ${fit.lambda}), ${fixed(fit.seconds, 2)} s. test/retrain/retrain-cli.test.ts checks that the holdout metrics \`croupier retrain\` reports equal an independent recomputation within 0.005.`,
  '',
  `(b) The built-in trainer on 100,000 rows x 32 features (fit only; best of 3): **${fixed(fits[0]!.seconds, 2)} s**, ${fits[0]!.iterations} Newton iterations (runs: ${fits.map((f) => fixed(f.seconds, 2)).join(' / ')} s).`,
  '',
].join('\n');
process.stdout.write(body + '\n');
if (!values['no-write']) writeSection(join(ROOT, 'bench', 'RESULTS.md'), 'retrain', body);
