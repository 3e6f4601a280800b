import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/registry/manifest.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const demo = (dir: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(ROOT, 'models', dir, 'model.json'), 'utf8')) as Record<string, unknown>;

/** A small manifest with two named features and the given baseline. */
function withBaseline(baseline: unknown): Record<string, unknown> {
  return {
    name: 'm',
    version: '1',
    sha256: 'a'.repeat(64),
    created: '2026-01-01T00:00:00.000Z',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 2], featureNames: ['amount', 'age'] }],
    outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
    baseline,
  };
}
const hist = { edges: [1, 2], counts: [3, 4, 5] };
const parse = (baseline: unknown) => parseManifest(withBaseline(baseline), 'm', '1');

describe('manifest baseline', () => {
  it('keeps a valid baseline with histograms for features and the prediction', () => {
    const m = parse({
      features: { amount: { mean: 1, std: 2, min: 0, max: 9, histogram: hist } },
      prediction: { histogram: { edges: [0.5], counts: [1, 1] } },
    });
    expect(m.baseline?.features.amount?.histogram).toEqual(hist);
    expect(m.baseline?.prediction?.histogram.edges).toEqual([0.5]);
  });

  it.each([
    [[], 'baseline must be an object'],
    [{ features: [] }, 'baseline.features must be an object'],
    [
      { features: { income: { mean: 1 } } },
      'baseline.features.income: "income" is not one of the model\'s named features',
    ],
    [{ features: { amount: 3 } }, 'baseline.features.amount must be an object'],
    [{ features: { amount: { mean: 'x' } } }, 'baseline.features.amount.mean must be a finite number'],
    [{ features: { amount: { std: -1 } } }, 'baseline.features.amount.std must not be negative'],
    [{ features: { amount: { min: 3, max: 1 } } }, 'baseline.features.amount.min must not exceed max'],
    [
      { features: { amount: { histogram: [1, 2] } } },
      'baseline.features.amount.histogram must be an object with "edges" and "counts"',
    ],
    [
      { features: { amount: { histogram: { edges: [], counts: [1] } } } },
      'histogram.edges must list at least one edge',
    ],
    [
      { features: { amount: { histogram: { edges: [1, 2], counts: [1, 2] } } } },
      'histogram.counts must have one more entry than edges (3, got 2)',
    ],
    [
      { features: { amount: { histogram: { edges: [2, 1], counts: [1, 2, 3] } } } },
      'baseline.features.amount.histogram.edges must be strictly ascending',
    ],
    [{ features: { amount: { histogram: { edges: [1, 1], counts: [1, 2, 3] } } } }, 'edges must be strictly ascending'],
    [
      { features: { age: { histogram: { edges: [1, 'x'], counts: [1, 2, 3] } } } },
      'baseline.features.age.histogram.edges must be finite numbers',
    ],
    [
      { features: { age: { histogram: { edges: [1, 2], counts: [1, -2, 3] } } } },
      'histogram.counts must be finite non-negative numbers',
    ],
    [{ features: { age: { frequencies: { a: 'x' } } } }, 'baseline.features.age.frequencies must map categories'],
    [
      { features: {}, prediction: { histogram: { edges: [0.5], counts: [1] } } },
      'baseline.prediction.histogram.counts must have one more entry',
    ],
    [{ features: {}, prediction: 0.5 }, 'baseline.prediction must be an object with a "histogram"'],
  ])('refuses %j naming the field', (baseline, message) => {
    expect(() => parse(baseline)).toThrow(message);
  });

  it('refuses a histogram whose edges or counts are NaN or infinite (JSON cannot carry them, a parsed object can)', () => {
    expect(() => parse({ features: { amount: { histogram: { edges: [1, Number.NaN], counts: [1, 2, 3] } } } })).toThrow(
      'edges must be finite numbers',
    );
    expect(() =>
      parse({ features: { amount: { histogram: { edges: [1], counts: [1, Number.POSITIVE_INFINITY] } } } }),
    ).toThrow('counts must be finite non-negative numbers');
  });

  it('loads every regenerated demo manifest, with decile histograms for every numeric feature and the score', () => {
    for (const [dir, model, version] of [
      ['fraud/1', 'fraud', '1'],
      ['fraud/2', 'fraud', '2'],
      ['ctr/1', 'ctr', '1'],
      ['mlp/1', 'mlp', '1'],
      ['checkout/1', 'checkout', '1'],
    ] as const) {
      const raw = demo(dir);
      const m = parseManifest(raw, model, version);
      const base = m.baseline!;
      const numeric = model === 'checkout' ? ['amount'] : m.inputs[0]!.featureNames!;
      for (const name of numeric) {
        const h = base.features[name]!.histogram!;
        expect(h.edges.length, `${dir} ${name}`).toBeGreaterThanOrEqual(1);
        expect(h.edges.length).toBeLessThanOrEqual(9);
        const rows = h.counts.reduce((a, b) => a + b, 0);
        expect(rows).toBe(model === 'mlp' ? 2000 : 10_000);
      }
      if (model !== 'checkout') {
        // The score is continuous: ten bins of a tenth of the rows each.
        const p = base.prediction!.histogram;
        expect(p.edges).toHaveLength(9);
        const rows = p.counts.reduce((a, b) => a + b, 0);
        for (const c of p.counts) expect(Math.abs(c - rows / 10)).toBeLessThanOrEqual(1);
      }
    }
    // A continuous feature gets all nine deciles; a 0/1 flag one edge between its two values.
    const fraud = parseManifest(demo('fraud/1'), 'fraud', '1').baseline!;
    expect(fraud.features.amount!.histogram!.edges).toHaveLength(9);
    expect(fraud.features.card_present!.histogram!.edges).toEqual([0.5]);
    expect(demo('fraud/1').monitor).toEqual({ score: 'probability', threshold: 0.5, positive: 1 });
    expect(demo('ctr/1').monitor).toEqual({ score: 'ctr', threshold: 0.5, positive: 1 });
    expect(demo('mlp/1').monitor).toBeUndefined();
  });
});
