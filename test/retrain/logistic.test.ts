import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { fitLogistic } from '../../src/retrain/logistic.js';
import { logisticModel } from '../../src/retrain/onnx-writer.js';
import { seededRng } from '../../src/routing/sampling.js';

const gauss = (r: () => number): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

/** Rows from a known logistic model on raw features with very different means and scales. */
function world(n: number) {
  const rng = seededRng(11);
  const means = [100, -5, 0, 2000];
  const scales = [20, 0.5, 1, 800];
  const trueW = [0.05, -2, 0.7, 0.001]; // on raw values
  const trueB = -(0.05 * 100) + 2 * -5 - 0.001 * 2000 + 0.3;
  const columns = means.map(() => new Float64Array(n));
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let t = trueB;
    means.forEach((m, j) => {
      const x = m + scales[j]! * gauss(rng);
      columns[j]![i] = x;
      t += trueW[j]! * x;
    });
    y[i] = rng() < 1 / (1 + Math.exp(-t)) ? 1 : 0;
  }
  return { columns, y, trueW, trueB };
}

describe('the built-in logistic regression', () => {
  it('recovers the weights of the model that drew the labels, on raw scale, converged in a few Newton steps', () => {
    const { columns, y, trueW, trueB } = world(50_000);
    const rows = Uint32Array.from({ length: 50_000 }, (_, i) => i);
    const fit = fitLogistic(columns, y, rows);
    expect(fit.converged).toBe(true);
    expect(fit.iterations).toBeLessThan(15);
    for (let j = 0; j < 4; j++)
      expect(Math.abs(fit.weights[j]! - trueW[j]!)).toBeLessThan(0.1 * Math.abs(trueW[j]!) + 1e-4);
    expect(Math.abs(fit.bias - trueB)).toBeLessThan(0.3);
  });

  it('gives a feature that is constant on the training rows weight 0, and stops at the stated tolerance', () => {
    const { columns, y } = world(2_000);
    const constant = new Float64Array(2_000).fill(42);
    const fit = fitLogistic(
      [...columns, constant],
      y,
      Uint32Array.from({ length: 2_000 }, (_, i) => i),
      1e-4,
      1e-10,
    );
    expect(fit.weights[4]).toBe(0);
    expect(fit.tolerance).toBe(1e-10);
    expect(fit.converged).toBe(true);
  });

  it('writes ONNX that scores raw rows as the folded weights say (standardisation folded in)', async () => {
    const { columns, y } = world(5_000);
    const fit = fitLogistic(
      columns,
      y,
      Uint32Array.from({ length: 5_000 }, (_, i) => i),
    );
    // Two inputs (3 + 1 features), as a live version with one tensor per group would have.
    const bytes = logisticModel({
      inputs: [
        { name: 'a', weights: fit.weights.subarray(0, 3) },
        { name: 'b', weights: fit.weights.subarray(3) },
      ],
      bias: fit.bias,
      output: 'probability',
      graphName: 't',
      docString: 't',
      producerVersion: 't',
    });
    const session = await ort.InferenceSession.create(bytes);
    const n = 200;
    const a = new Float32Array(n * 3);
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 3; j++) a[i * 3 + j] = columns[j]![i]!;
      b[i] = columns[3]![i]!;
    }
    const out = (
      await session.run({ a: new ort.Tensor('float32', a, [n, 3]), b: new ort.Tensor('float32', b, [n, 1]) })
    ).probability!.data as Float32Array;
    for (let i = 0; i < n; i++) {
      let t = fit.bias;
      for (let j = 0; j < 4; j++) t += fit.weights[j]! * Math.fround(columns[j]![i]!);
      expect(out[i]).toBeCloseTo(1 / (1 + Math.exp(-t)), 4);
    }
    await session.release();
  });
});
