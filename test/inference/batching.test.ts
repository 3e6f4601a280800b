/**
 * Dynamic batching: concurrent requests share batches, rows never mix between them, and 500
 * concurrent requests all succeed — with batches run in the workers and on the main thread
 * (CROUPIER_INLINE_MAX_US).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';

describe.each([
  ['workers', '0'],
  ['inline', '100000'],
])('batching (%s)', (runs, inlineMaxUs) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_INLINE_MAX_US: inlineMaxUs });
  });
  afterAll(async () => {
    await t.stop();
  });

  const row = (i: number): number[] => Array.from({ length: 32 }, (_, k) => Math.sin(i * 31 + k) * 2);
  const infer = async (i: number, rows = 1): Promise<number[]> => {
    const data = Array.from({ length: rows }, (_, r) => row(i + r * 1000)).flat();
    const res = await postJson(`${t.url}/v2/models/ctr/infer`, {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 32], data }],
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data;
  };

  it('runs where it was told', () => {
    expect(t.server.gateway.engine.isInline('ctr@1')).toBe(runs === 'inline');
  });

  /** Batches run for ctr@1 so far, and the rows they held, from /metrics. */
  const batches = async (): Promise<{ count: number; rows: number }> => {
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    const series = (name: string): number => {
      const line = new RegExp(`croupier_batch_size_${name}\\{model="ctr",version="1"\\} (\\d+)`).exec(metrics);
      return Number(line?.[1] ?? 0);
    };
    return { count: series('count'), rows: series('sum') };
  };

  it('the same input gives the same answer alone and among 500 concurrent requests, which share batches', async () => {
    const rowsOf = (i: number): number => 1 + (i % 3);
    const totalRows = Array.from({ length: 500 }, (_, i) => rowsOf(i)).reduce((a, b) => a + b, 0);
    const before = await batches();
    const alone: number[][] = [];
    for (let i = 0; i < 500; i++) alone.push(await infer(i, rowsOf(i)));
    const between = await batches();
    const together = await Promise.all(Array.from({ length: 500 }, (_, i) => infer(i, rowsOf(i))));
    const after = await batches();
    expect(together).toEqual(alone);
    // One at a time, each request is a batch of its own; every row is counted once.
    expect(between).toEqual({ count: before.count + 500, rows: before.rows + totalRows });
    // Concurrent, they share batches: at least two requests a batch on average, and no row lost or doubled.
    expect(after.rows - between.rows).toBe(totalRows);
    expect(after.count - between.count).toBeLessThanOrEqual(250);
  });

  it('500 concurrent one-row predictions all succeed at default settings', async () => {
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        postJson(`${t.url}/v1/predict/fraud-scoring`, { features: row(i), unit: `u${i}` }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(500).fill(200));
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).not.toMatch(/croupier_shed_total\{[^}]*\} [1-9]/);
  });
});
