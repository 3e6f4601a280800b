/**
 * A synthetic scoring world whose feature–outcome relation drifts week by week: the true logit is
 * bias + strength · (w(t) · z), where z are the standardised features and the unit direction w(t)
 * turns by a fixed angle each week, so a model fitted on one week loses AUC on the following ones.
 * Features have different means and scales (so standardisation matters); everything is seeded.
 */
import { seededRng, type Rng } from '../../src/routing/sampling.js';
import type { Row } from './dataset-folder.js';

export const WEEK_MS = 7 * 24 * 3600 * 1000;
export const EPOCH_MS = Date.UTC(2026, 0, 5);

const gauss = (r: Rng): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

export interface WorldOptions {
  seed?: number;
  width?: number;
  strength?: number;
  radiansPerWeek?: number;
  bias?: number;
}

export class DriftingWorld {
  readonly features: string[];
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private readonly means: Float64Array;
  private readonly scales: Float64Array;
  private readonly rng: Rng;
  private readonly strength: number;
  private readonly radiansPerWeek: number;
  private readonly bias: number;
  private count = 0;

  constructor(o: WorldOptions = {}) {
    const width = o.width ?? 32;
    this.rng = seededRng(o.seed ?? 7);
    this.strength = o.strength ?? 2;
    this.radiansPerWeek = o.radiansPerWeek ?? 0.05;
    this.bias = o.bias ?? -1;
    this.features = Array.from({ length: width }, (_, j) => `f${String(j).padStart(2, '0')}`);
    this.means = Float64Array.from({ length: width }, (_, j) => 10 * j);
    this.scales = Float64Array.from({ length: width }, (_, j) => 1 + j / 4);
    // Two orthonormal directions: w(t) = cos(θt) a + sin(θt) b.
    const a = Float64Array.from({ length: width }, () => gauss(this.rng));
    const na = Math.hypot(...a);
    for (let j = 0; j < width; j++) a[j] = a[j]! / na;
    const b = Float64Array.from({ length: width }, () => gauss(this.rng));
    const dot = b.reduce((s, v, j) => s + v * a[j]!, 0);
    for (let j = 0; j < width; j++) b[j] = b[j]! - dot * a[j]!;
    const nb = Math.hypot(...b);
    for (let j = 0; j < width; j++) b[j] = b[j]! / nb;
    this.a = a;
    this.b = b;
  }

  /** The true probability of a positive for standardised features `z` at `week` (fractional). */
  truth(z: Float64Array, week: number): number {
    const t = this.radiansPerWeek * week;
    let s = 0;
    for (let j = 0; j < z.length; j++) s += (Math.cos(t) * this.a[j]! + Math.sin(t) * this.b[j]!) * z[j]!;
    return 1 / (1 + Math.exp(-(this.bias + this.strength * s)));
  }

  /** `n` rows decided during `week` (spread evenly over it), labelled by the world of their moment. */
  rows(week: number, n: number, model = 'fraud', version = '1'): Row[] {
    const out: Row[] = [];
    for (let i = 0; i < n; i++) {
      const frac = (i + 0.5) / n;
      const z = Float64Array.from(this.features, () => gauss(this.rng));
      const features: Record<string, number> = {};
      this.features.forEach((f, j) => {
        features[f] = this.means[j]! + this.scales[j]! * z[j]!;
      });
      const y = this.rng() < this.truth(z, week + frac) ? 1 : 0;
      const atMs = EPOCH_MS + Math.floor((week + frac) * WEEK_MS);
      out.push({
        decision: `d${++this.count}`,
        atMs,
        arm: 'champion',
        model,
        version,
        propensity: 1,
        score: null,
        features,
        reward: y,
        label: y,
        outcomeAtMs: atMs + 60_000,
      });
    }
    return out;
  }
}
