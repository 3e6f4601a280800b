/**
 * What the repository accepts at load, per datatype: every one onnxruntime-node can hold, and a
 * clear refusal for BF16 (in the manifest or in the graph) and for a manifest that says another
 * type than the graph.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATATYPE_NAMES, DATATYPES } from '../../src/protocol/datatypes.js';
import { loadVersion } from '../../src/registry/repository.js';
import { identityManifest, identityModel, writeVersion } from '../helpers/onnx.js';

const BFLOAT16 = 16;
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'croupier-datatypes-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(model: string, elemType: number, datatype: string): void {
  const bytes = identityModel(elemType, 2);
  writeVersion(root, model, '1', bytes, identityManifest(model, bytes, datatype, 2));
}

describe('datatypes at load', () => {
  it.each(DATATYPE_NAMES)('loads an identity model of %s', (datatype) => {
    const model = `id-${datatype.toLowerCase()}`;
    write(model, DATATYPES[datatype].onnx, datatype);
    const version = loadVersion(root, model, '1');
    expect(version.manifest.inputs[0]!.datatype).toBe(datatype);
  });

  it('refuses BF16 in a manifest, saying onnxruntime-node cannot hold it', () => {
    write('bf16-manifest', BFLOAT16, 'BF16');
    expect(() => loadVersion(root, 'bf16-manifest', '1')).toThrow(
      /manifest: inputs\[0\]\.datatype: BF16 tensors cannot be held by onnxruntime-node/,
    );
  });

  it('refuses a graph whose input is bfloat16, whatever the manifest says', () => {
    write('bf16-graph', BFLOAT16, 'FP16');
    expect(() => loadVersion(root, 'bf16-graph', '1')).toThrow(
      'graph input "x" is of type BF16 (bfloat16), which onnxruntime-node cannot hold',
    );
  });

  it('refuses a manifest whose datatype is not the graph’s', () => {
    write('mismatch', DATATYPES.INT64.onnx, 'FP32');
    expect(() => loadVersion(root, 'mismatch', '1')).toThrow('manifest says "x" is FP32 but the graph\'s is INT64');
  });

  it('lists every datatype it takes when a manifest names an unknown one', () => {
    write('unknown', DATATYPES.FP32.onnx, 'FLOAT');
    expect(() => loadVersion(root, 'unknown', '1')).toThrow(
      'must be one of BOOL, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, FP16, FP32, FP64, BYTES',
    );
  });
});
