/**
 * Arrow parts read back with apache-arrow equal what went in, across more than one record batch:
 * nulls where a feature is missing, booleans as 1 and 0, times to the millisecond.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, expect, it } from 'vitest';
import { DatasetShape } from '../../src/retrain/dataset-columns.js';
import type { RowJson } from '../../src/retrain/dataset-row.js';
import { ArrowPart, BATCH_ROWS } from '../../src/retrain/part-writers.js';

const dir = mkdtempSync(join(tmpdir(), 'croupier-parts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T = Date.parse('2026-06-01T00:00:00.000Z');
function row(i: number): RowJson {
  return {
    decision: `d${i}`,
    at: new Date(T + i).toISOString(),
    route: 'r',
    arm: i % 3 === 0 ? 'a' : 'b',
    model: 'm',
    version: '1',
    propensity: 0.25,
    score: i % 7 === 0 ? null : i / 1000,
    features: i % 5 === 0 ? { x: i * 0.5 } : { x: i * 0.5, y: i % 2 === 0 },
    reward: i % 2,
    label: i % 11 === 0 ? null : i % 2 === 0,
    outcomeAt: new Date(T + i + 60_000).toISOString(),
  };
}

it('writes batches of at most 65,536 rows that read back equal, nulls and all', async () => {
  const n = BATCH_ROWS + 1000;
  const shape = new DatasetShape();
  for (let i = 0; i < n; i++) shape.add(row(i));
  const part = await ArrowPart.create(join(dir, 'p.arrow'), 'p.arrow', shape.columns());
  for (let i = 0; i < n; i++) await part.add(row(i));
  const file = await part.finish();
  expect(file.rows).toBe(n);
  const table = tableFromIPC(readFileSync(join(dir, 'p.arrow')));
  expect(table.batches.map((b) => b.numRows)).toEqual([BATCH_ROWS, 1000]);
  for (const i of [0, 1, 2, 5, 7, 11, 22, BATCH_ROWS - 1, BATCH_ROWS, BATCH_ROWS + 5, n - 1]) {
    const got = table.get(i)!.toJSON() as Record<string, unknown>;
    const r = row(i);
    expect(got.decision).toBe(r.decision);
    expect(got.at).toBe(Date.parse(r.at));
    expect(got.outcomeAt).toBe(Date.parse(r.outcomeAt));
    expect(got.arm).toBe(r.arm);
    expect(got.score).toBe(r.score);
    expect(got.x).toBe(r.features.x);
    expect(got.y).toBe(r.features.y === undefined ? null : r.features.y ? 1 : 0);
    expect(got.label).toBe(r.label === null ? null : r.label ? 1 : 0);
  }
});
