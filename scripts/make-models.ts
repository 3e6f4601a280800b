/**
 * Deterministic, seeded demo-model generator for Croupier.
 *
 *   node --import tsx scripts/make-models.ts [--out DIR]     (default DIR: ./models)
 *
 * Writes ONNX models (ir_version 8, opset 13, FP32 raw little-endian initializers),
 * a model.json manifest beside each, LIVE pointers and routes.json. Every byte is a pure
 * function of the seeds below: no Math.random, no clock, no host-endianness dependence.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import onnxProto from 'onnx-proto';
import { floatTensor, floatValueInfo, OPSET } from '../src/retrain/onnx-writer.js';
import { decileHistogram, sig6, summary, type Summary } from '../src/retrain/train-baseline.js';
import { seededRng, type Rng } from '../src/routing/sampling.js';
import type { onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const CREATED = '2026-01-01T00:00:00.000Z';
const SAMPLES = 10_000;

// ---------- seeded randomness (the gateway's own mulberry32, so there is one copy) ----------
type Sampler = (rng: Rng) => number;
const mulberry32 = seededRng;
/** Standard normal via Box-Muller (one value per call, keeps the stream simple). */
const gauss: Sampler = (r) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

const logn =
  (mu: number, sigma: number): Sampler =>
  (r) =>
    Math.exp(mu + sigma * gauss(r));
const money =
  (mu: number, sigma: number): Sampler =>
  (r) =>
    Math.round(100 * logn(mu, sigma)(r)) / 100;
const int =
  (lo: number, hi: number): Sampler =>
  (r) =>
    lo + Math.floor(r() * (hi - lo + 1));
const unif =
  (lo: number, hi: number): Sampler =>
  (r) =>
    lo + r() * (hi - lo);
const bern =
  (p: number): Sampler =>
  (r) =>
    r() < p ? 1 : 0;
const norm =
  (mean: number, sd: number, lo: number, hi: number): Sampler =>
  (r) =>
    Math.min(hi, Math.max(lo, mean + sd * gauss(r)));
const pois =
  (lambda: number): Sampler =>
  (r) => {
    const limit = Math.exp(-lambda);
    let k = 0;
    for (let p = r(); p > limit; p *= r()) k++;
    return k;
  };

// ---------- feature catalogues: [name, distribution, risk sign (+1 raises the score, -1 lowers, 0 either)] ----------
type Feature = readonly [name: string, sample: Sampler, sign: -1 | 0 | 1];

const FRAUD: readonly Feature[] = [
  ['amount', money(3.8, 1.1), 1],
  ['account_age_days', int(0, 3650), -1],
  ['txn_count_24h', pois(3), 1],
  ['avg_amount_30d', money(3.9, 0.8), 0],
  ['distinct_merchants_7d', pois(6), 1],
  ['card_present', bern(0.6), -1],
  ['is_international', bern(0.08), 1],
  ['hour_of_day', int(0, 23), 0],
  ['day_of_week', int(0, 6), 0],
  ['merchant_risk_score', unif(0, 1), 1],
  ['device_age_days', int(0, 1000), -1],
  ['is_new_device', bern(0.1), 1],
  ['ip_distance_km', logn(3, 1.5), 1],
  ['failed_logins_24h', pois(0.3), 1],
  ['txn_count_1h', pois(0.5), 1],
  ['amount_to_avg_ratio', logn(0, 0.5), 1],
  ['days_since_last_txn', logn(1, 1), 0],
  ['chargebacks_90d', pois(0.05), 1],
  ['email_domain_risk', unif(0, 1), 1],
  ['billing_shipping_match', bern(0.85), -1],
  ['cvv_match', bern(0.97), -1],
  ['avs_match', bern(0.9), -1],
  ['card_age_days', int(0, 2500), -1],
  ['cards_on_account', int(1, 6), 1],
  ['is_high_risk_mcc', bern(0.12), 1],
  ['amount_sum_24h', money(4.5, 1.2), 1],
  ['distinct_countries_30d', pois(0.4), 1],
  ['is_prepaid_card', bern(0.07), 1],
  ['customer_age_years', norm(42, 14, 18, 90), -1],
  ['session_duration_sec', logn(5, 1), -1],
  ['password_reset_7d', bern(0.03), 1],
  ['is_vpn_or_proxy', bern(0.05), 1],
];

