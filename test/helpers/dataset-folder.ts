/**
 * Writes an export folder as `croupier export` does (the agreed format: docs/retraining.md) —
 * part files in Arrow IPC file format or CSV, then dataset.json — for the retrain tests and bench.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeVector, Table, tableToIPC, TimestampMillisecond, Utf8, vectorFromArray, type Vector } from 'apache-arrow';

export interface Row {
  decision: string;
  atMs: number;
  arm: string;
  model: string;
  version: string;
  propensity: number;
  score: number | null;
  features: Record<string, number | string | null>;
  reward: number;
  label: number | string | boolean | null;
  outcomeAtMs: number;
}

export interface FolderOptions {
  format?: 'arrow' | 'csv';
  route?: string;
  /** Rows per part file (default: all in one). */
  rowsPerFile?: number;
  /** Rows per Arrow record batch (default 65,536). */
  batchRows?: number;
}

type Column = { name: string; type: 'utf8' | 'float64' | 'timestamp_ms'; role: string; get: (r: Row) => unknown };

function columnsOf(rows: readonly Row[], route: string): Column[] {
  const featureNames = [...new Set(rows.flatMap((r) => Object.keys(r.features)))];
  const fixed = new Set([
    'decision',
    'at',
    'route',
    'arm',
    'model',
    'version',
    'propensity',
    'score',
    'reward',
    'label',
    'outcomeAt',
  ]);
  const numericLabel = rows.every((r) => r.label === null || typeof r.label !== 'string');
  return [
    { name: 'decision', type: 'utf8', role: 'id', get: (r) => r.decision },
    { name: 'at', type: 'timestamp_ms', role: 'time', get: (r) => r.atMs },
    { name: 'route', type: 'utf8', role: 'meta', get: () => route },
    { name: 'arm', type: 'utf8', role: 'meta', get: (r) => r.arm },
    { name: 'model', type: 'utf8', role: 'meta', get: (r) => r.model },
    { name: 'version', type: 'utf8', role: 'meta', get: (r) => r.version },
    { name: 'propensity', type: 'float64', role: 'propensity', get: (r) => r.propensity },
    { name: 'score', type: 'float64', role: 'score', get: (r) => r.score },
    ...featureNames.map(
      (f): Column => ({
        name: fixed.has(f) || f.startsWith('feature.') ? `feature.${f}` : f,
        type: rows.some((r) => typeof r.features[f] === 'string') ? 'utf8' : 'float64',
        role: 'feature',
        get: (r) => r.features[f] ?? null,
      }),
    ),
    { name: 'reward', type: 'float64', role: 'reward', get: (r) => r.reward },
    {
      name: 'label',
      type: numericLabel ? 'float64' : 'utf8',
      role: 'label',
      get: (r) => (r.label === null ? null : numericLabel ? Number(r.label) : String(r.label)),
    },
    { name: 'outcomeAt', type: 'timestamp_ms', role: 'outcome_time', get: (r) => r.outcomeAtMs },
  ];
}

function arrowBytes(rows: readonly Row[], columns: Column[], batchRows: number): Uint8Array {
  let table: Table | undefined;
  for (let start = 0; start < rows.length || (start === 0 && !table); start += batchRows) {
    const chunk = rows.slice(start, start + batchRows);
    const vectors: Record<string, Vector> = {};
    for (const c of columns) {
      const values = chunk.map(c.get);
      if (c.type === 'timestamp_ms')
        vectors[c.name] = makeVector({
          type: new TimestampMillisecond(),
          data: BigInt64Array.from(values, (v) => BigInt(v as number)),
        });
      else if (c.type === 'utf8') vectors[c.name] = vectorFromArray(values as (string | null)[], new Utf8());
      else vectors[c.name] = vectorFromArray(values as (number | null)[]);
    }
    const t = new Table(vectors);
    table = table ? table.concat(t) : t;
    if (rows.length === 0) break;
  }
  return tableToIPC(table!, 'file');
}

const csvField = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) || s === '' ? `"${s.replaceAll('"', '""')}"` : s;
};

function csvBytes(rows: readonly Row[], columns: Column[]): Buffer {
  const lines = [columns.map((c) => csvField(c.name)).join(',')];
  for (const r of rows)
    lines.push(
      columns
        .map((c) => {
          const v = c.get(r);
          return csvField(c.type === 'timestamp_ms' ? new Date(v as number).toISOString() : v);
        })
        .join(','),
    );
  return Buffer.from(lines.join('\r\n') + '\r\n');
}

export function writeDatasetFolder(dir: string, rows: readonly Row[], o: FolderOptions = {}): string {
  const format = o.format ?? 'arrow';
  const route = o.route ?? 'fraud-scoring';
  mkdirSync(dir, { recursive: true });
  const columns = columnsOf(rows, route);
  const perFile = Math.max(1, o.rowsPerFile ?? rows.length);
  const files: { name: string; rows: number; bytes: number; sha256: string }[] = [];
  for (let start = 0, k = 0; start < rows.length || k === 0; start += perFile, k++) {
    const chunk = rows.slice(start, start + perFile);
    const name = `part-${String(k).padStart(5, '0')}.${format}`;
    const bytes = format === 'arrow' ? arrowBytes(chunk, columns, o.batchRows ?? 65_536) : csvBytes(chunk, columns);
    writeFileSync(join(dir, name), bytes);
    files.push({
      name,
      rows: chunk.length,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    if (rows.length === 0) break;
  }
  let from = Infinity;
  let to = -Infinity;
  for (const r of rows) {
    from = Math.min(from, r.atMs);
    to = Math.max(to, r.atMs);
  }
  const iso = (ms: number): string => new Date(Number.isFinite(ms) ? ms : 0).toISOString();
  const manifest = {
    format,
    route,
    rows: rows.length,
    from: iso(from),
    to: iso(to),
    createdAt: new Date().toISOString(),
    columns: columns.map(({ name, type, role }) => ({ name, type, role })),
    files,
    sha256: createHash('sha256')
      .update(files.map((f) => f.sha256).join(''))
      .digest('hex'),
  };
  writeFileSync(join(dir, 'dataset.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}
