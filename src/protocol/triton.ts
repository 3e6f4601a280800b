/**
 * Triton's extensions that its tools read (perf_analyzer, tritonclient, model analyzer): the model
 * configuration, the statistics and the repository index, in the JSON Triton answers with — the
 * field names of model_config.proto and grpc_service.proto (triton-inference-server/common),
 * snake_case, enums as their names, 64-bit numbers as JSON numbers (as Triton's own HTTP endpoint
 * writes them). docs/triton.md says which fields are filled and which stay 0.
 */
import { CroupierError } from '../errors.js';
import type { BatchLimits } from '../inference/batcher.js';
import type { Duration, VersionStats } from '../inference/version-stats.js';
import type { ModelVersion } from '../registry/repository.js';
import type { Datatype } from './datatypes.js';

export const TRITON_PLATFORM = 'onnxruntime_onnx';
/** Their names in `GET /v2`'s `extensions`, as Triton lists them. */
export const TRITON_EXTENSIONS = ['model_configuration', 'statistics', 'model_repository'];
export const TRITON_BACKEND = 'onnxruntime';

/** model_config.proto's DataType name for a V2 datatype (`BYTES` is Triton's `TYPE_STRING`). */
export function tritonDataType(datatype: Datatype): string {
  return (datatype as string) === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
}

/**
 * A tensor's `dims` without the batch dimension (Croupier batches every model, so max_batch_size > 0).
 * A tensor of one value per row has no other dimension; Triton needs at least one, so it is
 * `dims: [1]` reshaped to `[]`, as a Triton config writes it.
 */
function dims(shape: readonly number[]): { dims: number[]; reshape?: { shape: number[] } } {
  const rest = shape.slice(1);
  return rest.length > 0 ? { dims: rest } : { dims: [1], reshape: { shape: [] } };
}

export interface ConfigSource {
  /** The name asked for: the model's, or a route's. */
  readonly name: string;
  readonly version: ModelVersion;
  readonly limits: BatchLimits;
  /** Copies of the model that run batches at once: the workers, or 1 on the main thread. */
  readonly instances: number;
  readonly platform?: string;
}

/** `GET /v2/models/{m}[/versions/{v}]/config`: ModelConfig as Triton's HTTP endpoint writes it. */
export function modelConfig(source: ConfigSource): object {
  const { name, version, limits } = source;
  const platform = source.platform ?? TRITON_PLATFORM;
  return {
    name,
    platform,
    backend: platform === TRITON_PLATFORM ? TRITON_BACKEND : '',
    runtime: '',
    // Every good version is loaded and can be asked for by number; the live one answers otherwise.
    version_policy: { all: {} },
    max_batch_size: limits.maxBatch,
    input: version.manifest.inputs.map((t) => ({
      name: t.name,
      data_type: tritonDataType(t.datatype),
      format: 'FORMAT_NONE',
      ...dims(t.shape),
      is_shape_tensor: false,
      allow_ragged_batch: false,
      optional: false,
      is_non_linear_format_io: false,
    })),
    output: version.manifest.outputs.map((t) => ({
      name: t.name,
      data_type: tritonDataType(t.datatype),
      ...dims(t.shape),
      label_filename: '',
      is_shape_tensor: false,
      is_non_linear_format_io: false,
    })),
    batch_input: [],
    batch_output: [],
    // The batcher sends a batch once maxBatch rows wait, or when the first has waited batchDelayUs.
    dynamic_batching: {
      preferred_batch_size: [limits.maxBatch],
      max_queue_delay_microseconds: limits.batchDelayUs,
      preserve_ordering: false,
      priority_levels: 0,
      default_priority_level: 0,
      priority_queue_policy: {},
    },
    instance_group: [
      {
        name: `${name}_0`,
        kind: 'KIND_CPU',
        count: source.instances,
        gpus: [],
        secondary_devices: [],
        profile: [],
        passive: false,
        host_policy: '',
      },
    ],
    default_model_filename: version.manifest.file,
    cc_model_filenames: {},
    metric_tags: {},
    // Triton's config is per model; which of Croupier's versions this one describes.
    parameters: {
      version: { string_value: version.version },
      sha256: { string_value: version.sha256 },
    },
    model_warmup: [],
  };
}

interface DurationJson {
  count: number;
  ns: number;
}

const ZERO: DurationJson = { count: 0, ns: 0 };
const ns = (ms: number): number => Math.max(0, Math.round(ms * 1e6));
const durationJson = (d: Duration): DurationJson => ({ count: d.count, ns: ns(d.ms) });

/**
 * One entry of `model_stats` (grpc_service.proto's ModelStatistics); a version not loaded has no
 * statistics, and reads as zeros. Croupier has no response cache: cache_hit and cache_miss stay 0.
 */