const CTR: readonly Feature[] = [
  ['user_age_years', norm(36, 12, 13, 85), 0],
  ['is_mobile', bern(0.65), 0],
  ['ad_position', int(1, 10), -1],
  ['ad_historical_ctr', unif(0, 0.1), 1],
  ['user_clicks_7d', pois(2), 1],
  ['user_impressions_7d', pois(80), 0],
  ['hour_of_day', int(0, 23), 0],
  ['day_of_week', int(0, 6), 0],
  ['ad_age_days', int(0, 180), -1],
  ['bid_price_usd', logn(-0.5, 0.7), 0],
  ['query_ad_similarity', unif(0, 1), 1],
  ['category_affinity', unif(0, 1), 1],
  ['is_video_ad', bern(0.2), 1],
  ['is_returning_user', bern(0.55), 1],
  ['session_depth', pois(4), 0],
  ['time_on_page_sec', logn(3.5, 1), 1],
  ['geo_match', bern(0.8), 1],
  ['advertiser_quality_score', unif(1, 10), 1],
  ['landing_page_load_ms', logn(7, 0.5), -1],
  ['ad_text_length', int(20, 140), 0],
  ['has_discount', bern(0.25), 1],
  ['price_usd', money(3.5, 1.2), -1],
  ['brand_familiarity', unif(0, 1), 1],
  ['user_tenure_days', int(0, 2000), 0],
  ['advertiser_clicks_30d', pois(0.5), 1],
  ['ad_impressions_24h', pois(3), -1],
  ['is_weekend', bern(2 / 7), 0],
  ['screen_width_px', int(360, 2560), 0],
  ['connection_mbps', logn(3, 0.8), 0],
  ['page_relevance_score', unif(0, 1), 1],
  ['is_logged_in', bern(0.7), 1],
  ['ads_on_page', int(1, 8), -1],
];

/** 256 anonymous embedding-like inputs for the compute-bound demo (bench/compute.ts): standard normal, clipped. */
const EMBEDDING: readonly Feature[] = Array.from(
  { length: 256 },
  (_, i) => [`e${String(i).padStart(3, '0')}`, norm(0, 1, -4, 4), 0] as const,
);

// ---------- model definitions ----------
interface ModelSpec {
  name: string;
  version: string;
  seed: number;
  features: readonly Feature[];
  hidden: number[];
  output: string;
  logitMean: number;
  logitStd: number;
  method: string;
  /** Baseline rows (default SAMPLES); fewer for the big MLP, whose forward pass in float64 JS is slow. */
  samples?: number;
  /** A binary classifier whose score a label can judge: the manifest gets `monitor`. */
  monitor?: boolean;
}
const LR_METHOD =
  'Sampled 10,000 synthetic rows from fixed per-feature distributions with mulberry32(seed) for the baseline, drew logistic-regression weights with domain-informed signs, rescaled them so logits on those rows have the target mean/std, and folded the (x - mean) / std standardization into W and b.';
const MLP_METHOD =
  'Sampled 10,000 synthetic rows from fixed per-feature distributions with mulberry32(seed) for the baseline, He-initialized a 32-64-64-1 ReLU MLP, rescaled the last layer so logits on those rows have the target mean/std, and folded the (x - mean) / std standardization into the first layer.';
const BIG_MLP_METHOD =
  'Sampled 2,000 synthetic rows of 256 clipped standard normals with mulberry32(seed) for the baseline, He-initialized a 256-512-512-256-1 ReLU MLP, rescaled the last layer so logits on those rows have the target mean/std, and folded the (x - mean) / std standardization into the first layer. Compute-bound benchmark model, not a scoring model.';
