// A named section of bench/RESULTS.md between <!-- bench:NAME:start --> and <!-- bench:NAME:end -->:
// replaced in place when present, appended otherwise, so every other section is kept.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function writeSection(file: string, name: string, body: string, intro = '# Croupier benchmarks\n'): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : intro;
  const a = current.indexOf(start);
  const b = current.indexOf(end);
  const next =
    a >= 0 && b > a
      ? current.slice(0, a) + section + current.slice(b + end.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}

export function mdTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export const int = (x: number | null | undefined): string =>
  x == null ? 'n/a' : Math.round(x).toLocaleString('en-US');
export const fixed = (x: number | null | undefined, d = 2): string => (x == null ? 'n/a' : x.toFixed(d));
