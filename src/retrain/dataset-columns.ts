/**
 * The columns of an export, decided from every row before any is written (the export spools the
 * rows first: export.ts): the fixed ones, then one per feature in the order features were first
 * seen, then reward, label and outcomeAt. A feature (or the label) is float64 when every value it
 * takes is a number or a boolean (true = 1), utf8 otherwise; missing values are nulls.
 */
import type { RowJson } from './dataset-row.js';

export type ColumnType = 'utf8' | 'float64' | 'timestamp_ms';
export type ColumnRole =
  | 'id'
  | 'time'
  | 'meta'
  | 'propensity'
  | 'score'
  | 'feature'
  | 'reward'
  | 'label'
  | 'outcome_time';

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly role: ColumnRole;
}

/** A column with how it reads its value from a row. */
export interface ColumnReader extends Column {
  /** The value to write: a number (float64, timestamp_ms), a string (utf8), or null. */
  value(row: RowJson): number | string | null;
}

const HEAD: readonly ColumnReader[] = [
  { name: 'decision', type: 'utf8', role: 'id', value: (r) => r.decision },
  { name: 'at', type: 'timestamp_ms', role: 'time', value: (r) => Date.parse(r.at) },
  { name: 'route', type: 'utf8', role: 'meta', value: (r) => r.route },
  { name: 'arm', type: 'utf8', role: 'meta', value: (r) => r.arm },
  { name: 'model', type: 'utf8', role: 'meta', value: (r) => r.model },
  { name: 'version', type: 'utf8', role: 'meta', value: (r) => r.version },
  { name: 'propensity', type: 'float64', role: 'propensity', value: (r) => r.propensity },
  { name: 'score', type: 'float64', role: 'score', value: (r) => r.score },
];
const FIXED = new Set([...HEAD.map((c) => c.name), 'reward', 'label', 'outcomeAt']);
const PREFIX = 'feature.';

/**
 * The column of feature `name`: its name, or `feature.<name>` when that would be a fixed column's
 * name or itself starts with `feature.` — so that no two columns share a name (features `label`
 * and `feature.label` become `feature.label` and `feature.feature.label`) and a reader maps a
 * column back to its feature by removing one prefix. Export and trainer both use this.
 */
export function featureColumn(name: string): string {
  return FIXED.has(name) || name.startsWith(PREFIX) ? PREFIX + name : name;
}

function asNumber(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return null;
}

function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const isNumeric = (v: unknown): boolean => typeof v === 'number' || typeof v === 'boolean';

/** What the rows seen so far need: their features and whether each (and the label) stays numeric. */
export class DatasetShape {
  rows = 0;
  /** The earliest and latest decision times seen (ms). */
  fromMs = Infinity;
  toMs = -Infinity;
  /** Feature name -> whether every value so far is numeric. */
  private readonly features = new Map<string, boolean>();
  private labelNumeric = true;

  add(row: RowJson): void {
    this.rows++;
    const at = Date.parse(row.at);
    if (at < this.fromMs) this.fromMs = at;
    if (at > this.toMs) this.toMs = at;
    for (const name in row.features) {
      const v = row.features[name];
      const numeric = this.features.get(name);
      const now = v === null || v === undefined || isNumeric(v);
      if (numeric === undefined) this.features.set(name, now);
      else if (numeric && !now) this.features.set(name, false);
    }
    if (row.label !== null && row.label !== undefined && !isNumeric(row.label)) this.labelNumeric = false;
  }

  columns(): ColumnReader[] {
    const features: ColumnReader[] = [...this.features].map(([name, numeric]) => ({
      name: featureColumn(name),
      type: numeric ? 'float64' : 'utf8',
      role: 'feature',
      value: numeric ? (r) => asNumber(r.features[name]) : (r) => asText(r.features[name]),
    }));
    const labelNumeric = this.labelNumeric;
    return [
      ...HEAD,
      ...features,
      { name: 'reward', type: 'float64', role: 'reward', value: (r) => r.reward },
      {
        name: 'label',
        type: labelNumeric ? 'float64' : 'utf8',
        role: 'label',
        value: labelNumeric ? (r) => asNumber(r.label) : (r) => asText(r.label),
      },
      { name: 'outcomeAt', type: 'timestamp_ms', role: 'outcome_time', value: (r) => Date.parse(r.outcomeAt) },
    ];
  }
}

/** A line from the server as a row, or a message saying what is wrong with it. */
export function parseRow(line: string): RowJson | string {
  let r: RowJson;
  try {
    r = JSON.parse(line) as RowJson;
  } catch {
    return 'not JSON';
  }
  if (typeof r !== 'object' || r === null) return 'not an object';
  for (const k of ['decision', 'at', 'route', 'arm', 'model', 'version', 'outcomeAt'] as const)
    if (typeof r[k] !== 'string') return `"${k}" is not a string`;
  if (!Number.isFinite(Date.parse(r.at)) || !Number.isFinite(Date.parse(r.outcomeAt))) return 'a time is not ISO';
  if (typeof r.propensity !== 'number' || typeof r.reward !== 'number') return 'propensity or reward is not a number';
  if (r.score !== null && typeof r.score !== 'number') return '"score" is neither a number nor null';
  if (typeof r.features !== 'object' || r.features === null || Array.isArray(r.features))
    return '"features" is not an object';
  return r;
}
