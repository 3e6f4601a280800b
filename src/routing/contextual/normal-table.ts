/**
 * Standard normal draws cheap enough for a request path: a table of N = 1024 normal quantiles at
 * the midpoints (i + ½)/N, indexed by 10 random bits, so one 32-bit uniform gives three draws and
 * a draw costs a shift, a mask and a load (Box–Muller costs a log, a sqrt and a cosine). The table
 * is rescaled to variance exactly 1. The price is a discrete normal cut at ±3.3σ, whose effect on
 * P(arm is best) is far below the Monte Carlo error of the draws that use it (docs/routing.md).
 */

export const NORMAL_TABLE_BITS = 10;
const SIZE = 1 << NORMAL_TABLE_BITS;

/** Φ⁻¹(p) for p in (0, 1), Acklam's rational approximation (relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!)
      / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q)
    / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

function build(): Float64Array {
  const t = new Float64Array(SIZE);
  let ss = 0;
  for (let i = 0; i < SIZE; i++) {
    t[i] = normalQuantile((i + 0.5) / SIZE);
    ss += t[i]! * t[i]!;
  }
  // Symmetric, so the mean is 0; scale the variance to 1.
  const scale = 1 / Math.sqrt(ss / SIZE);
  for (let i = 0; i < SIZE; i++) t[i]! *= scale;
  return t;
}

/** The quantiles, index i ↦ Φ⁻¹((i + ½)/1024) × (1/sd of the table); index with `bits & NORMAL_TABLE_MASK`. */
export const NORMAL_TABLE: Float64Array = build();
export const NORMAL_TABLE_MASK = SIZE - 1;
