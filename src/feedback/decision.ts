/**
 * A decision: which arm (and which model version) a route chose for a request, and with what
 * probability. Kept until its outcome arrives or its feedback window passes; journaled behind the
 * answer. Features are kept only when the route logs them (they may be personal data).
 */
import type { Bytes } from '../state/bytes.js';

/** What a decision served, as `decisionLine` writes it. */
export interface ServedBy {
  readonly route: string;
  readonly arm: string;
  readonly model: string;
  readonly version: string;
  readonly sha256: string;
}

/**
 * A decision's journal or snapshot line (`reward` only in snapshots: the journal records outcomes
 * separately; `score`, the monitored score of its first row, only when the version has `monitor`:
 * NaN writes none, so lines of versions without it, and old journals, read the same). Written by hand because it runs once per prediction: every field but the features is
 * an id, a name, a hex string or a number, none of which JSON needs to escape.
 */
export function decisionLine(
  id: string,
  createdMs: number,
  s: ServedBy,
  propensity: number,
  rows: number,
  features: unknown,
  reward: number | undefined,
  score = NaN,
  context?: ArrayLike<number>,
): string {
  const c =
    (Number.isFinite(score) ? `,"c":${score}` : '') + (context ? `,"x":[${Array.from(context).join(',')}]` : '');
  const f = features === undefined ? '' : `,"f":${JSON.stringify(features)}`;
  const w = reward === undefined ? '' : `,"w":${reward}`;
  return `{"d":"${id}","t":${createdMs},"r":"${s.route}","a":"${s.arm}","m":"${s.model}","v":"${s.version}","s":"${s.sha256}","p":${propensity},"n":${rows}${c}${f}${w}}`;
}

const B64URL = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');
const HEAD = Buffer.from('{"d":"', 'latin1');
const TIME = Buffer.from('","t":', 'latin1');
const ROWS = Buffer.from(',"n":', 'latin1');

/** What `writeDecisionLine` puts between a decision's time and its propensity, for one ServedBy. */
export function servedBytes(s: ServedBy): Buffer {
  return Buffer.from(
    `,"r":"${s.route}","a":"${s.arm}","m":"${s.model}","v":"${s.version}","s":"${s.sha256}","p":`,
    'utf8',
  );
}

/** Writes a non-negative integer's digits at `at`; returns where they end. */
function writeInteger(out: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return at + out.write(String(n), at, 'latin1');
  let end = at + 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) end++;
  for (let i = end - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    out[i] = 48 + n - q * 10;
    n = q;
  }
  return end;
}

/** Creation times (one per block of ids) and propensities repeat from one line to the next: their text is made once. */
const last = { createdMs: NaN, createdBytes: Buffer.alloc(0), propensity: NaN, propensityBytes: Buffer.alloc(0) };

/** The longest a line is without its served part and features. */
const LINE_MAX = 64;

/**
 * `decisionLine(...)` and a newline, written straight into bytes (the journal's and the snapshot's
 * hot path), from an id held as bytes (`idBytes` at `idAt`, a multiple of 3 long), the served part
 * from `servedBytes` and the features as JSON text. A test holds the two to the same output.
 */
export function writeDecisionLine(
  out: Bytes,
  idBytes: Buffer,
  idAt: number,
  idLength: number,
  createdMs: number,
  served: Buffer,
  propensity: number,
  rows: number,
  featuresJson: string | undefined,
  reward: number | undefined,
  score = NaN,
  contextJson?: string,
): void {
  const c = (Number.isFinite(score) ? `,"c":${score}` : '') + (contextJson === undefined ? '' : `,"x":${contextJson}`);
  const f = featuresJson === undefined ? '' : `,"f":${featuresJson}`;
  const w = reward === undefined ? '' : `,"w":${reward}`;
  const buf = out.reserve(
    LINE_MAX + Math.ceil(idLength / 3) * 4 + served.length + c.length + Buffer.byteLength(f) + w.length,
  );
  // TypedArray#set, not Buffer#copy: for a few bytes a call into C++ costs more than the copy.
  buf.set(HEAD, out.length);
  let at = out.length + HEAD.length;
  for (let i = idAt; i < idAt + idLength; i += 3) {
    const v = (idBytes[i]! << 16) | (idBytes[i + 1]! << 8) | idBytes[i + 2]!;
    buf[at++] = B64URL[v >>> 18]!;
    buf[at++] = B64URL[(v >>> 12) & 63]!;
    buf[at++] = B64URL[(v >>> 6) & 63]!;
    buf[at++] = B64URL[v & 63]!;
  }
  buf.set(TIME, at);
  at += TIME.length;
  if (createdMs !== last.createdMs) last.createdBytes = Buffer.from(String((last.createdMs = createdMs)), 'latin1');
  buf.set(last.createdBytes, at);
  at += last.createdBytes.length;
  buf.set(served, at);
  at += served.length;
  if (propensity !== last.propensity)
    last.propensityBytes = Buffer.from(String((last.propensity = propensity)), 'latin1');
  buf.set(last.propensityBytes, at);
  at += last.propensityBytes.length;
  buf.set(ROWS, at);
  at += ROWS.length;
  at = writeInteger(buf, at, rows);
  // Byte by byte: a score's dozen ASCII characters cost less than a call into C++ (buf.write).
  for (let i = 0; i < c.length; i++) buf[at++] = c.charCodeAt(i);
  if (f !== '') at += buf.write(f, at, 'utf8');
  if (w !== '') at += buf.write(w, at, 'latin1');
  buf[at++] = 0x7d; // }
  buf[at++] = 0x0a; // \n
  out.length = at;
}

