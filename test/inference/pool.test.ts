/**
 * The worker pool with two real workers: a version is loaded into one worker at a time, and
 * whatever happens to a load (it fails, times out, or its worker exits) every worker ends up
 * serving again, none left set apart from batches.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Piscina } from 'piscina';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InferResult, LoadSpec } from '../../src/inference/messages.js';
import { InferencePool } from '../../src/inference/pool.js';
import { embeddingModel } from '../helpers/onnx.js';

let dir: string;
let file: string;
const pools: InferencePool[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'croupier-pool-'));
  file = join(dir, 'model.onnx');
  writeFileSync(file, embeddingModel(64));
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pool(loadTimeoutMs?: number): InferencePool {
  const p = new InferencePool({ workers: 2, intraOpThreads: 1, loadTimeoutMs });
  pools.push(p);
  return p;
}

/** An embedding lookup: ids [N, 1] -> y [N, 1, 4]; `rowSize` other than 4 fails the warm-up. */
function spec(key: string, rowSize = 4): LoadSpec {
  return { key, file, inputs: [{ name: 'ids', type: 'int64', rowShape: [1] }], outputs: [{ name: 'y', rowSize }] };
}

/** `count` batches at once: with two workers and two slots each, every worker gets some. */
function score(p: InferencePool, key: string, count: number): Promise<InferResult>[] {
  return Array.from({ length: count }, (_, i) =>
    p.run({
      key,
      rows: 1,
      inputs: [{ name: 'ids', type: 'int64', dims: [1, 1], data: new BigInt64Array([BigInt(i)]) }],
    }),
  );
}

/** With three batches in flight there is still a free slot: no worker is kept from batches. */
async function expectBothWorkersTakeBatches(p: InferencePool, key: string): Promise<void> {
  const running = score(p, key, 3);
  expect(p.hasCapacity()).toBe(true);
  await Promise.allSettled(running);
}

describe('InferencePool with two workers', () => {
  it("loads a version into every worker, with the fastest one's timing, and serves it from both", async () => {
    const p = pool();
    const timing = await p.load(spec('embed:1'), 8);
    expect(timing!.loadMs).toBeGreaterThanOrEqual(0);
    expect(timing!.batchUs).toBeGreaterThan(0);
    const results = await Promise.all(score(p, 'embed:1', 8));
    expect(results.map((r) => r.outputs[0]!.dims)).toEqual(Array(8).fill([1, 1, 4]));
    await expectBothWorkersTakeBatches(p, 'embed:1');
  });

  it('loads versions asked for at once, each in every worker', async () => {
    const p = pool();
    await Promise.all(['a:1', 'b:1', 'c:1'].map((key) => p.load(spec(key))));
    for (const key of ['a:1', 'b:1', 'c:1']) await Promise.all(score(p, key, 6));
  });

  it('refuses a version that fails its warm-up, and keeps serving the others', async () => {
    const p = pool();
    await p.load(spec('good:1'));
    await expect(p.load(spec('bad:1', 5))).rejects.toThrow(/warm-up: output "y" .* expected 5 values per row/);
    await p.load(spec('good:2'));
    await Promise.all(score(p, 'good:1', 6));
    await Promise.all(score(p, 'good:2', 6));
    await expectBothWorkersTakeBatches(p, 'good:1');
  });

  it('refuses a load that times out, and leaves no worker kept from batches', async () => {
    const p = pool(1);
    // Once piscina has announced both workers, a load's turn keeps its worker from batches.
    await new Promise((r) => setImmediate(r));
    await expect(p.load(spec('slow:1'))).rejects.toThrow('loading slow:1 timed out after 1 ms');
    await expectBothWorkersTakeBatches(p, 'slow:1');
  });

  it('a worker that exits while a load is under way: the load completes, and its replacement gets the version', async () => {
    const p = pool();
    await p.load(spec('warm:1'));
    const piscina = (p as unknown as { piscina: Piscina }).piscina;
    const replaced = once(piscina, 'workerCreate');
    const loading = p.load(spec('embed:2'));
    // The first worker has its turn; the second waits for its own, idle. (A worker terminated while
    // ONNX Runtime works in it can abort the whole process: onnxruntime-node throws into a dead thread.)
    await piscina.threads[1]!.terminate();
    await loading;
    await replaced;
    for (const key of ['warm:1', 'embed:2']) {
      const results = await Promise.all(score(p, key, 8));
      expect(results).toHaveLength(8);
    }
    await expectBothWorkersTakeBatches(p, 'embed:2');
  });
});
