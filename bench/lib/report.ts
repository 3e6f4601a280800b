// Summaries, the console table, and the bench/RESULTS.md section.
import { writeSection } from './sections.js';
import type { BenchOptions, TargetName } from './args.js';
import type { Probe } from './children.js';
import type { CpuUsage } from './cpu.js';
import type { FixedRateResult } from './fixedrate.js';
import { socketErrorTotal, type WrkResult } from './wrk.js';

export interface RunRecord {
  round: number;
  wrk: WrkResult;
  cpu: CpuUsage;
}

export interface TargetOutcome {
  name: TargetName;
  /** Why it was not (fully) measured; null when every run went through. */
  problem: string | null;
  probe: Probe | null;
  runs: RunRecord[];
  fixedRate: FixedRateResult | null;
  /** OS threads of the server after the wrk rounds. */
  threads: number | null;
}

export interface BenchReport {
  options: BenchOptions;
  command: string;
  date: Date;
  node: string;
  cpuModel: string;
  cores: number;
  outcomes: TargetOutcome[];
  fixedRateBasis: string;
  notes: string[];
}

export interface Summary {
  name: TargetName;
  runs: number;
  medianRps: number | null;
  medianP99Ms: number | null;
  non2xx: number;
  socketErrors: number;
  serverCores: number | null;
  machineBusy: number | null;
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function nonNull(xs: readonly (number | null)[]): number[] {
  return xs.filter((x): x is number => x !== null);
}

export function summarize(o: TargetOutcome): Summary {
  return {
    name: o.name,
    runs: o.runs.length,
    medianRps: median(o.runs.map((r) => r.wrk.requestsPerSec)),
    medianP99Ms: median(nonNull(o.runs.map((r) => r.wrk.p99Ms))),
    non2xx: o.runs.reduce((a, r) => a + r.wrk.non2xx, 0),
    socketErrors: o.runs.reduce((a, r) => a + socketErrorTotal(r.wrk), 0),
    serverCores: median(nonNull(o.runs.map((r) => r.cpu.serverCores))),
    machineBusy: median(nonNull(o.runs.map((r) => r.cpu.machineBusy))),
  };
}

export function ratio(a: number | null | undefined, b: number | null | undefined): string {
  return a == null || b == null || b === 0 ? 'n/a' : (a / b).toFixed(2);
}

const int = (x: number | null): string => (x === null ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const ms = (x: number | null | undefined): string => (x == null ? 'n/a' : `${x.toFixed(2)} ms`);
const pct = (x: number | null): string => (x === null ? 'n/a' : `${Math.round(x * 100)}%`);
const cores = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(2));

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function throughputTable(r: BenchReport): string {
  return table(
    [
      'target',
      'median req/s',
      'runs req/s',
      'wrk p99 (median)',
      'non-2xx',
      'socket errors',
      'server cores',
      'machine busy',
      'server threads',
    ],
    r.outcomes.map((o) => {
      const s = summarize(o);
      return [
        o.name,
        int(s.medianRps),
        o.runs.map((x) => int(x.wrk.requestsPerSec)).join(' / ') || '-',
        ms(s.medianP99Ms),
        String(s.non2xx),
        String(s.socketErrors),
        cores(s.serverCores),
        pct(s.machineBusy),
        o.threads === null ? 'n/a' : String(o.threads),
      ];
    }),
  );
}

/** Median over rounds of a/b within the same round: both saw the same moment's noise. */
function pairedRatio(a: TargetOutcome | undefined, b: TargetOutcome | undefined): number | null {
  if (a === undefined || b === undefined) return null;
  const ratios: number[] = [];
  for (const ra of a.runs) {
    const rb = b.runs.find((x) => x.round === ra.round);
    if (rb !== undefined && rb.wrk.requestsPerSec > 0) ratios.push(ra.wrk.requestsPerSec / rb.wrk.requestsPerSec);
  }
  return median(ratios);
}

function ratiosTable(r: BenchReport): string {
  const find = (n: TargetName): TargetOutcome | undefined => r.outcomes.find((x) => x.name === n);
  const row = (a: TargetName, b: TargetName): string[] => {
    const oa = find(a);
    const ob = find(b);
    const paired = pairedRatio(oa, ob);
    return [
      `${a} / ${b}`,
      ratio(oa && summarize(oa).medianRps, ob && summarize(ob).medianRps),
      paired === null ? 'n/a' : paired.toFixed(2),
    ];
  };
  const rows = [row('croupier', 'ceiling'), row('croupier', 'peer'), row('peer', 'ceiling')];
  if (find('baseline') !== undefined) rows.push(row('baseline', 'ceiling'), row('croupier', 'baseline'));
  return table(['ratio (req/s)', 'of medians', 'median of per-round ratios'], rows);
}

function fixedRateTable(r: BenchReport): string {
  const rows = r.outcomes
    .filter((o) => o.fixedRate !== null)
    .map((o) => {
      const f = o.fixedRate as FixedRateResult;
      return [
        o.name,
        int(f.rate),
        int(f.achievedRps),
        ms(f.p50Ms),
        ms(f.p99Ms),
        String(f.errors),
        String(f.timeouts),
        String(f.non2xx),
        cores(f.serverCores),
        cores(f.clientCores),
      ];
    });
  if (rows.length === 0) return '(no fixed-rate runs)';
  return table(
    [
      'target',
      'offered req/s',
      'achieved req/s',
      'p50',
      'p99',
      'errors',
      'timeouts',
      'non-2xx',
      'server cores',
      'autocannon cores',
    ],
    rows,
  );
}

function problems(r: BenchReport): string[] {
  return r.outcomes
    .filter((o) => o.problem !== null)
    .map((o) => `- **${o.name}**: ${(o.problem ?? '').replace(/\s*\n\s*/g, ' | ')}`);
}

export function consoleReport(r: BenchReport): string {
  return [
    '',
    throughputTable(r),
    '',
    ratiosTable(r),
    '',
    `fixed rate (${r.fixedRateBasis}):`,
    fixedRateTable(r),
    ...(problems(r).length > 0 ? ['', 'not measured / incomplete:', ...problems(r)] : []),
    '',
  ].join('\n');
}

export function markdownSection(r: BenchReport): string {
  const o = r.options;
  return [
    `## Predict throughput and latency`,
    '',
    `- date: ${r.date.toISOString()}`,
    `- command: \`${r.command}\``,
    `- machine: ${r.cores} cores (${r.cpuModel}), node ${r.node}; wrk and the server share those cores`,
    `- throughput: \`wrk -t1 -c${o.connections} -d${o.durationS}s --latency -s bench/post.lua\` on \`POST ${o.urlPath}\`, `
      + `${o.rounds} interleaved rounds; servers started once and kept running, one 2 s wrk warm-up each first; `
      + `medians over rounds`,
    `- peer session options: onnxruntime-node defaults (intraOpNumThreads unset, ORT picks); compare its `
      + `"server threads" with ceiling's to see whether ORT started an intra-op pool`,
    `- server cores = CPU time of the server process / wall time (1.00 = one core busy); `
      + `machine busy = all ${r.cores} cores, wrk included`,
    ...r.outcomes
      .filter((x) => x.probe !== null)
      .map((x) => `- ${x.name} first answer: ${x.probe?.status ?? ''} \`${x.probe?.body ?? ''}\``),
    '',
    throughputTable(r),
    '',
    ratiosTable(r),
    '',
    `Fixed-rate latency (autocannon, ${o.connections} connections, ${o.durationS} s, ${r.fixedRateBasis}; `
      + `autocannon reports whole milliseconds and runs in the orchestrator process: when its cores approach 1.00 `
      + `the client, not the server, sets the latency):`,
    '',
    fixedRateTable(r),
    ...(problems(r).length > 0 ? ['', 'Not measured / incomplete:', '', ...problems(r)] : []),
    ...(r.notes.length > 0 ? ['', ...r.notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

const INTRO = `# Croupier benchmarks

What is measured: requests per second and latency of \`POST /v1/predict/:route\` with a
32-feature JSON body, for three servers on the same machine:

- **ceiling**: a bare uWebSockets.js server that reads and parses the body and answers a fixed
  JSON (\`bench/ceiling.ts\`); no inference. Nothing can be faster.
- **peer**: what a team writes by hand: Fastify 5 + onnxruntime-node, one \`session.run\` per
  request on \`models/fraud/1/model.onnx\` (\`bench/peer-fastify.ts\`).
- **croupier**: \`node bin/croupier.js serve --models ./models\`.

Command: \`npm run bench\` (options: \`--rounds N --duration S --only a,b --no-write --url-path P\`).
Machine: 2 cores, shared and noisy, so absolute numbers move between runs; the ratios
(croupier/ceiling, croupier/peer) are what matter. Date and node version are in each section.
`;

/** Replaces the predict section of RESULTS.md; creates the file (with an intro) if needed. */
export function writeResults(file: string, section: string): void {
  writeSection(file, 'predict', section, INTRO);
}
