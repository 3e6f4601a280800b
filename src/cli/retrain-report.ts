/** What `croupier retrain` prints: the validation table (candidate against live) and the outcome. */
import type { Metrics } from '../retrain/validate-metrics.js';
import type { Validation } from '../retrain/validate.js';

const fixed = (v: number | null, digits = 4): string => (v === null ? 'n/a' : v.toFixed(digits));
const signed = (v: number | null): string => (v === null ? 'n/a' : `${v >= 0 ? '+' : ''}${v.toFixed(4)}`);

/** Lower is better for every metric but AUC. */
export function validationTable(v: Validation, candidateLabel: string): string {
  const rows: [string, (m: Metrics) => number | null, boolean][] = [
    ['AUC', (m) => m.auc, true],
    ['log loss', (m) => m.logLoss, false],
    ['Brier', (m) => m.brier, false],
    ['calibration error (ECE)', (m) => m.calibration.ece, false],
  ];
  const head = ['', candidateLabel, `live (${v.live.version})`, 'difference'];
  const body = rows.map(([name, get]) => {
    const c = get(v.candidate);
    const l = get(v.live);
    return [name, fixed(c), fixed(l), c === null || l === null ? 'n/a' : signed(c - l)];
  });
  const all = [head, ...body];
  const widths = head.map((_, k) => Math.max(...all.map((r) => r[k]!.length)));
  const line = (r: string[]): string =>
    r
      .map((cell, k) => (k === 0 ? cell.padEnd(widths[k]!) : cell.padStart(widths[k]!)))
      .join('  ')
      .trimEnd();
  return (
    `holdout: ${v.holdout.rows} rows, the last 20% by time (${v.holdout.from} to ${v.holdout.to})\n`
    + all.map(line).join('\n')
    + '\n'
  );
}
