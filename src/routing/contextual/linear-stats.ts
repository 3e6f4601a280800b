/**
 * What a contextual route has learned about one arm: the sufficient statistics of a ridge
 * regression of reward on the context, an intercept first (Li et al. 2010's disjoint model).
 * Sums, not a fitted model, so that they add exactly whoever credits them (every replica's outcomes
 * go into one set in Redis) and a policy refits from them (`LinUcbPolicy`, `LinearThompsonPolicy`).
 * The ridge λ is the policy's, applied when it solves: the statistics hold data only.
 */

export class LinearStats {
  /** Context features (the intercept is not counted here). */
  readonly features: number;
  /** Dimension with the intercept: features + 1. */
  readonly dim: number;
  /** Outcomes counted. */
  n = 0;
  /** Σ x xᵀ over the counted outcomes, row-major dim × dim (x with its leading 1). */
  readonly xx: Float64Array;
  /** Σ r x. */
  readonly xr: Float64Array;

  constructor(features: number) {
    if (!Number.isInteger(features) || features < 0)
      throw new RangeError(`features must be a whole number, got ${features}`);
    this.features = features;
    this.dim = features + 1;
    this.xx = new Float64Array(this.dim * this.dim);
    this.xr = new Float64Array(this.dim);
  }

  /** Counts one outcome: `context` holds `features` finite numbers (no intercept). */
  credit(context: ArrayLike<number>, reward: number): void {
    const d = this.dim;
    const xx = this.xx;
    this.n++;
    this.xr[0]! += reward;
    xx[0]! += 1;
    for (let i = 1; i < d; i++) {
      const xi = context[i - 1]!;
      this.xr[i]! += reward * xi;
      xx[i]! += xi; // row 0
      xx[i * d]! += xi; // column 0
      for (let j = 1; j <= i; j++) {
        const v = xi * context[j - 1]!;
        xx[i * d + j]! += v;
        if (j !== i) xx[j * d + i]! += v;
      }
    }
  }

  /** Back to no data (a new version on the arm, or an admin reset). */
  restart(): void {
    this.n = 0;
    this.xx.fill(0);
    this.xr.fill(0);
  }

  /** Length of the packed form for `features`: [n, xx (dim²), xr (dim)]. */
  static packedLength(features: number): number {
    const d = features + 1;
    return 1 + d * d + d;
  }

  /** The packed form, [n, ...xx, ...xr]: what snapshots save and Redis keeps (as little-endian doubles). */
  pack(): Float64Array {
    const out = new Float64Array(LinearStats.packedLength(this.features));
    out[0] = this.n;
    out.set(this.xx, 1);
    out.set(this.xr, 1 + this.xx.length);
    return out;
  }

  /** Overwrites these statistics with a packed form; false (and nothing changed) when it does not fit or holds a non-finite number. */
  unpack(packed: ArrayLike<number>): boolean {
    if (packed.length !== LinearStats.packedLength(this.features)) return false;
    for (let i = 0; i < packed.length; i++) if (!Number.isFinite(packed[i]!)) return false;
    if (!(packed[0]! >= 0)) return false;
    this.n = packed[0]!;
    for (let i = 0; i < this.xx.length; i++) this.xx[i] = packed[1 + i]!;
    for (let i = 0; i < this.xr.length; i++) this.xr[i] = packed[1 + this.xx.length + i]!;
    return true;
  }
}
