/**
 * The warm-up refuses a version whose outputs are not finite on its synthetic batch: FP16 outputs
 * (held as bits in a Uint16Array) are checked like FP32 and FP64 ones.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../../src/inference/sessions.js';
import type { LoadSpec } from '../../src/inference/messages.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

/** y = Cast<FP16>(x / x + offset) over x FP32 [N, 1]: NaN on the zeros of a warm-up unless `finite`. */
function halfModel(finite: boolean): Uint8Array {
  const info = (name: string, elemType: number): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 1 }] } } },
  });
  const node: onnxProto.onnx.INodeProto[] = finite
    ? [{ opType: 'Cast', input: ['x'], output: ['y'], attribute: [{ name: 'to', type: 2, i: T.FLOAT16 }] }]
    : [
        { opType: 'Div', input: ['x', 'x'], output: ['q'] },
        { opType: 'Cast', input: ['q'], output: ['y'], attribute: [{ name: 'to', type: 2, i: T.FLOAT16 }] },
      ];
  const model = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'half', node, input: [info('x', T.FLOAT)], output: [info('y', T.FLOAT16)] },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'croupier-fp16-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function spec(name: string, finite: boolean): LoadSpec {
  const file = join(dir, `${name}.onnx`);
  writeFileSync(file, halfModel(finite));
  return {
    key: `${name}@1`,
    file,
    inputs: [{ name: 'x', type: 'float32', rowShape: [1] }],
    outputs: [{ name: 'y', rowSize: 1 }],
  };
}

describe('warm-up of FP16 outputs', () => {
  it('loads a version whose FP16 outputs are finite', async () => {
    const { session } = await createSession(spec('finite', true), 1);
    await session.release();
  });

  it('refuses a version whose FP16 output is NaN on the warm-up batch', async () => {
    await expect(createSession(spec('nan', false), 1)).rejects.toThrow('warm-up: output "y" is not finite');
  });
});
