/**
 * The scoring path without HTTP: Gateway -> router -> batcher -> ONNX Runtime (real, one worker) ->
 * a Responder that records what it is told. Answers, decisions and refusals as http/ would send them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECISION_ID_LENGTH, DecisionIds } from '../../src/feedback/decision-id.js';
import type { DecidedJob, DecisionSink } from '../../src/feedback/decision-log.js';
import { Gateway, type Responder } from '../../src/scoring/gateway.js';
import { InferenceEngine } from '../../src/inference/engine.js';
import { InlineRunner } from '../../src/inference/inline.js';
import { InferencePool } from '../../src/inference/pool.js';
import { Registry } from '../../src/registry/registry.js';
import { type ModelVersion, scanRepository } from '../../src/registry/repository.js';
import { parseRouteSpec } from '../../src/routing/route-spec.js';
import { type ArmChoice, Router } from '../../src/routing/router.js';
import { tinyModel, writeVersion } from '../helpers/onnx.js';

/** What a Responder was told, once. */
type Told =
  | { scored: string; version: string; arm: string }
  | { binary: Buffer; header: number; version: string; arm: string }
  | { failed: Error & { code?: string; status?: number } };

/** A Responder whose answer can be awaited. */
function responder(): Responder & { told: Promise<Told>; settled: boolean } {
  let tell!: (t: Told) => void;
  const r = {
    settled: false,
    started: performance.now(),
    told: new Promise<Told>((resolve) => {
      tell = (t) => {
        r.settled = true;
        resolve(t);
      };
    }),
    scored: (json: string, version: ModelVersion, arm: string) => tell({ scored: json, version: version.key, arm }),
    scoredBinary: (bytes: Buffer, header: number, version: ModelVersion, arm: string) =>
      tell({ binary: bytes, header, version: version.key, arm }),
    failed: (error: unknown) => tell({ failed: error as Error }),
  };
  return r;
}

/** A decision sink that holds every job until the test lets it answer (as Redis mode does). */
class HeldDecisions implements DecisionSink {
  readonly decisions: { id: string; pick: ArmChoice; rows: number; features: unknown; job: DecidedJob }[] = [];
  private waiter: { count: number; resolve: () => void } | undefined;

  decided(id: string, _createdMs: number, pick: ArmChoice, rows: number, features: unknown, job: DecidedJob): void {
    this.decisions.push({ id, pick, rows, features, job });
    if (this.waiter && this.decisions.length >= this.waiter.count) this.waiter.resolve();
  }

  /** Resolves once `count` decisions have arrived. */
  arrived(count: number): Promise<void> {
    if (this.decisions.length >= count) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiter = { count, resolve };
    });
  }
}

let dir: string;
let engine: InferenceEngine;
let gateway: Gateway;
let router: Router;
let registry: Registry;
const ids = new DecisionIds(Buffer.alloc(32, 7));
/** The rows of every batch run, in order. */
const batches: number[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'croupier-gateway-'));
  // y = x + 1 (version 1) and y = x + 2 (version 2, live: the highest without a LIVE file).
  writeVersion(dir, 'm', '1', tinyModel({ bias: 1 }));
  writeVersion(dir, 'm', '2', tinyModel({ bias: 2 }));
  registry = new Registry(scanRepository(dir));
  const observer = {
    batch: (_: ModelVersion, rows: number) => batches.push(rows),
    queueDepth: () => {},
    shed: () => {},
  };
  const pool = new InferencePool({ workers: 1, intraOpThreads: 1 });
  engine = new InferenceEngine(pool, new InlineRunner(), observer, {
    maxBatch: 16,
    batchDelayUs: 0,
    maxQueuedRows: 64,
    inlineMaxUs: 0,
  });
  await Promise.all(registry.allVersions().map((v) => engine.load(v)));
  const lookup = () => 'ok' as const;
  router = new Router(
    registry,
    new Map([
      [
        'live',
        parseRouteSpec('live', { policy: 'fixed', arms: [{ name: 'champion', model: 'm', version: 'live' }] }, lookup),
      ],
      [
        'logged',
        parseRouteSpec(
          'logged',
          { policy: 'fixed', logFeatures: true, arms: [{ name: 'old', model: 'm', version: '1' }] },
          lookup,
        ),
      ],
    ]),
  );
  gateway = new Gateway(registry, router, engine, ids, 8);
}, 60_000);

