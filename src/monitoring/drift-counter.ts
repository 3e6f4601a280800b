/**
 * Drift counting: for a model version whose manifest carries baseline histograms, the rows it
 * scores are binned per feature, and their scores per the prediction histogram, into one vector
 * per version (the contract's "Drift"). The batcher counts once per batch (never per request), on
 * the main thread, with no allocation: per feature per row a four-step search without branches
 * (histograms of up to 15 edges; the demo's have 9), a binary search for wider ones.
 *
 * Vector layout, decided once per version (DriftLayout):
 *   [rows counted, rows counted while sampling, feature 0 bins…, feature N bins…, prediction bins…]
 * Every row is counted while the version takes fewer than SAMPLE_ABOVE rows a second; past that
 * (in the current second, or in the whole second before it), one row in SAMPLE_STRIDE (evenly,
 * across batches), and the window says `sampled`.
 * A vector belongs to the minute (wall clock) its rows were counted in: the first batch of a new
 * minute closes the old minute's vector, and a batch's scores go to the minute its rows went to,
 * so the once-a-second hand-over never moves a count into the next minute.
 * The vectors are summed per minute by the MonitorCounts store; `driftReport` turns a summed
 * vector into the report's DriftWindow (PSI per feature and for the prediction).
 */
import type { TensorData } from '../inference/messages.js';
import type { Manifest } from '../registry/manifest.js';
import type { ModelVersion } from '../registry/repository.js';
import { psi, type Histogram } from './drift.js';
import { minuteOf } from './minute-window.js';
import type { DriftWindow } from './report.js';

/** Rows a second a version may take with every row counted. */
export const SAMPLE_ABOVE = 10_000;
/** Past SAMPLE_ABOVE, one row in this many is counted. */
export const SAMPLE_STRIDE = 8;
const SECOND_MS = 1000;
/** Slots before the bins: rows counted, rows counted while sampling. */
const HEAD = 2;
/** A `count` token: minute · TOKEN_MINUTE + first row · SAMPLE_STRIDE + stride (the last two below 72). */
const TOKEN_MINUTE = 128;