const MODELS: readonly ModelSpec[] = [
  {
    name: 'fraud',
    version: '1',
    seed: 1001,
    features: FRAUD,
    hidden: [],
    output: 'probability',
    logitMean: -1,
    logitStd: 2,
    method: LR_METHOD,
    monitor: true,
  },
  {
    name: 'fraud',
    version: '2',
    seed: 2002,
    features: FRAUD,
    hidden: [],
    output: 'probability',
    logitMean: -0.3,
    logitStd: 2.5,
    method: LR_METHOD,
    monitor: true,
  },
  {
    name: 'ctr',
    version: '1',
    seed: 3003,
    features: CTR,
    hidden: [64, 64],
    output: 'ctr',
    logitMean: -1.5,
    logitStd: 1.5,
    method: MLP_METHOD,
    monitor: true,
  },
  {
    name: 'mlp',
    version: '1',
    seed: 4004,
    features: EMBEDDING,
    hidden: [512, 512, 256],
    output: 'probability',
    logitMean: 0,
    logitStd: 2,
    method: BIG_MLP_METHOD,
    samples: 2_000,
  },
];
const ROUTES = {
  routes: {
    'fraud-scoring': {
      policy: 'thompson',
      reward: 'bernoulli',
      arms: [
        { name: 'champion', model: 'fraud', version: 'live' },
        { name: 'challenger', model: 'fraud', version: '2' },
      ],
    },
    'fraud-ab': {
      policy: 'fixed',
      arms: [
        { name: 'a', model: 'fraud', version: '1', weight: 0.8 },
        { name: 'b', model: 'fraud', version: '2', weight: 0.2 },
      ],
    },
    ctr: { policy: 'fixed', arms: [{ name: 'default', model: 'ctr', version: 'live' }] },
    checkout: { policy: 'fixed', arms: [{ name: 'default', model: 'checkout', version: 'live' }] },
    'fraud-contextual': {
      policy: 'linear-thompson',
      context: ['card_present', 'is_international', 'amount'],
      arms: [
        { name: 'champion', model: 'fraud', version: 'live' },
        { name: 'challenger', model: 'fraud', version: '2' },
      ],
    },
  },
};

// ---------- numerics ----------
type Stats = Summary;
/** Dense layer, weights row-major [inputs][outputs] as in MatMul(x, W). */
interface Layer {
  w: Float64Array;
  b: Float64Array;
  inputs: number;
  outputs: number;
}

const at = (a: ArrayLike<number>, i: number): number => a[i] ?? NaN;

/** One column's summary (train-baseline.ts, shared with the built-in trainer). */
const columnStats = (rows: Float64Array[], col: number): Stats =>
  summary(Float64Array.from(rows, (row) => at(row, col)));

function initLayer(rng: Rng, inputs: number, outputs: number, signs?: readonly number[]): Layer {
  const scale = Math.sqrt(2 / inputs);
  const w = new Float64Array(inputs * outputs).map((_, k) => {
    const g = gauss(rng),
      s = signs?.[Math.floor(k / outputs)] ?? 0;
    return scale * (s === 0 ? g : s * Math.abs(g));
  });
  return { w, b: new Float64Array(outputs).map(() => (signs ? 0 : 0.1 * gauss(rng))), inputs, outputs };
}

function forward(layer: Layer, x: Float64Array, relu: boolean): Float64Array {
  const y = Float64Array.from(layer.b);
  for (let i = 0; i < layer.inputs; i++) {
    const xi = at(x, i);
    for (let j = 0; j < layer.outputs; j++) y[j] = at(y, j) + xi * at(layer.w, i * layer.outputs + j);
  }
  return relu ? y.map((v) => Math.max(0, v)) : y;
}

/**
 * Build a network whose logits on the (standardized) sample rows have the spec's mean/std, with
 * standardization folded in. Also returns the model's score (sigmoid of the final logit) on each
 * row: the rescaling of the last layer is affine, so the final logit is logitMean + k * (logit - mean).
 */
