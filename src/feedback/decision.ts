/**
 * A decision: which arm (and which model version) a route chose for a request, and with what
 * probability. Kept until its outcome arrives or its feedback window passes; journaled behind the
 * answer. Features are kept only when the route logs them (they may be personal data).
 */

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
 * separately). Written by hand because it runs once per prediction: every field but the features is
 * an id, a name, a hex string or a number, none of which JSON needs to escape.
 */
export function decisionLine(id: string, createdMs: number, s: ServedBy, propensity: number, rows: number, features: unknown, reward: number | undefined): string {
  const f = features === undefined ? '' : `,"f":${JSON.stringify(features)}`;
  const w = reward === undefined ? '' : `,"w":${reward}`;
  return `{"d":"${id}","t":${createdMs},"r":"${s.route}","a":"${s.arm}","m":"${s.model}","v":"${s.version}","s":"${s.sha256}","p":${propensity},"n":${rows}${f}${w}}`;
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

  constructor(id: string, createdMs: number, route: string, arm: string, model: string, version: string, versionKey: string,
    sha256: string, propensity: number, rows: number, features: unknown, reward?: number) {
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
  }

  /** Its journal line (without the reward): what Redis mode stores under the decision's key. */
  line(): string {
    return decisionLine(this.id, this.createdMs, this, this.propensity, this.rows, this.features, undefined);
  }

  static fromLine(l: DecisionLine): Decision {
    return new Decision(l.d, l.t, l.r, l.a, l.m, l.v, `${l.m}@${l.v}`, l.s, l.p, l.n, l.f, l.w);
  }

  static isLine(x: unknown): x is DecisionLine {
    const l = x as DecisionLine;
    return typeof l === 'object' && l !== null && typeof l.d === 'string' && typeof l.t === 'number' && typeof l.r === 'string'
      && typeof l.a === 'string' && typeof l.m === 'string' && typeof l.v === 'string' && typeof l.p === 'number';
  }
}
