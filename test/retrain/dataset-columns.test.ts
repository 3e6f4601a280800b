/** The columns an export decides from its rows: types, the label's kind, names that collide. */
import { describe, expect, it } from 'vitest';
import { DatasetShape, parseRow } from '../../src/retrain/dataset-columns.js';
import type { RowJson } from '../../src/retrain/dataset-row.js';

const base = {
  decision: 'd',
  at: '2026-06-01T00:00:00.000Z',
  route: 'r',
  arm: 'a',
  model: 'm',
  version: '1',
  propensity: 0.5,
  score: null,
  reward: 1,
  outcomeAt: '2026-06-01T00:01:00.000Z',
};
const row = (features: Record<string, unknown>, label: unknown): RowJson => ({ ...base, features, label });

describe('DatasetShape', () => {
  it('makes numeric and boolean values float64 (true = 1), anything else utf8, missing ones null', () => {
    const shape = new DatasetShape();
    const rows = [row({ x: 1.5, flag: true, kind: 'a' }, true), row({ x: 2, flag: false, kind: 3, late: 7 }, 0)];
    for (const r of rows) shape.add(r);
    const cols = shape.columns();
    const by = (n: string) => cols.find((c) => c.name === n)!;
    expect(cols.map((c) => c.name)).toEqual([
      'decision',
      'at',
      'route',
      'arm',
      'model',
      'version',
      'propensity',
      'score',
      'x',
      'flag',
      'kind',
      'late',
      'reward',
      'label',
      'outcomeAt',
    ]);
    expect([by('x').type, by('flag').type, by('kind').type, by('label').type]).toEqual([
      'float64',
      'float64',
      'utf8',
      'float64',
    ]);
    expect(rows.map((r) => by('flag').value(r))).toEqual([1, 0]);
    expect(rows.map((r) => by('kind').value(r))).toEqual(['a', '3']);
    expect(rows.map((r) => by('late').value(r))).toEqual([null, 7]);
    expect(rows.map((r) => by('label').value(r))).toEqual([1, 0]);
    expect(by('at').value(rows[0]!)).toBe(Date.parse(base.at));
  });

  it('writes a label as text once any label is text, and renames features named like a fixed column', () => {
    const shape = new DatasetShape();
    shape.add(row({ reward: 3, label: 1, arm: 'x' }, 'fraud'));
    shape.add(row({ reward: 4 }, null));
    const cols = shape.columns();
    expect(cols.filter((c) => c.role === 'feature').map((c) => c.name)).toEqual([
      'feature.reward',
      'feature.label',
      'feature.arm',
    ]);
    const label = cols.find((c) => c.role === 'label')!;
    expect(label.type).toBe('utf8');
    expect(label.value(row({}, 'fraud'))).toBe('fraud');
    expect(label.value(row({}, null))).toBeNull();
    expect(shape.fromMs).toBe(Date.parse(base.at));
  });

  it('says what is wrong with a line that is not a row', () => {
    expect(parseRow('{')).toBe('not JSON');
    expect(parseRow(JSON.stringify({ ...base, features: [] }))).toBe('"features" is not an object');
    expect(parseRow(JSON.stringify({ ...base, at: 'yesterday', features: {} }))).toBe('a time is not ISO');
    expect(parseRow(JSON.stringify({ ...base, reward: '1', features: {} }))).toMatch(/not a number/);
  });
});