function buildNetwork(
  spec: ModelSpec,
  rng: Rng,
  rows: Float64Array[],
  stats: Stats[],
): { layers: Layer[]; scores: Float64Array } {
  const sizes = [spec.features.length, ...spec.hidden, 1];
  const signs = spec.hidden.length === 0 ? spec.features.map((f) => f[2]) : undefined;
  const layers = sizes.slice(1).map((n, k) => initLayer(rng, at(sizes, k), n, signs));
  if (stats.some((s) => !(s.std > 0))) throw new Error(`${spec.name}: a feature has zero variance`);
  const logits = rows.map((row) => {
    let h: Float64Array = row.map((v, i) => (v - stats[i]!.mean) / stats[i]!.std);
    layers.forEach((layer, k) => {
      h = forward(layer, h, k < layers.length - 1);
    });
    return at(h, 0);
  });
  const mean = logits.reduce((s, v) => s + v, 0) / logits.length;
  const std = Math.sqrt(logits.reduce((s, v) => s + (v - mean) ** 2, 0) / logits.length);
  const last = layers[layers.length - 1]!,
    first = layers[0]!,
    k = spec.logitStd / std;
  last.w = last.w.map((v) => v * k);
  last.b = last.b.map((v) => spec.logitMean + (v - mean) * k);
  // Fold z = (x - mean) / std into the first layer: W' = W / std, b' = b - sum_i W'[i] * mean_i.
  first.w = first.w.map((v, idx) => v / stats[Math.floor(idx / first.outputs)]!.std);
  first.b = first.b.map((v, j) => v - stats.reduce((s, st, i) => s + at(first.w, i * first.outputs + j) * st.mean, 0));
  const scores = Float64Array.from(logits, (v) => 1 / (1 + Math.exp(-(spec.logitMean + (v - mean) * k))));
  return { layers, scores };
}

/** The rows a demo model was trained on (its baseline rows), drawn as the generator draws them. */
function drawRows(spec: ModelSpec, rng: Rng): Float64Array[] {
  const width = spec.features.length;
  return Array.from({ length: spec.samples ?? SAMPLES }, () =>
    new Float64Array(width).map((_, i) => spec.features[i]![1](rng)),
  );
}

/** A demo model's training rows and its scores on them (for tests of drift against its baseline). */
export function demoTrainingRows(
  name: string,
  version: string,
): { features: string[]; rows: Float64Array[]; scores: Float64Array } {
  const spec = MODELS.find((m) => m.name === name && m.version === version);
  if (!spec) throw new Error(`no demo model ${name}@${version}`);
  const rng = mulberry32(spec.seed);
  const rows = drawRows(spec, rng);
  const { scores } = buildNetwork(
    spec,
    rng,
    rows,
    spec.features.map((_, i) => columnStats(rows, i)),
  );
  return { features: spec.features.map((f) => f[0]), rows, scores };
}

// ---------- ONNX encoding ----------
const tensor = floatTensor;
const valueInfo = floatValueInfo;