/** Input datatypes whose values a histogram can bin (typed arrays of plain numbers). */
const BINNABLE = new Set(['FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'UINT8', 'UINT16', 'UINT32']);

/** A feature with at most this many edges is binned by the branch-free search (FAST_SLOTS per feature). */
const FAST_EDGES = 15;
const FAST_SLOTS = 16;

/** Where one input's histogram features sit: columns of its rows, their edges and bins. */
interface InputGroup {
  readonly input: number;
  readonly rowSize: number;
  /** Column in the input's row, per feature of this group. */
  readonly columns: Int32Array;
  /**
   * When every feature has at most FAST_EDGES edges: FAST_SLOTS slots per feature, its edges then
   * +Infinity, for a search of four steps without branches (a binary search over random values
   * mispredicts about every other step; this was 2-3x faster on the demo fraud rows).
   */
  readonly table: Float64Array | undefined;
  /** Per feature: its number of edges, and the vector index of its bin 0. */
  readonly edgeCount: Int32Array;
  readonly binBase: Int32Array;
  /** Per feature: first and end index of its edges in `edges`. */
  readonly edgeStart: Int32Array;
  readonly edgeEnd: Int32Array;
  /** Per feature: the vector index of its bin 0, minus edgeStart (so bin slot = binShift + found index). */
  readonly binShift: Int32Array;
}

/** How a version's drift vector is laid out, and the baseline it is compared with. */
export interface DriftLayout {
  readonly key: string;
  /** Features with a baseline histogram, in manifest order: the report's `features`. */
  readonly features: readonly string[];
  /** Each feature's baseline histogram and the vector index of its bin 0. */
  readonly baselines: readonly { readonly histogram: Histogram; readonly offset: number }[];
  /** The score's output index and row size, its baseline and bin 0 index; absent without a prediction histogram. */
  readonly prediction?: {
    readonly output: number;
    readonly rowSize: number;
    readonly histogram: Histogram;
    readonly offset: number;
  };
  /** Vector length. */
  readonly length: number;
  readonly groups: readonly InputGroup[];
  /** Every edge of every feature, then the prediction's. */
  readonly edges: Float64Array;
}

/** The output whose first value per row is the score: the manifest's `monitor.score`, else the only one-value output. */
function scoreOutput(manifest: Manifest, outputRowSizes: readonly number[]): number {
  const monitor = (manifest as { monitor?: { score?: unknown } }).monitor;
  if (monitor && typeof monitor.score === 'string') return manifest.outputs.findIndex((o) => o.name === monitor.score);
  return manifest.outputs.length === 1 && outputRowSizes[0] === 1 ? 0 : -1;
}

/** The layout of a version's drift vector; undefined when its manifest has no histogram to compare with. */
export function driftLayout(version: ModelVersion): DriftLayout | undefined {
  const { manifest } = version;
  const baseline = manifest.baseline;
  if (!baseline) return undefined;
  const features: string[] = [];
  const baselines: { histogram: Histogram; offset: number }[] = [];
  const edges: number[] = [];
  const groups: InputGroup[] = [];
  let length = HEAD;
  manifest.inputs.forEach((input, i) => {
    if (!BINNABLE.has(input.datatype) || !input.featureNames) return;
    const columns: number[] = [];
    const edgeStart: number[] = [];
    const edgeEnd: number[] = [];
    const binShift: number[] = [];
    const binBase: number[] = [];
    const histograms: Histogram[] = [];
    input.featureNames.forEach((name, column) => {
      const histogram = baseline.features[name]?.histogram;
      if (!histogram) return;
      features.push(name);
      baselines.push({ histogram, offset: length });
      columns.push(column);
      edgeStart.push(edges.length);
      binShift.push(length - edges.length);
      binBase.push(length);
      histograms.push(histogram);
      edges.push(...histogram.edges);
      edgeEnd.push(edges.length);
      length += histogram.counts.length;
    });
    if (columns.length === 0) return;
    let table: Float64Array | undefined;
    if (histograms.every((h) => h.edges.length <= FAST_EDGES)) {
      table = new Float64Array(histograms.length * FAST_SLOTS).fill(Number.POSITIVE_INFINITY);
      for (const [f, h] of histograms.entries()) table.set(h.edges, f * FAST_SLOTS);
    }
    groups.push({
      input: i,
      rowSize: version.inputRowSizes[i]!,
      columns: Int32Array.from(columns),
      table,
      edgeCount: Int32Array.from(histograms, (h) => h.edges.length),
      binBase: Int32Array.from(binBase),
      edgeStart: Int32Array.from(edgeStart),
      edgeEnd: Int32Array.from(edgeEnd),
      binShift: Int32Array.from(binShift),
    });
  });
  let prediction: DriftLayout['prediction'];
  const output = scoreOutput(manifest, version.outputRowSizes);
  if (baseline.prediction && output >= 0) {
    prediction = {
      output,
      rowSize: version.outputRowSizes[output]!,
      histogram: baseline.prediction.histogram,
      offset: length,
    };
    edges.push(...baseline.prediction.histogram.edges);
    length += baseline.prediction.histogram.counts.length;
  }
  if (features.length === 0 && !prediction) return undefined;
  return {
    key: version.key,
    features,
    baselines,
    ...(prediction ? { prediction } : {}),
    length,
    groups,
    edges: Float64Array.from(edges),
  };
}

/** The report's window from a vector summed over its minutes (a shorter or empty vector counts as zeros). */
export function driftReport(layout: DriftLayout, summed: ArrayLike<number>): DriftWindow {
  const features: Record<string, number | null> = {};
  layout.features.forEach((name, f) => {
    const { histogram, offset } = layout.baselines[f]!;
    features[name] = psi(histogram.counts, slice(summed, offset, histogram.counts.length));
  });
  const p = layout.prediction;
  return {
    rows: summed[0] ?? 0,
    sampled: (summed[1] ?? 0) > 0,
    features,
    prediction: p ? psi(p.histogram.counts, slice(summed, p.offset, p.histogram.counts.length)) : null,
  };
}

function slice(v: ArrayLike<number>, from: number, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = v[from + i] ?? 0;
  return out;
}

/** Bins rows first, first + stride, … of one input by the branch-free search over `table`. */
function countFast(
  v: Float64Array,
  group: InputGroup,
  table: Float64Array,
  data: Float32Array,
  first: number,
  rows: number,
  stride: number,
): void {
  const { columns, edgeCount, binBase, rowSize } = group;
  const n = columns.length;
  for (let r = first; r < rows; r += stride) {
    const base = r * rowSize;
    for (let f = 0; f < n; f++) {
      const x = data[base + columns[f]!]!;
      if (Number.isNaN(x)) continue; // NaN has no bin
      // How many of the 15 slots are <= x: the bin (the padding never is, but for +Infinity: capped).
      const t = f * FAST_SLOTS;
      let lo = t;
      lo += +(table[lo + 7]! <= x) << 3;
      lo += +(table[lo + 3]! <= x) << 2;
      lo += +(table[lo + 1]! <= x) << 1;
      lo += +(table[lo]! <= x);
      const bin = lo - t;
      const last = edgeCount[f]!;
      v[binBase[f]! + Math.min(bin, last)]!++;
    }
  }
}

/** Bins rows first, first + stride, … of one input by binary search (features of more than 15 edges). */
function countSearch(
  v: Float64Array,
  group: InputGroup,
  edges: Float64Array,
  data: Float32Array,
  first: number,
  rows: number,
  stride: number,
): void {
  const { columns, edgeStart, edgeEnd, binShift, rowSize } = group;
  const n = columns.length;
  for (let r = first; r < rows; r += stride) {
    const base = r * rowSize;
    for (let f = 0; f < n; f++) {
      const x = data[base + columns[f]!]!;
      if (Number.isNaN(x)) continue; // NaN has no bin
      let lo = edgeStart[f]!;
      let hi = edgeEnd[f]!;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (edges[mid]! <= x) lo = mid + 1;
        else hi = mid;
      }
      v[binShift[f]! + lo]!++;
    }
  }
}

/** What a counter counted in one minute. */
export interface DriftMinute {
  readonly minute: number;
  readonly amounts: Float64Array;
}

/**
 * One version's counter. `count` bins a batch's input rows and returns which rows it took, and in
 * which minute (a token for `countScores`, -1 for none); `countScores` bins the same rows' scores
 * once the batch is scored (inputs are handed to a worker thread, so the two happen at either end
 * of the batch). `take` hands over what was counted since the last take, per minute.
 */
export class DriftCounter {
  readonly layout: DriftLayout;
  private vector: Float64Array;
  /** The minute `vector` counts, and whether anything was added to it since it was last taken. */
  private minute = Number.NaN;
  private counted = false;
  /** Vectors of earlier minutes not yet taken. */
  private closed: DriftMinute[] = [];
  private secondStart = Number.NEGATIVE_INFINITY;
  private rowsThisSecond = 0;
  /** The second before the current one took more than SAMPLE_ABOVE rows: sample from its start. */
  private busy = false;
  /** Rows offered since the last counted one, modulo SAMPLE_STRIDE, so sampling is even across batches. */
  private phase = 0;

  /** `clock`: wall-clock ms, for the minute (the batcher's `now` is monotonic, for the second). */
  constructor(
    layout: DriftLayout,
    private readonly clock: () => number = Date.now,
  ) {
    this.layout = layout;
    this.vector = new Float64Array(layout.length);
  }

  /** The current vector, closing the last minute's first when `minute` is a later one. */
  private vectorOf(minute: number): Float64Array {
    if (minute !== this.minute) {
      if (this.counted) {
        this.closed.push({ minute: this.minute, amounts: this.vector });
        this.vector = new Float64Array(this.layout.length);
        this.counted = false;
      }
      this.minute = minute;
    }
    return this.vector;
  }

  /**
   * Bins the batch's rows (every row, or one in SAMPLE_STRIDE past SAMPLE_ABOVE rows a second).
   * `now` is performance.now() in ms. Returns the token of the rows taken for `countScores`.
   */
  count(inputs: readonly TensorData[], rows: number, now: number): number {
    if (now - this.secondStart >= SECOND_MS) {
      // A version that took more than SAMPLE_ABOVE rows in the second just ended is sampled from the
      // start of this one, not only past its first SAMPLE_ABOVE rows: under load, counting every row
      // of a second's first 10,000 cost the predict path about 0.5 µs a request.
      this.busy = this.rowsThisSecond > SAMPLE_ABOVE && now - this.secondStart < 2 * SECOND_MS;
      this.secondStart = now;
      this.rowsThisSecond = 0;
    }
    this.rowsThisSecond += rows;
    const minute = minuteOf(this.clock());
    const v = this.vectorOf(minute);
    let first = 0;
    let stride = 1;
    if (this.busy || this.rowsThisSecond > SAMPLE_ABOVE) {
      stride = SAMPLE_STRIDE;
      first = (SAMPLE_STRIDE - this.phase) % SAMPLE_STRIDE;
      this.phase = (this.phase + rows) % SAMPLE_STRIDE;
      if (first >= rows) return -1;
      this.counted = true;
      const taken = Math.floor((rows - 1 - first) / stride) + 1;
      v[0]! += taken;
      v[1]! += taken;
    } else {
      this.counted = true;
      v[0]! += rows;
    }
    const groups = this.layout.groups;
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      const data = inputs[group.input]!.data as Float32Array;
      if (group.table !== undefined) countFast(v, group, group.table, data, first, rows, stride);
      else countSearch(v, group, this.layout.edges, data, first, rows, stride);
    }
    return minute * TOKEN_MINUTE + first * SAMPLE_STRIDE + stride;
  }

  /** Bins the scores of the rows `count` took (its token), the first value of each row of the score output. */
  countScores(outputs: readonly TensorData[], rows: number, token: number): void {
    const p = this.layout.prediction;
    if (token < 0 || p === undefined) return;
    const data = outputs[p.output]?.data as Float32Array | undefined;
    if (data === undefined || Array.isArray(data)) return;
    const minute = Math.floor(token / TOKEN_MINUTE);
    const rest = token - minute * TOKEN_MINUTE;
    const stride = rest % SAMPLE_STRIDE === 0 ? SAMPLE_STRIDE : rest % SAMPLE_STRIDE;
    const first = (rest - stride) / SAMPLE_STRIDE;
    const edges = this.layout.edges;
    const start = edges.length - p.histogram.edges.length;
    const shift = p.offset - start;
    const v = this.scoresVector(minute);
    for (let r = first; r < rows; r += stride) {
      const x = data[r * p.rowSize]!;
      if (Number.isNaN(x)) continue;
      let lo = start;
      let hi = edges.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (edges[mid]! <= x) lo = mid + 1;
        else hi = mid;
      }
      v[shift + lo]!++;
    }
  }

  /**
   * The vector of the minute a batch's rows were counted in: the current one, a closed one not yet
   * taken, or (the minute was handed over while the batch ran) a new one for that minute alone.
   */
  private scoresVector(minute: number): Float64Array {
    if (minute === this.minute) {
      this.counted = true;
      return this.vector;
    }
    for (const c of this.closed) if (c.minute === minute) return c.amounts;
    const late = { minute, amounts: new Float64Array(this.layout.length) };
    this.closed.push(late);
    return late.amounts;
  }

  /** What was counted since the last take, one entry per minute, oldest first (empty when nothing was). */
  take(): DriftMinute[] {
    const out = this.closed;
    this.closed = [];
    if (this.counted) {
      out.push({ minute: this.minute, amounts: this.vector });
      this.vector = new Float64Array(this.layout.length);
      this.counted = false;
    }
    return out;
  }
}

/** The hook the batchers count into: asked once per batcher for its version's counter. */
export interface DriftSink {
  /** The version's counter, or undefined when it has no baseline histogram (nothing to count). */
  counter(version: ModelVersion): DriftCounter | undefined;
}
