/**
 * The two halves of the loop agree on dataset.json: what `croupier export` writes (retrain/export.ts,
 * from the rows as the server streams them) is what `croupier retrain` reads (train-dataset.ts,
 * train-examples.ts), in Arrow and in CSV — the sha256 that names the dataset, `from`/`to`, labels
 * whichever type their column got, and features whose names collide with the fixed columns.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '../../src/registry/manifest.js';
import { rowLine, type TrainingRow } from '../../src/retrain/dataset-row.js';
import { exportRows, type ExportFormat } from '../../src/retrain/export.js';
import { DatasetError, readDataset } from '../../src/retrain/train-dataset.js';
import { examples, type Examples } from '../../src/retrain/train-examples.js';

const work = mkdtempSync(join(tmpdir(), 'croupier-export-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const FORMATS: ExportFormat[] = ['arrow', 'csv'];
const T0 = Date.UTC(2026, 11, 1);

function manifest(featureNames: string[], positive: number | string | boolean): Manifest {
  return parseManifest(
    {
      name: 'scorer',
      version: '1',
      sha256: '0'.repeat(64),
      created: '2026-01-01T00:00:00Z',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, featureNames.length], featureNames }],
      outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
      monitor: { score: 'probability', threshold: 0.5, positive },
    },
    'scorer',
    '1',
  );
}

/** `n` rows as the server keeps them, decided a minute apart (in shuffled order, as outcomes arrive). */
function rows(
  n: number,
  features: (i: number) => Record<string, unknown>,
  label: (i: number) => unknown,
): TrainingRow[] {
  const out: TrainingRow[] = [];
  for (let i = 0; i < n; i++) {
    const atMs = T0 + ((i * 37) % n) * 60_000;
    out.push({
      decision: `d${i}`,
      atMs,
      route: 'r',
      arm: 'champion',
      model: 'scorer',
      version: '1',
      propensity: 1,
      score: 0.5,
      features: features(i),
      reward: 0,
      label: label(i),
      outcomeAtMs: atMs + 1000,
    });
  }
  return out;
}

async function* linesOf(r: readonly TrainingRow[]): AsyncGenerator<string> {
  for (const row of r) yield rowLine(row);
}

let folders = 0;
async function exported(r: readonly TrainingRow[], format: ExportFormat): Promise<string> {
  const dir = join(work, `e${folders++}`);
  await exportRows(linesOf(r), { route: 'r', dir, format, sinceMs: T0 });
  return dir;
}

/** The decisions the trainer sees as positive. */
function positives(ex: Examples, decisionOf: (i: number) => string): string[] {
  return [...ex.train, ...ex.holdout].filter((i) => ex.positive[i] === 1).map(decisionOf);
}

