/**
 * The built-in trainer: a logistic regression (logistic.ts) on the training rows, written as ONNX
 * that takes the live version's inputs (names, feature order) and answers its `monitor.score`
 * output, with the standardisation folded into the weights.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../registry/manifest.js';
import { DEFAULT_LAMBDA, DEFAULT_TOLERANCE, fitLogistic } from './logistic.js';
import { logisticModel } from './onnx-writer.js';
import type { Examples } from './train-examples.js';

export interface BuiltinFit {
  readonly trainer: string;
  readonly iterations: number;
  readonly converged: boolean;
  readonly lambda: number;
  readonly tolerance: number;
  readonly seconds: number;
}

export const BUILTIN_TRAINER = 'croupier logistic regression (standardised, L2, Newton/IRLS)';

/** Fits on `ex.train` and writes `model.onnx` into `outDir`. */
export function trainBuiltin(ex: Examples, live: Manifest, outDir: string, croupierVersion: string): BuiltinFit {
  const started = performance.now();
  const fit = fitLogistic(ex.columns, ex.positive, ex.train, DEFAULT_LAMBDA, DEFAULT_TOLERANCE);
  let offset = 0;
  const inputs = live.inputs.map((t) => {
    const width = (t.featureNames ?? [t.name]).length;
    const weights = fit.weights.subarray(offset, offset + width);
    offset += width;
    return { name: t.name, weights };
  });
  const bytes = logisticModel({
    inputs,
    bias: fit.bias,
    output: live.monitor!.score,
    graphName: `${live.name}_retrained`,
    docString: `${BUILTIN_TRAINER}, lambda ${fit.lambda}, ${fit.iterations} iterations, on ${ex.train.length} rows`,
    producerVersion: croupierVersion,
  });
  writeFileSync(join(outDir, 'model.onnx'), bytes);
  return {
    trainer: BUILTIN_TRAINER,
    iterations: fit.iterations,
    converged: fit.converged,
    lambda: fit.lambda,
    tolerance: fit.tolerance,
    seconds: (performance.now() - started) / 1000,
  };
}
