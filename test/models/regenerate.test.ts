import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';

const { onnx } = onnxProto;

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MODELS_DIR = join(ROOT, 'models');
const MODELS = [
  { dir: 'fraud/1', output: 'probability', width: 32 },
  { dir: 'fraud/2', output: 'probability', width: 32 },
  { dir: 'ctr/1', output: 'ctr', width: 32 },
  { dir: 'mlp/1', output: 'probability', width: 256 },
] as const;

interface FeatureStats {
  mean: number;
  std: number;
  min: number;
  max: number;
}
interface Manifest {
  name: string;
  version: string;
  file: string;
  sha256: string;
  inputs: { name: string; shape: number[]; featureNames: string[] }[];
  outputs: { name: string; shape: number[] }[];
  baseline: { features: Record<string, FeatureStats> };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}
const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(MODELS_DIR, dir, 'model.json'), 'utf8')) as Manifest;

describe('demo model generator', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'croupier-models-'));
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/make-models.ts', '--out', tmp], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(res.status, res.stderr).toBe(0);
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('regenerates exactly the committed file set, byte for byte', () => {
    const generated = listFiles(tmp);
    expect(generated).toContain('routes.json');
    expect(generated).toEqual(listFiles(MODELS_DIR));
    for (const rel of generated) {
      const fresh = readFileSync(join(tmp, rel));
      const committed = readFileSync(join(MODELS_DIR, rel));
      expect(fresh.equals(committed), `${rel} differs from committed copy; run npm run models`).toBe(true);
    }
  });

  it('manifests carry the sha256 of their model.onnx and one unique name per feature', () => {
    for (const { dir, width } of MODELS) {
      const manifest = readManifest(dir);
      const bytes = readFileSync(join(MODELS_DIR, dir, manifest.file));
      expect(manifest.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      const names = manifest.inputs[0]?.featureNames ?? [];
      expect(names).toHaveLength(width);
      expect(new Set(names).size).toBe(width);
      expect(Object.keys(manifest.baseline.features)).toEqual(names);
    }
    expect(readManifest('fraud/1').inputs[0]?.featureNames.slice(0, 2)).toEqual(['amount', 'account_age_days']);
    expect(readFileSync(join(MODELS_DIR, 'fraud/LIVE'), 'utf8')).toBe('1\n');
    expect(readFileSync(join(MODELS_DIR, 'ctr/LIVE'), 'utf8')).toBe('1\n');
    expect(readFileSync(join(MODELS_DIR, 'mlp/LIVE'), 'utf8')).toBe('1\n');
    expect(readFileSync(join(MODELS_DIR, 'checkout/LIVE'), 'utf8')).toBe('1\n');
  });
});

describe('the categorical demo model (checkout)', () => {
  it('uses only standard operators: LabelEncoder from ai.onnx.ml, the rest from the default domain', () => {
    const model = onnx.ModelProto.decode(readFileSync(join(MODELS_DIR, 'checkout/1/model.onnx')));
    const ops = model.graph!.node!.map((n) => `${n.domain || 'ai.onnx'}:${n.opType}`);
    expect(new Set(ops)).toEqual(new Set(['ai.onnx.ml:LabelEncoder', 'ai.onnx:Mul', 'ai.onnx:Add', 'ai.onnx:Sigmoid']));
    expect(model.opsetImport!.map((o) => o.domain ?? '').sort()).toEqual(['', 'ai.onnx.ml']);
    const manifest = JSON.parse(readFileSync(join(MODELS_DIR, 'checkout/1/model.json'), 'utf8')) as {
      inputs: { name: string; datatype: string; featureNames: string[] }[];
    };
    expect(manifest.inputs.map((i) => [i.name, i.datatype, i.featureNames])).toEqual([
      ['country', 'BYTES', ['country']],
      ['channel', 'BYTES', ['channel']],
      ['amount', 'FP32', ['amount']],
    ]);
  });

  it('maps each known category to its weight and an unknown one to the default, in onnxruntime-node', async () => {
    const session = await ort.InferenceSession.create(join(MODELS_DIR, 'checkout/1/model.onnx'));
    try {
      const result = await session.run({
        country: new ort.Tensor('string', ['FR', 'NG', 'ZZ'], [3, 1]),
        channel: new ort.Tensor('string', ['app', 'phone', '??'], [3, 1]),
        amount: new ort.Tensor('float32', Float32Array.of(10, 500, 0), [3, 1]),
      });
      const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
      const expected = [-0.3 - 0.5 + 0.04 - 2, 1.1 + 0.7 + 2 - 2, 0.8 + 0.8 - 2].map(sigmoid);
      const got = Array.from(result.probability!.data as Float32Array);
      for (const [i, v] of got.entries()) expect(v).toBeCloseTo(expected[i]!, 6);
    } finally {
      await session.release();
    }
  });
});

describe('committed demo models run in onnxruntime-node', () => {
  /** Three baseline-like rows per model: the mean, mean - 0.5 std, mean + 0.5 std (clipped to [min, max]). */
  function rows(manifest: Manifest): Float32Array {
    const stats = (manifest.inputs[0]?.featureNames ?? []).map((n) => manifest.baseline.features[n]);
    return Float32Array.from(
      [0, -0.5, 0.5].flatMap((k) => stats.map((s) => (s ? Math.min(s.max, Math.max(s.min, s.mean + k * s.std)) : NaN))),
    );
  }

  /** Score 3 rows built from the baseline in `rowsFrom`'s manifest (default: the model's own). */
  async function score(dir: string, output: string, rowsFrom = dir, width = 32): Promise<number[]> {
    const manifest = readManifest(dir);
    const session = await ort.InferenceSession.create(join(MODELS_DIR, dir, 'model.onnx'));
    try {
      expect(session.inputNames).toEqual(['features']);
      expect(session.outputNames).toEqual([output]);
      expect(manifest.outputs.map((o) => o.name)).toEqual([output]);
      const result = await session.run({
        features: new ort.Tensor('float32', rows(readManifest(rowsFrom)), [3, width]),
      });
      const tensor = result[output];
      expect(tensor?.dims).toEqual([3, 1]);
      return Array.from(tensor?.data as Float32Array);
    } finally {
      await session.release();
    }
  }

  it.each(MODELS)('$dir loads and returns 3 finite probabilities in (0, 1)', async ({ dir, output, width }) => {
    const values = await score(dir, output, dir, width);
    expect(values).toHaveLength(3);
    for (const v of values) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
  });

  it('fraud v1 and v2 give clearly different scores on the same rows', async () => {
    const v1 = await score('fraud/1', 'probability', 'fraud/1');
    const v2 = await score('fraud/2', 'probability', 'fraud/1');
    const maxDiff = Math.max(...v1.map((v, i) => Math.abs(v - (v2[i] ?? v))));
    expect(maxDiff).toBeGreaterThan(0.05);
  });
});
