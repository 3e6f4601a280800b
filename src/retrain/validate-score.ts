/**
 * Scores holdout rows with a model in this process (onnxruntime-node), fed as the gateway feeds it:
 * each FP32 input filled from the dataset's feature columns by its manifest's featureNames.
 */
import ort from 'onnxruntime-node';
import type { TensorSpec } from '../registry/manifest.js';

const CHUNK = 8192;

/** The score (first value of `output` per row) of each of `rows`. */
export async function scoreRows(
  model: Uint8Array,
  inputs: readonly TensorSpec[],
  output: string,
  feature: (name: string) => Float64Array,
  rows: Uint32Array,
): Promise<Float64Array> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const columns = inputs.map((t) => (t.featureNames ?? [t.name]).map(feature));
    const scores = new Float64Array(rows.length);
    for (let start = 0; start < rows.length; start += CHUNK) {
      const count = Math.min(CHUNK, rows.length - start);
      const feeds: Record<string, ort.Tensor> = {};
      inputs.forEach((t, k) => {
        const cols = columns[k]!;
        const width = cols.length;
        const data = new Float32Array(count * width);
        for (let i = 0; i < count; i++) {
          const row = rows[start + i]!;
          for (let j = 0; j < width; j++) data[i * width + j] = cols[j]![row]!;
        }
        feeds[t.name] = new ort.Tensor('float32', data, [count, width]);
      });
      const result = await session.run(feeds);
      const out = result[output];
      if (!out) throw new Error(`the model has no output "${output}"`);
      const values = out.data as Float32Array | Float64Array;
      const stride = values.length / count;
      for (let i = 0; i < count; i++) scores[start + i] = values[i * stride]!;
    }
    return scores;
  } finally {
    await session.release();
  }
}
