// Command-line options for bench/run.ts.
import { parseArgs } from 'node:util';

export const TARGET_NAMES = ['ceiling', 'peer', 'croupier', 'baseline'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface BenchOptions {
  rounds: number;
  durationS: number;
  only: TargetName[];
  write: boolean;
  urlPath: string;
  connections: number;
  /** A checkout of older Croupier code (with node_modules), run as the `baseline` target. */
  baseline: string | undefined;
}

export const USAGE = `usage: npm run bench -- [options]
  --rounds N          interleaved wrk rounds per target (default 3)
  --duration S        seconds per wrk run and per fixed-rate run (default 6)
  --only a,b          targets, from ${TARGET_NAMES.join(',')} (default ceiling,peer,croupier)
  --no-write          print only; do not rewrite bench/RESULTS.md
  --url-path P        request path for every target (default /v1/predict/fraud-scoring)
  --connections N     concurrent connections (default 64)
  --baseline DIR      also run the Croupier in DIR (another checkout, npm ci'd) as target
                      'baseline', interleaved with the rest: a before/after in one run`;

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${raw}'`);
  return n;
}

function isTargetName(s: string): s is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(s);
}

export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '6' },
      only: { type: 'string', default: 'ceiling,peer,croupier' },
      'no-write': { type: 'boolean', default: false },
      'url-path': { type: 'string', default: '/v1/predict/fraud-scoring' },
      connections: { type: 'string', default: '64' },
      baseline: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const only: TargetName[] = [];
  const names = values.only.split(',');
  if (values.baseline !== undefined) names.push('baseline');
  for (const name of names.map((s) => s.trim()).filter((s) => s !== '')) {
    if (!isTargetName(name)) throw new Error(`--only: unknown target '${name}' (known: ${TARGET_NAMES.join(', ')})`);
    if (!only.includes(name)) only.push(name);
  }
  if (only.length === 0) throw new Error('--only: no targets');
  if (only.includes('baseline') && values.baseline === undefined)
    throw new Error('--only baseline needs --baseline DIR');
  only.sort((a, b) => TARGET_NAMES.indexOf(a) - TARGET_NAMES.indexOf(b)); // rounds always interleave in this order
  const urlPath = values['url-path'];
  if (!urlPath.startsWith('/')) throw new Error(`--url-path must start with '/', got '${urlPath}'`);
  return {
    rounds: positiveInt('rounds', values.rounds),
    durationS: positiveInt('duration', values.duration),
    only,
    write: !values['no-write'],
    urlPath,
    connections: positiveInt('connections', values.connections),
    baseline: values.baseline,
  };
}
