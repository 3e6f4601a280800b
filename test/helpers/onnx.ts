/** Tiny ONNX models written with onnx-proto, for tests of the repository's checks. */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export interface TinyOptions {
  /** Store the bias initializer as external data at this location. */
  externalLocation?: string;
  /** Put the Add node in this operator domain (a custom op). */
  domain?: string;
  /** Scale applied to the input, so versions differ. */
  bias?: number;
}

/** y = x + bias over FP32 [N, 4]: input "x", output "y". */
export function tinyModel(options: TinyOptions = {}): Uint8Array {
  const bias = new Float32Array(4).fill(options.bias ?? 1);
  const biasTensor: onnxProto.onnx.ITensorProto = {
    name: 'bias',
    dims: [4],
    dataType: onnx.TensorProto.DataType.FLOAT,
  };
  if (options.externalLocation !== undefined) {
    biasTensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    biasTensor.externalData = [
      { key: 'location', value: options.externalLocation },
      { key: 'offset', value: '0' },
      { key: 'length', value: '16' },
    ];
  } else {
    biasTensor.rawData = new Uint8Array(bias.buffer);
  }
  const valueInfo = (name: string): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, { dimValue: 4 }] },
      },
    },
  });
  const domain = options.domain ?? '';
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }, ...(domain ? [{ domain, version: 1 }] : [])],
    producerName: 'croupier-test',
    graph: {
      name: 'tiny',
      node: [{ opType: 'Add', input: ['x', 'bias'], output: ['y'], domain }],
      initializer: [biasTensor],
      input: [valueInfo('x')],
      output: [valueInfo('y')],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

export function tinyManifest(
  model: string,
  version: string,
  bytes: Uint8Array,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: model,
    version,
    format: 'onnx',
    file: 'model.onnx',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    created: '2026-01-01T00:00:00.000Z',
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 4] }],
    ...overrides,
  };
}

/** Writes `<root>/<model>/<version>/{model.onnx,model.json}`. */
export function writeVersion(
  root: string,
  model: string,
  version: string,
  bytes: Uint8Array,
  manifest = tinyManifest(model, version, bytes),
): string {
  const dir = join(root, model, version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/**
 * An embedding lookup, `y[n] = table[ids[n]]`, over INT64 ids [N, 1] -> FP32 [N, 1, 4]: scoring
 * is cheap whatever the size, so `rows` makes the file as big as a test needs (16 bytes a row).
 */
export function embeddingModel(rows: number, table = new Uint8Array(rows * 16)): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'croupier-test',
    graph: {
      name: 'embedding',
      node: [{ opType: 'Gather', input: ['table', 'ids'], output: ['y'] }],
      initializer: [{ name: 'table', dims: [rows, 4], dataType: onnx.TensorProto.DataType.FLOAT, rawData: table }],
      input: [
        {
          name: 'ids',
          type: {
            tensorType: {
              elemType: onnx.TensorProto.DataType.INT64,
              shape: { dim: [{ dimParam: 'batch' }, { dimValue: 1 }] },
            },
          },
        },
      ],
      output: [
        {
          name: 'y',
          type: {
            tensorType: {
              elemType: onnx.TensorProto.DataType.FLOAT,
              shape: { dim: [{ dimParam: 'batch' }, { dimValue: 1 }, { dimValue: 4 }] },
            },
          },
        },
      ],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

export function embeddingManifest(model: string, version: string, bytes: Uint8Array): Record<string, unknown> {
  return tinyManifest(model, version, bytes, {
    inputs: [{ name: 'ids', datatype: 'INT64', shape: [-1, 1] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1, 4] }],
  });
}

/** y = Identity(x) over [N, width] of ONNX element type `elemType` (TensorProto.DataType): one model per datatype. */
export function identityModel(elemType: number, width: number): Uint8Array {
  const info = (name: string): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } },
  });
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'croupier-test',
    graph: {
      name: 'identity',
      node: [{ opType: 'Identity', input: ['x'], output: ['y'] }],
      input: [info('x')],
      output: [info('y')],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** The manifest of identityModel: x and y of protocol datatype `datatype`, shape [-1, width]. */
export function identityManifest(
  model: string,
  bytes: Uint8Array,
  datatype: string,
  width: number,
): Record<string, unknown> {
  return tinyManifest(model, '1', bytes, {
    inputs: [{ name: 'x', datatype, shape: [-1, width] }],
    outputs: [{ name: 'y', datatype, shape: [-1, width] }],
  });
}
