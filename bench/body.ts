// The one request body every target gets: 32 deterministic features and a unit id.
export const FEATURE_COUNT = 32;

export function makeFeatures(count: number = FEATURE_COUNT): number[] {
  // Fixed pseudo-random values in [-1, 1) so runs are comparable and the model sees "real" input.
  let seed = 42;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out.push(Math.round(((seed / 2147483648) * 2 - 1) * 1e4) / 1e4);
  }
  return out;
}

export const REQUEST_BODY: string = JSON.stringify({ features: makeFeatures(), unit: 'user-42' });
