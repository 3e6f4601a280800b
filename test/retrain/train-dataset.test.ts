import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/registry/manifest.js';
import { DatasetError, readDataset } from '../../src/retrain/train-dataset.js';
import { examples, modelFeatures } from '../../src/retrain/train-examples.js';
import { parseCsv } from '../../src/retrain/train-csv.js';
import { writeDatasetFolder, type Row } from '../helpers/dataset-folder.js';
import { DriftingWorld } from '../helpers/drifting-world.js';

const work = mkdtempSync(join(tmpdir(), 'croupier-dataset-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const features = ['f00', 'f01', 'f02', 'f03'];
const live = parseManifest(
  {
    name: 'scorer',
    version: '1',
    sha256: '0'.repeat(64),
    created: '2026-01-01T00:00:00Z',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 4], featureNames: features }],
    outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
    monitor: { score: 'probability', threshold: 0.5, positive: 1 },
  },
  'scorer',
  '1',
);

describe('reading an export folder', () => {
  const rows = new DriftingWorld({ width: 4 }).rows(0, 700);
  // One row with text that CSV must quote, a null score and a missing label.
  rows[3]!.arm = 'a "quoted", arm\nwith a newline';
  rows[5]!.label = null;

  it('reads the same values from Arrow (several files and record batches) and CSV', () => {
    const arrow = readDataset(writeDatasetFolder(join(work, 'arrow'), rows, { rowsPerFile: 300, batchRows: 128 }));
    const csv = readDataset(writeDatasetFolder(join(work, 'csv'), rows, { format: 'csv', rowsPerFile: 250 }));
    for (const d of [arrow, csv]) {
      expect(d.rows).toBe(700);
      expect(d.values.get('arm')![3]).toBe(rows[3]!.arm);
      expect(Number.isNaN((d.values.get('label') as Float64Array)[5])).toBe(true);
      expect((d.values.get('at') as Float64Array)[699]).toBe(rows[699]!.atMs);
      expect(Array.from(d.values.get('f02') as Float64Array)).toEqual(rows.map((r) => r.features.f02));
      expect(Number.isNaN((d.values.get('score') as Float64Array)[0])).toBe(true);
    }
  });

  it('splits by time: the holdout is the most recent 20% of the usable rows', () => {
    const shuffled = [...rows].reverse();
    const ex = examples(readDataset(writeDatasetFolder(join(work, 'shuffled'), shuffled)), live);
    expect(ex.skipped).toBe(1);
    expect(ex.train.length + ex.holdout.length).toBe(699);
    expect(ex.holdout.length).toBe(140);
    const lastTrain = Math.max(...Array.from(ex.train, (i) => ex.atMs[i]!));
    expect(Math.min(...Array.from(ex.holdout, (i) => ex.atMs[i]!))).toBeGreaterThan(lastTrain);
  });

  it('says what is wrong: no dataset.json, a changed file, too few rows, one class, text features', () => {
    const dir = writeDatasetFolder(join(work, 'broken'), rows.slice(0, 200));
    expect(() => readDataset(join(work, 'nowhere'))).toThrow(/no dataset.json/);
    writeFileSync(join(dir, 'part-00000.arrow'), 'not arrow');
    expect(() => readDataset(dir)).toThrow(/does not match its sha256/);
    const few = readDataset(writeDatasetFolder(join(work, 'few'), rows.slice(0, 60)));
    expect(() => examples(few, live)).toThrow(/has 60 rows: at least 100/);
    const unlabelled = rows.slice(0, 150).map((r, i) => ({ ...r, label: i < 60 ? null : r.label }));
    expect(() => examples(readDataset(writeDatasetFolder(join(work, 'unlabelled'), unlabelled)), live)).toThrow(
      /90 usable rows \(a label and every feature; 150 in all\): at least 100/,
    );
    const empty = readDataset(writeDatasetFolder(join(work, 'empty'), []));
    expect(() => examples(empty, live)).toThrow(DatasetError);
    const oneClass = rows.slice(0, 300).map((r) => ({ ...r, label: 0 }));
    expect(() => examples(readDataset(writeDatasetFolder(join(work, 'one-class'), oneClass)), live)).toThrow(
      /0 positive/,
    );
    const text: Row[] = rows.slice(0, 300).map((r) => ({ ...r, features: { ...r.features, f01: 'x' } }));
    expect(() => examples(readDataset(writeDatasetFolder(join(work, 'text'), text)), live)).toThrow(
      /feature "f01" is text/,
    );
    const strings = parseManifest(
      {
        ...live,
        inputs: [{ name: 'country', datatype: 'BYTES', shape: [-1, 1], featureNames: ['country'] }],
      },
      'scorer',
      '1',
    );
    expect(() => modelFeatures(strings)).toThrow(/FP32 \(numeric\) features only/);
  });

  it('parses RFC 4180: quotes, doubled quotes, CRLF, empty versus quoted-empty fields', () => {
    expect(parseCsv('a,b,c\r\n"x,1","say ""hi""",\r\n"",2,"l1\nl2"\r\n')).toEqual([
      ['a', 'b', 'c'],
      ['x,1', 'say "hi"', null],
      ['', '2', 'l1\nl2'],
    ]);
    expect(() => parseCsv('a\n"open')).toThrow(/never closed/);
  });
});