function encodeModel(spec: ModelSpec, layers: Layer[]): Uint8Array {
  const node: Onnx.INodeProto[] = [];
  const initializer: Onnx.ITensorProto[] = [];
  let x = 'features';
  layers.forEach((layer, k) => {
    const p = spec.hidden.length === 0 ? '' : `fc${k}_`;
    initializer.push(
      tensor(`${p}W`, [layer.inputs, layer.outputs], layer.w),
      tensor(`${p}b`, [layer.outputs], layer.b),
    );
    const act = k < layers.length - 1 ? 'Relu' : 'Sigmoid';
    const y = k < layers.length - 1 ? `${p}relu` : spec.output;
    node.push(
      { name: `${p}matmul`, opType: 'MatMul', input: [x, `${p}W`], output: [`${p}xw`] },
      { name: `${p}add`, opType: 'Add', input: [`${p}xw`, `${p}b`], output: [`${p}logit`] },
      { name: `${p}${act.toLowerCase()}`, opType: act, input: [`${p}logit`], output: [y] },
    );
    x = y;
  });
  const model: Onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'croupier/make-models',
    producerVersion: '1',
    modelVersion: Number(spec.version),
    docString: `Synthetic demo model ${spec.name} v${spec.version} (seed ${spec.seed}); not trained on real data.`,
    graph: {
      name: `${spec.name}_v${spec.version}`,
      node,
      initializer,
      input: [valueInfo('features', spec.features.length)],
      output: [valueInfo(spec.output, 1)],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

// ---------- categorical demo: string features through ONNX-ML LabelEncoder ----------
/**
 * `checkout` v1: the risk of a checkout from its country and sales channel (strings) and amount.
 * Each string input goes through an ai.onnx.ml LabelEncoder that maps a category to its logit
 * weight (a one-hot encoding and a linear layer, folded into one table; unknown categories get the
 * default weight), then logit = w_country + w_channel + W_AMOUNT * amount + BIAS, and a Sigmoid.
 * Weights are set by hand, not drawn: the model is there to show categorical inputs, not to score.
 */
const CHECKOUT_SEED = 5005;
const COUNTRY_WEIGHTS: readonly (readonly [string, number])[] = [
  ['DE', -0.4],
  ['FR', -0.3],
  ['GB', -0.2],
  ['US', 0],
  ['BR', 0.6],
  ['NG', 1.1],
];
const CHANNEL_WEIGHTS: readonly (readonly [string, number])[] = [
  ['web', 0],
  ['app', -0.5],
  ['phone', 0.7],
];
const UNKNOWN_WEIGHT = 0.8;
const W_AMOUNT = 0.004;
const BIAS = -2;
const CHECKOUT_METHOD =
  'Hand-set weights, not trained: LabelEncoder (ai.onnx.ml) tables map country and channel to logit weights (unknown categories: 0.8), plus 0.004 * amount - 2, through a Sigmoid. Baseline amounts: 10,000 draws of the fraud demo amount distribution with mulberry32(seed); category frequencies uniform.';

const STRING = onnx.TensorProto.DataType.STRING;
const encodeText = (s: string): Uint8Array => new TextEncoder().encode(s);

function labelEncoder(input: string, output: string, table: readonly (readonly [string, number])[]): Onnx.INodeProto {
  const A = onnx.AttributeProto.AttributeType;
  return {
    name: `${input}_encoder`,
    opType: 'LabelEncoder',
    domain: 'ai.onnx.ml',
    input: [input],
    output: [output],
    attribute: [
      { name: 'keys_strings', type: A.STRINGS, strings: table.map(([k]) => encodeText(k)) },
      { name: 'values_floats', type: A.FLOATS, floats: table.map(([, w]) => w) },
      { name: 'default_float', type: A.FLOAT, f: UNKNOWN_WEIGHT },
    ],
  };
}

const tensorInfo = (name: string, elemType: number): Onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 1 }] } } },
});

