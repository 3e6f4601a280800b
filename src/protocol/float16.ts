/**
 * IEEE 754 half precision by hand: Node 20 has no Float16Array, and onnxruntime-node holds float16
 * tensors as the raw bits in a Uint16Array. Numbers round to the nearest half, ties to even.
 */

/** 2^-24, the smallest subnormal half. */
const SUBNORMAL_STEP = 2 ** -24;

/** The half bits nearest to `value` (ties to even); overflow gives infinity, NaN a quiet NaN. */
export function toHalfBits(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (Number.isNaN(value)) return 0x7e00;
  // Below 2^-14 the halves are evenly spaced by 2^-24: rounding `a / 2^-24` to an integer, ties to
  // even, is exact in doubles (the quotient is a power-of-two scaling of `a`).
  if (a < 2 ** -14) return sign | roundHalfEven(a / SUBNORMAL_STEP);
  if (a >= 65520) return sign | 0x7c00;
  // Normal range: the exponent of `a`, then an 11-bit significand rounded ties to even. Done in
  // doubles, not through float32, so a value is rounded once.
  let exponent = Math.floor(Math.log2(a));
  if (2 ** exponent > a) exponent--;
  else if (2 ** (exponent + 1) <= a) exponent++;
  const significand = roundHalfEven((a / 2 ** exponent) * 1024);
  // Rounding up to 2048 carries into the exponent; the bits arithmetic does that by itself.
  return sign | (((exponent + 15) << 10) + significand - 1024);
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The number that half bits `bits` stand for (exact: every half is a double). */
export function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * SUBNORMAL_STEP;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

/** Whether half bits `bits` are infinite or NaN. */
export function isHalfNonFinite(bits: number): boolean {
  return (bits & 0x7c00) === 0x7c00;
}