afterAll(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

function predict(route: string, body: unknown, via = gateway): ReturnType<typeof responder> {
  const r = responder();
  via.predict(router.get(route)!, body, 0, r);
  return r;
}

describe('Gateway.predict', () => {
  it('answers with a decision id, the arm, the live version, its propensity and the outputs', async () => {
    const told = await predict('live', { features: [1, 2, 3, 4] }).told;
    if (!('scored' in told)) throw new Error(`expected an answer, got ${JSON.stringify(told)}`);
    expect(told).toMatchObject({ version: 'm@2', arm: 'champion' });
    expect(JSON.parse(told.scored)).toEqual({
      decision: expect.stringMatching(new RegExp(`^[A-Za-z0-9_-]{${DECISION_ID_LENGTH}}$`)),
      route: 'live',
      arm: 'champion',
      model: 'm',
      version: '2',
      propensity: 1,
      outputs: { y: [[3, 4, 5, 6]] },
    });
  });

  it('gives each of the requests batched together its own rows', async () => {
    // Sent in one turn of the event loop: one batch (batchDelayUs 0) of three requests, four rows.
    const bodies = [
      { features: [0, 0, 0, 1] },
      {
        features: [
          [1, 1, 1, 1],
          [2, 2, 2, 2],
        ],
      },
      { features: [9, 8, 7, 6] },
    ];
    const before = batches.length;
    const answers = await Promise.all(bodies.map(async (b) => (await predict('live', b).told) as { scored: string }));
    expect(batches.slice(before)).toEqual([4]);
    expect(answers.map((a) => JSON.parse(a.scored).outputs.y)).toEqual([
      [[2, 2, 2, 3]],
      [
        [3, 3, 3, 3],
        [4, 4, 4, 4],
      ],
      [[11, 10, 9, 8]],
    ]);
  });

  it('answers once the decision sink lets it, and keeps features only for a route that logs them', async () => {
    const sink = new HeldDecisions();
    const held = new Gateway(registry, router, engine, ids, 8, sink);
    const logged = predict(
      'logged',
      {
        features: [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
        unit: 'u1',
      },
      held,
    );
    const plain = predict('live', { features: [1, 2, 3, 4] }, held);
    await sink.arrived(2);
    expect(logged.settled || plain.settled).toBe(false);
    const of = (route: string) => sink.decisions.find((d) => d.pick.route.name === route)!;
    const [a, b] = [of('logged'), of('live')];
    expect(a).toMatchObject({
      rows: 2,
      features: [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ],
    });
    expect(a.pick).toMatchObject({ arm: { name: 'old' }, propensity: 1 });
    expect(a.pick.version.key).toBe('m@1');
    expect(b).toMatchObject({ rows: 1, features: undefined });
    for (const d of sink.decisions) d.job.answer();
    const answer = JSON.parse(((await logged.told) as { scored: string }).scored);
    expect(answer).toMatchObject({
      decision: a.id,
      version: '1',
      outputs: {
        y: [
          [2, 3, 4, 5],
          [6, 7, 8, 9],
        ],
      },
    });
  });

  it.each([
    ['a body that is not an object', [1, 2, 3, 4], 'invalid_request'],
    ['a row of the wrong size', { features: [1, 2, 3] }, 'invalid_request'],
    ['more rows than maxRows', { features: Array.from({ length: 9 }, () => [1, 2, 3, 4]) }, 'invalid_request'],
  ])('fails %s with a 400, before any decision', async (_, body, code) => {
    const sink = new HeldDecisions();
    const held = new Gateway(registry, router, engine, ids, 8, sink);
    expect(await predict('live', body, held).told).toMatchObject({ failed: { code, status: 400 } });
    expect(sink.decisions).toEqual([]);
  });
});

describe('Gateway.infer and inferRoute', () => {
  const input = (data: number[][]) => ({ inputs: [{ name: 'x', datatype: 'FP32', shape: [data.length, 4], data }] });

  it('answers a model version directly, with no decision and no arm', async () => {
    const r = responder();
    gateway.infer(gateway.version('m', '1'), { id: 'q', ...input([[1, 1, 1, 1]]) }, 0, r);
    const told = (await r.told) as { scored: string; arm: string; version: string };
    expect(told).toMatchObject({ version: 'm@1', arm: '' });
    expect(JSON.parse(told.scored)).toEqual({
      model_name: 'm',
      model_version: '1',
      id: 'q',
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 4], data: [2, 2, 2, 2] }],
    });
  });

  it('answers binary outputs as bytes after the JSON header', async () => {
    const r = responder();
    gateway.infer(
      gateway.version('m', undefined),
      { parameters: { binary_data_output: true }, ...input([[0, 1, 2, 3]]) },
      0,
      r,
    );
    const told = (await r.told) as { binary: Buffer; header: number; version: string };
    expect(told.version).toBe('m@2');
    const tail = told.binary.subarray(told.header);
    expect([...new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.length))]).toEqual([
      2, 3, 4, 5,
    ]);
  });

  it('on a route, the policy picks the arm and the decision travels as parameters', async () => {
    const r = responder();
    gateway.inferRoute(router.get('logged')!, input([[1, 2, 3, 4]]), 0, r);
    const told = (await r.told) as { scored: string; arm: string };
    expect(told.arm).toBe('old');
    expect(JSON.parse(told.scored).parameters).toEqual({
      decision: expect.any(String),
      route: 'logged',
      arm: 'old',
      propensity: 1,
    });
  });

  it('names a missing model or version with its own 404 code', () => {
    expect(() => gateway.version('nope', undefined)).toThrow(
      expect.objectContaining({ code: 'model_not_found', status: 404 }),
    );
    expect(() => gateway.version('m', '3')).toThrow(
      expect.objectContaining({ code: 'version_not_found', status: 404 }),
    );
    expect(gateway.routeRefusal(router.get('live')!)).toBeUndefined();
  });
});