function encodeCheckoutModel(): Uint8Array {
  const model: Onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [
      { domain: '', version: OPSET },
      { domain: 'ai.onnx.ml', version: 2 },
    ],
    producerName: 'croupier/make-models',
    producerVersion: '1',
    modelVersion: 1,
    docString: 'Synthetic categorical demo model checkout v1 (hand-set weights); not trained on real data.',
    graph: {
      name: 'checkout_v1',
      node: [
        labelEncoder('country', 'country_w', COUNTRY_WEIGHTS),
        labelEncoder('channel', 'channel_w', CHANNEL_WEIGHTS),
        { name: 'amount_mul', opType: 'Mul', input: ['amount', 'w_amount'], output: ['amount_w'] },
        { name: 'sum_categories', opType: 'Add', input: ['country_w', 'channel_w'], output: ['categories_w'] },
        { name: 'sum_amount', opType: 'Add', input: ['categories_w', 'amount_w'], output: ['weights'] },
        { name: 'add_bias', opType: 'Add', input: ['weights', 'bias'], output: ['logit'] },
        { name: 'sigmoid', opType: 'Sigmoid', input: ['logit'], output: ['probability'] },
      ],
      initializer: [tensor('w_amount', [1], Float64Array.of(W_AMOUNT)), tensor('bias', [1], Float64Array.of(BIAS))],
      input: [tensorInfo('country', STRING), tensorInfo('channel', STRING), tensorInfo('amount', FLOAT)],
      output: [tensorInfo('probability', FLOAT)],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

function writeCheckout(outDir: string): void {
  const rng = mulberry32(CHECKOUT_SEED);
  const amounts = Array.from({ length: SAMPLES }, () => Float64Array.of(money(3.8, 1.1)(rng)));
  const frequencies = (table: readonly (readonly [string, number])[]) =>
    Object.fromEntries(table.map(([k]) => [k, sig6(1 / table.length)]));
  const bytes = encodeCheckoutModel();
  write(outDir, 'checkout/1/model.onnx', bytes);
  write(
    outDir,
    'checkout/1/model.json',
    json({
      name: 'checkout',
      version: '1',
      format: 'onnx',
      file: 'model.onnx',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      created: CREATED,
      source: { generator: 'scripts/make-models.ts', seed: CHECKOUT_SEED, method: CHECKOUT_METHOD },
      inputs: [
        { name: 'country', datatype: 'BYTES', shape: [-1, 1], featureNames: ['country'] },
        { name: 'channel', datatype: 'BYTES', shape: [-1, 1], featureNames: ['channel'] },
        { name: 'amount', datatype: 'FP32', shape: [-1, 1], featureNames: ['amount'] },
      ],
      outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
      baseline: {
        features: {
          country: { frequencies: frequencies(COUNTRY_WEIGHTS) },
          channel: { frequencies: frequencies(CHANNEL_WEIGHTS) },
          amount: {
            ...columnStats(amounts, 0),
            histogram: decileHistogram(Float64Array.from(amounts, (row) => at(row, 0))),
          },
        },
      },
    }),
  );
}

// ---------- main ----------
function parseOut(argv: readonly string[]): string {
  if (argv.length === 0) return 'models';
  if (argv.length === 2 && argv[0] === '--out' && argv[1]) return argv[1];
  throw new Error(`usage: make-models.ts [--out DIR] (got: ${argv.join(' ')})`);
}

function write(outDir: string, rel: string, data: Uint8Array | string): void {
  const file = join(outDir, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, data);
  console.log(`${rel.padEnd(22)} ${Buffer.byteLength(data)} bytes`);
}
const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function main(): void {
  const outDir = resolve(parseOut(process.argv.slice(2)));
  for (const spec of MODELS) {
    const rng = mulberry32(spec.seed);
    const width = spec.features.length;
    const rows = drawRows(spec, rng);
    const stats = spec.features.map((_, i) => columnStats(rows, i));
    const { layers, scores } = buildNetwork(spec, rng, rows, stats);
    const bytes = encodeModel(spec, layers);
    const column = (i: number) => Float64Array.from(rows, (row) => at(row, i));
    const dir = `${spec.name}/${spec.version}`;
    write(outDir, `${dir}/model.onnx`, bytes);
    write(
      outDir,
      `${dir}/model.json`,
      json({
        name: spec.name,
        version: spec.version,
        format: 'onnx',
        file: 'model.onnx',
        sha256: createHash('sha256').update(bytes).digest('hex'),
        created: CREATED,
        source: { generator: 'scripts/make-models.ts', seed: spec.seed, method: spec.method },
        inputs: [
          { name: 'features', datatype: 'FP32', shape: [-1, width], featureNames: spec.features.map((f) => f[0]) },
        ],
        outputs: [{ name: spec.output, datatype: 'FP32', shape: [-1, 1] }],
        baseline: {
          features: Object.fromEntries(
            spec.features.map((f, i) => [f[0], { ...stats[i], histogram: decileHistogram(column(i)) }]),
          ),
          prediction: { histogram: decileHistogram(scores) },
        },
        ...(spec.monitor ? { monitor: { score: spec.output, threshold: 0.5, positive: 1 } } : {}),
      }),
    );
  }
  writeCheckout(outDir);
  write(outDir, 'fraud/LIVE', '1\n');
  write(outDir, 'ctr/LIVE', '1\n');
  write(outDir, 'mlp/LIVE', '1\n');
  write(outDir, 'checkout/LIVE', '1\n');
  write(outDir, 'routes.json', json(ROUTES));
}

// Run as a script, not when a test imports demoTrainingRows.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