/** The persisted form: short keys, because there can be millions of these in a snapshot. */
export interface DecisionLine {
  d: string;
  t: number;
  r: string;
  a: string;
  m: string;
  v: string;
  s: string;
  p: number;
  n: number;
  /** The monitored score of the first row (versions with `monitor`). */
  c?: number;
  /** A contextual route's context vector (in the route's `context` order). */
  x?: number[];
  f?: unknown;
  /** The reward credited (snapshots only; the journal records outcomes separately). */
  w?: number;
}

/** A decision as the feedback path and replay see it (the store keeps no objects). */
export class Decision {
  readonly id: string;
  readonly createdMs: number;
  readonly route: string;
  readonly arm: string;
  readonly model: string;
  readonly version: string;
  /** `model@version`, the key arm statistics are held under. */
  readonly versionKey: string;
  readonly sha256: string;
  readonly propensity: number;
  readonly rows: number;
  readonly features: unknown;
  /** The reward credited; undefined while the decision waits for its outcome. */
  reward: number | undefined;
  /** The monitored score of the request's first row; NaN when the version has no `monitor`. */
  readonly score: number;
  /** A contextual route's context vector, which its outcome credits the arm's regression with. */
  readonly context: Float64Array | undefined;
  /**
   * Redis mode: the features' JSON text, measured against CROUPIER_FEATURES_MAX when the decision was
   * made (feedback/logged-features.ts), so that its line does not stringify them again.
   */
  private readonly featuresJson: string | undefined;

  constructor(
    id: string,
    createdMs: number,
    route: string,
    arm: string,
    model: string,
    version: string,
    versionKey: string,
    sha256: string,
    propensity: number,
    rows: number,
    features: unknown,
    reward?: number,
    score = NaN,
    featuresJson?: string,
    context?: Float64Array,
  ) {
    this.id = id;
    this.createdMs = createdMs;
    this.route = route;
    this.arm = arm;
    this.model = model;
    this.version = version;
    this.versionKey = versionKey;
    this.sha256 = sha256;
    this.propensity = propensity;
    this.rows = rows;
    this.features = features;
    this.reward = reward;
    this.score = score;
    this.featuresJson = featuresJson;
    this.context = context;
  }

  /** Its journal line (without the reward): what Redis mode stores under the decision's key. */
  line(): string {
    const line = decisionLine(
      this.id,
      this.createdMs,
      this,
      this.propensity,
      this.rows,
      this.features,
      undefined,
      this.score,
      this.context,
    );
    return this.featuresJson === undefined ? line : `${line.slice(0, -1)},"f":${this.featuresJson}}`;
  }

  static fromLine(l: DecisionLine): Decision {
    const score = typeof l.c === 'number' && Number.isFinite(l.c) ? l.c : NaN;
    const x = contextOfLine(l.x);
    return new Decision(l.d, l.t, l.r, l.a, l.m, l.v, `${l.m}@${l.v}`, l.s, l.p, l.n, l.f, l.w, score, undefined, x);
  }

  static isLine(x: unknown): x is DecisionLine {
    const l = x as DecisionLine;
    return (
      typeof l === 'object'
      && l !== null
      && typeof l.d === 'string'
      && typeof l.t === 'number'
      && typeof l.r === 'string'
      && typeof l.a === 'string'
      && typeof l.m === 'string'
      && typeof l.v === 'string'
      && typeof l.p === 'number'
    );
  }
}

/** A line's `x`: finite numbers (at most 255), else none. */
function contextOfLine(x: unknown): Float64Array | undefined {
  if (!Array.isArray(x) || x.length === 0 || x.length > 255) return undefined;
  for (const v of x) if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  return Float64Array.from(x as number[]);
}
