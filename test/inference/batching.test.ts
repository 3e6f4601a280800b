/**
 * Dynamic batching: rows never mix between requests, and 500 concurrent requests all succeed —
 * with batches run in the workers and on the main thread (CROUPIER_INLINE_MAX_US).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';

describe.each([['workers', '0'], ['inline', '100000']])('batching (%s)', (runs, inlineMaxUs) => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer({ CROUPIER_INLINE_MAX_US: inlineMaxUs }); });
  afterAll(async () => { await t.stop(); });

  const row = (i: number): number[] => Array.from({ length: 32 }, (_, k) => Math.sin(i * 31 + k) * 2);
  const infer = async (i: number, rows = 1): Promise<number[]> => {
    const data = Array.from({ length: rows }, (_, r) => row(i + r * 1000)).flat();
    const res = await postJson(`${t.url}/v2/models/ctr/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 32], data }] });
    expect(res.status).toBe(200);
    return ((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data;
  };

  it('runs where it was told', () => {
    expect(t.server.gateway.engine.isInline('ctr@1')).toBe(runs === 'inline');
  });

  it('the same input gives the same answer alone and among 500 concurrent requests', async () => {
    const alone: number[][] = [];
    for (let i = 0; i < 500; i++) alone.push(await infer(i, 1 + (i % 3)));
    const together = await Promise.all(Array.from({ length: 500 }, (_, i) => infer(i, 1 + (i % 3))));
    expect(together).toEqual(alone);
    // The concurrent run was batched: fewer batches than requests.
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    const count = Number(/croupier_batch_size_count\{model="ctr",version="1"\} (\d+)/.exec(metrics)?.[1]);
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(1000);
  });

  it('500 concurrent one-row predictions all succeed at default settings', async () => {
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => postJson(`${t.url}/v1/predict/fraud-scoring`, { features: row(i), unit: `u${i}` })));
    expect(results.map((r) => r.status)).toEqual(Array(500).fill(200));
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).not.toMatch(/croupier_shed_total\{[^}]*\} [1-9]/);
  });
});