export function modelStatistics(version: ModelVersion, stats: VersionStats | undefined): object {
  const s = stats;
  return {
    name: version.model,
    version: version.version,
    last_inference: s?.lastInferenceMs ?? 0,
    inference_count: s?.inferenceCount ?? 0,
    execution_count: s?.executionCount ?? 0,
    inference_stats: {
      success: s ? durationJson(s.success) : ZERO,
      fail: s ? durationJson(s.fail) : ZERO,
      queue: s ? durationJson(s.queue) : ZERO,
      compute_input: s ? durationJson(s.computeInput) : ZERO,
      compute_infer: s ? durationJson(s.computeInfer) : ZERO,
      compute_output: s ? durationJson(s.computeOutput) : ZERO,
      cache_hit: ZERO,
      cache_miss: ZERO,
    },
    batch_stats: (s?.batchSizes() ?? []).map((b) => ({
      batch_size: b.rows,
      compute_input: { count: b.runs, ns: ns(b.inputMs) },
      compute_infer: { count: b.runs, ns: ns(b.inferMs) },
      compute_output: { count: b.runs, ns: ns(b.outputMs) },
    })),
    memory_usage: [],
    response_stats: {},
  };
}

export type IndexState = 'READY' | 'UNAVAILABLE';

/** One entry of `POST /v2/repository/index` (RepositoryIndexResponse.ModelIndex). */
export interface IndexEntry {
  readonly name: string;
  readonly version: string;
  readonly state: IndexState;
  readonly reason: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A body that may be empty (tritonclient sends "" for the index): empty or whitespace is `{}`;
 * otherwise a JSON object, else 400.
 */
export function optionalJsonObject(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CroupierError('invalid_json', 'request body is not valid JSON');
  }
  if (!isObject(value)) throw new CroupierError('invalid_request', 'the body must be a JSON object');
  return value;
}

function onlyKeys(where: string, value: Record<string, unknown>, keys: readonly string[]): void {
  for (const key in value)
    if (!keys.includes(key))
      throw new CroupierError(
        'invalid_request',
        `${where}: unknown key ${JSON.stringify(key.slice(0, 64))} (known: ${keys.join(', ')})`,
      );
}

/** `POST /v2/repository/index` `{"ready": true}`: whether to list ready versions only. */
export function parseIndexRequest(body: Record<string, unknown>): { readyOnly: boolean } {
  onlyKeys('the index request', body, ['ready', 'repository_name']);
  if (body.ready !== undefined && typeof body.ready !== 'boolean')
    throw new CroupierError('invalid_request', '"ready" must be true or false');
  // One repository: any name Triton's clients send ("" or absent) means it.
  if (body.repository_name !== undefined && body.repository_name !== '')
    throw new CroupierError('invalid_request', 'Croupier has one model repository; send no "repository_name"');
  return { readyOnly: body.ready === true };
}

function parameters(where: string, body: unknown): Record<string, unknown> {
  if (!isObject(body)) throw new CroupierError('invalid_request', 'the body must be a JSON object');
  onlyKeys(where, body, ['parameters']);
  if (body.parameters === undefined) return {};
  if (!isObject(body.parameters)) throw new CroupierError('invalid_request', '"parameters" must be an object');
  return body.parameters;
}

/**
 * `POST /v2/repository/models/{m}/load` `{"parameters": {"version": "2"}}`: the version to deploy,
 * undefined for the newest. Triton's `config` and `file:` overrides are refused: a version comes
 * from the repository (or `croupier push`), checked, never from a request body.
 */
export function parseLoadRequest(body: unknown): { version: string | undefined } {
  const p = parameters('the load request', body);
  for (const key in p) {
    if (key === 'config')
      throw new CroupierError(
        'invalid_request',
        'a "config" override is not supported: a version is configured by its model.json; name it with {"parameters": {"version": "<version>"}}',
      );
    if (key.startsWith('file:'))
      throw new CroupierError(
        'invalid_request',
        'model files are not taken in a load request: upload a release (croupier push), then load its version',
      );
  }
  onlyKeys('parameters', p, ['version']);
  const v = p.version;
  if (v === undefined) return { version: undefined };
  if ((typeof v !== 'string' || v === '') && !(Number.isInteger(v) && (v as number) >= 0))
    throw new CroupierError('invalid_request', '"parameters.version" must be a version name such as "2"');
  return { version: String(v) };
}

/** `POST /v2/repository/models/{m}/unload` `{"parameters": {"unload_dependents": false}}` (tritonclient's body). */
export function parseUnloadRequest(body: unknown): void {
  const p = parameters('the unload request', body);
  onlyKeys('parameters', p, ['unload_dependents']);
  if (p.unload_dependents !== undefined && typeof p.unload_dependents !== 'boolean')
    throw new CroupierError('invalid_request', '"parameters.unload_dependents" must be true or false');
}
