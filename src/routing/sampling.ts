/**
 * Random numbers for the policies. Every policy takes an `Rng` so that the simulator and the tests
 * can seed it; production uses Math.random (decisions need not be reproducible, only fair).
 */

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32: small, fast, and good enough for simulation; never for secrets. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal by Box-Muller (one of the pair is dropped: simpler, and the cost is small). */
export function normal(rng: Rng): number {
  let u = rng();
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 by the boost u^(1/shape). */
export function gamma(shape: number, rng: Rng): number {
  if (shape < 1) {
    let u = rng();
    while (u === 0) u = rng();
    return gamma(shape + 1, rng) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) as a ratio of gammas. */
export function beta(a: number, b: number, rng: Rng): number {
  const x = gamma(a, rng);
  return x / (x + gamma(b, rng));
}