describe('export and trainer agree on dataset.json', () => {
  const plain = rows(
    200,
    (i) => ({ x: i % 7, y: (i * 3) % 11 }),
    (i) => i % 2,
  );

  it("names the dataset by the sha256 of its files' sha256; one that does not match is refused", async () => {
    for (const format of FORMATS) {
      const dir = await exported(plain, format);
      const d = readDataset(dir);
      expect(d.rows).toBe(200);
      // `from`/`to` are the decision times of the earliest and latest rows, whatever their order.
      expect(d.manifest.from).toBe(new Date(T0).toISOString());
      expect(d.manifest.to).toBe(new Date(T0 + 199 * 60_000).toISOString());
      const at = d.values.get('at') as Float64Array;
      expect(Math.min(...at)).toBe(T0);
      expect(Math.max(...at)).toBe(T0 + 199 * 60_000);
      // A dataset.json whose sha256 was edited no longer names these files.
      const file = join(dir, 'dataset.json');
      const m = JSON.parse(readFileSync(file, 'utf8')) as { sha256: string };
      writeFileSync(file, JSON.stringify({ ...m, sha256: 'f'.repeat(64) }));
      expect(() => readDataset(dir)).toThrow(DatasetError);
      expect(() => readDataset(dir)).toThrow(/sha256 is not the sha256 of the files' sha256/);
    }
  });

  it('reads a label the same whether its column is float64 or utf8 (booleans are 1/0, numbers their JSON text)', async () => {
    // 0, 1, false, true, repeated; the second dataset has text labels too, which make the column utf8.
    const label = (i: number): unknown => [0, 1, false, true][i % 4];
    const texted = (i: number): boolean => i % 10 === 9;
    const numeric = rows(200, (i) => ({ x: i % 7, y: i % 5 }), label);
    const mixed = rows(
      200,
      (i) => ({ x: i % 7, y: i % 5 }),
      (i) => (texted(i) ? 'chargeback' : label(i)),
    );
    for (const format of FORMATS) {
      const a = readDataset(await exported(numeric, format));
      const b = readDataset(await exported(mixed, format));
      expect(a.manifest.columns.find((c) => c.role === 'label')!.type).toBe('float64');
      expect(b.manifest.columns.find((c) => c.role === 'label')!.type).toBe('utf8');
      const decision = (d: typeof a) => (i: number) => (d.values.get('decision') as string[])[i]!;
      for (const positive of [1, true, 0, false]) {
        const pa = positives(examples(a, manifest(['x', 'y'], positive)), decision(a));
        const pb = positives(examples(b, manifest(['x', 'y'], positive)), decision(b));
        expect(pa).toHaveLength(100);
        expect(pb.sort(), `${format}, positive ${String(positive)}`).toEqual(
          pa.filter((d) => !texted(Number(d.slice(1)))).sort(),
        );
      }
      // A text positive matches text labels only.
      const chargeback = positives(examples(b, manifest(['x', 'y'], 'chargeback')), decision(b));
      expect(chargeback.sort()).toEqual(
        mixed
          .filter((r) => r.label === 'chargeback')
          .map((r) => r.decision)
          .sort(),
      );
    }
  });

  it('an empty text label is a label (not a null) in CSV as in Arrow', async () => {
    const r = rows(
      200,
      (i) => ({ x: i % 7, y: i % 5 }),
      (i) => (i === 0 ? '' : i % 3 === 0 ? 'yes' : 'no'),
    );
    for (const format of FORMATS) {
      const d = readDataset(await exported(r, format));
      expect((d.values.get('label') as (string | null)[]).filter((v) => v === '')).toHaveLength(1);
      expect(examples(d, manifest(['x', 'y'], 'yes')).skipped, format).toBe(0);
    }
  });

  it('reads features named like fixed columns, or like their renamed columns, each from its own column', async () => {
    // `score` and `label` collide with fixed columns; `feature.label` with what `label` is renamed to.
    const names = ['score', 'label', 'feature.label', 'at', 'x'];
    const r = rows(
      200,
      (i) => Object.fromEntries(names.map((n, k) => [n, i * 10 + k])),
      (i) => i % 2,
    );
    for (const format of FORMATS) {
      const d = readDataset(await exported(r, format));
      const columns = d.manifest.columns.map((c) => c.name);
      expect(new Set(columns).size).toBe(columns.length);
      expect(d.manifest.columns.filter((c) => c.role === 'feature').map((c) => c.name)).toEqual([
        'feature.score',
        'feature.label',
        'feature.feature.label',
        'feature.at',
        'x',
      ]);
      const ex = examples(d, manifest(names, 1));
      const decision = d.values.get('decision') as string[];
      names.forEach((_, k) => {
        for (const i of ex.train)
          expect(ex.columns[k]![i], `${format} ${names[k]}`).toBe(Number(decision[i]!.slice(1)) * 10 + k);
      });
      // The fixed columns keep the row's own values.
      expect((d.values.get('score') as Float64Array)[0]).toBe(0.5);
    }
  });
});
