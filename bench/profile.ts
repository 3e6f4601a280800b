// Where a request's CPU goes, Croupier beside the uWS ceiling (issue 6: what stands between
// Croupier and the ceiling). Each server runs under the same wrk load (`wrk -t1 -c64`, the predict
// body) while `perf record` samples all its threads; samples are sorted into categories by shared
// object and symbol (`node --perf-basic-prof` names compiled JavaScript), and each category's share
// times the CPU the server used per request (from /proc, same run) gives microseconds per request.
// With `--endpoint feedback`, the load is outcomes instead (bench/feedback.lua), each for a different
// real decision made first. Needs Linux `perf` (Debian: linux-perf) and permission to use it.
//
//   npm run bench:profile -- [--endpoint predict|feedback] [--duration 6] [--rounds 2] [--no-write]
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { REQUEST_BODY } from './body.js';
import { installSignalCleanup, spawnServer, stopServer, waitUntilReady, type Server } from './lib/children.js';
import { cpuSince, cpuSnapshot } from './lib/cpu.js';
import { freePort } from './lib/port.js';
import { fixed, mdTable, writeSection } from './lib/sections.js';
import { makeTarget, type Target } from './lib/targets.js';
import { compacted, FEEDBACK_LUA, makeDecisions } from './lib/decisions.js';
import { runWrk, type WrkResult } from './lib/wrk.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = fileURLToPath(new URL('.tmp/', import.meta.url));
const RESULTS = fileURLToPath(new URL('RESULTS.md', import.meta.url));
const PREDICT = '/v1/predict/fraud-scoring';
const CONNECTIONS = 64;
const FREQUENCY = 1999;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    endpoint: { type: 'string', default: 'predict' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'usage: npm run bench:profile -- [--endpoint predict|feedback] [--duration 6] [--rounds 2] [--no-write]\n',
  );
  process.exit(0);
}
if (args.endpoint !== 'predict' && args.endpoint !== 'feedback')
  throw new Error(`--endpoint: predict or feedback, not '${args.endpoint}'`);
const FEEDBACK = args.endpoint === 'feedback';
const PATH = FEEDBACK ? '/v1/feedback' : PREDICT;
const DURATION = Number(args.duration);
const ROUNDS = Number(args.rounds);
const log = (msg: string): void => {
  process.stderr.write(`bench:profile: ${msg}\n`);
};

/** Categories, first match wins: [name, test on shared object and symbol]. */
const CATEGORIES: [string, (dso: string, sym: string) => boolean][] = [
  ['kernel: TCP/IP over loopback, syscalls, scheduling', (dso) => dso === '[kernel.kallsyms]'],
  ['uWS: HTTP parsing, sockets', (dso) => dso.startsWith('uws_')],
  ['ONNX Runtime: inference', (dso) => dso.includes('onnxruntime')],
  ['JSON.parse', (_, sym) => /JsonParser|Strtod|StringToDouble/.test(sym)],
  [
    'garbage collection',
    (_, sym) => /Scaveng|Mark|Sweep|Evacuat|Heap::|GlobalHandles|ArrayBufferSweeper|RememberedSet|Compactor/.test(sym),
  ],
  [
    'compiled JavaScript (Croupier, Node)',
    (dso, sym) => dso.startsWith('[JIT]') || sym.startsWith('JS:') || sym.startsWith('LazyCompile'),
  ],
  ['V8 builtins: property access, calls, strings, typed arrays', (_, sym) => sym.startsWith('Builtins_')],
  ['libc: malloc/free, memcpy', (dso) => dso.startsWith('libc')],
  ['V8 and Node runtime: API calls, handles, strings, the rest', () => true],
];

interface Profile {
  usPerRequest: number;
  rps: number;
  /** Share of samples per category (0..1). */
  shares: Map<string, number>;
}

/** The load on `server` for `durationS`: the predict body, or outcomes for the decision ids after `ids.from`. */
async function load(server: Server, durationS: number, ids: { file: string; from: number }): Promise<WrkResult> {
  const url = `http://127.0.0.1:${server.port}${PATH}`;
  if (!FEEDBACK) return runWrk({ url, body: REQUEST_BODY, durationS, connections: CONNECTIONS, threads: 1 });
  const r = await runWrk({
    url,
    body: '',
    durationS,
    connections: CONNECTIONS,
    threads: 1,
    script: FEEDBACK_LUA,
    env: { IDS_FILE: ids.file, IDS_FROM: String(ids.from) },
  });
  if (server.name === 'croupier') ids.from += r.requests;
  if (r.non2xx > 0) throw new Error(`${server.name}: ${r.non2xx} outcomes were not accepted (decision ids ran out?)`);
  return r;
}

async function record(server: Server, file: string, ids: { file: string; from: number }): Promise<Profile> {
  const pid = server.child.pid!;
  const before = cpuSnapshot(pid);
  const loaded = load(server, DURATION, ids);
  await promisify(execFile)('perf', [
    'record',
    '-F',
    String(FREQUENCY),
    '-p',
    String(pid),
    '-o',
    file,
    '--',
    'sleep',
    String(DURATION - 1),
  ]);
  const wrk = await loaded;
  const cpu = cpuSince(before, pid);
  const report = execFileSync(
    'perf',
    ['report', '-i', file, '--no-children', '--sort', 'dso,sym', '-g', 'none', '--stdio'],
    { maxBuffer: 64 << 20 },
  ).toString();
  const shares = new Map<string, number>(CATEGORIES.map(([name]) => [name, 0]));
  for (const line of report.split('\n')) {
    // "  1.47%  [JIT] tid 20802  [.] JS:*resolve …": the shared object may hold spaces.
    const m = /^\s*([\d.]+)%\s+(.+?)\s+\[(.)\]\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pct, dso, , sym] = m as unknown as [string, string, string, string, string];
    const name = CATEGORIES.find(([, test]) => test(dso, sym.trim()))![0];
    shares.set(name, shares.get(name)! + Number(pct) / 100);
  }
  const cores = cpu.serverCores ?? NaN;
  return { usPerRequest: (cores * 1e6) / wrk.requestsPerSec, rps: wrk.requestsPerSec, shares };
}

async function main(): Promise<void> {
  execFileSync('perf', ['--version'], { stdio: 'ignore' });
  mkdirSync(TMP, { recursive: true });
  const targets: Target[] = [makeTarget('ceiling', ROOT), makeTarget('croupier', ROOT)];
  const servers: Server[] = [];
  installSignalCleanup(async () => {
    await Promise.all(servers.map((s) => stopServer(s)));
  });
  const profiles = new Map<string, Profile[]>();
  const ids = { file: `${TMP}profile-decision-ids.txt`, from: 0 };
  try {
    for (const target of targets) {
      const skip = target.prepare();
      if (skip !== null) throw new Error(`${target.name}: ${skip}`);
      const port = await freePort();
      const spec = target.spec(port);
      // --perf-basic-prof also has V8 log code events: into bench/.tmp, not the working directory.
      const node = ['--perf-basic-prof', `--logfile=${TMP}v8.log`];
      const server = spawnServer({
        ...spec,
        args: [...node, ...spec.args],
        urlPath: PREDICT,
        logFile: `${TMP}profile-${target.name}.log`,
      });
      servers.push(server);
      await waitUntilReady(server, REQUEST_BODY, 30_000);
      profiles.set(target.name, []);
      if (FEEDBACK && target.name === 'croupier') {
        // Decisions for every round (at up to 60k outcomes/s), then their journal compacted.
        const needed = (ROUNDS * DURATION + 3) * 60_000;
        const have = await makeDecisions(server.url, ids.file, needed, CONNECTIONS, log);
        ids.from = Math.max(0, have - needed);
        log(
          (await compacted(spec.env!.CROUPIER_STATE_DIR!, 45_000))
            ? 'the decisions are compacted into a snapshot'
            : 'no compaction within 45 s; measuring anyway',
        );
      }
    }
    for (const server of servers) await load(server, 2, ids);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const server of servers) {
        const p = await record(server, `${TMP}perf-${server.name}.data`, ids);
        profiles.get(server.name)!.push(p);
        log(`round ${round} ${server.name}: ${Math.round(p.rps)} req/s, ${fixed(p.usPerRequest)} µs CPU per request`);
      }
    }
  } finally {
    await Promise.all(servers.map((s) => stopServer(s)));
    for (const t of targets) t.cleanup();
    for (const s of servers) rmSync(`/tmp/perf-${s.child.pid}.map`, { force: true });
    rmSync(ids.file, { force: true });
  }

  // Means over rounds: µs per request per category.
  const us = (name: string, category?: string): number => {
    const ps = profiles.get(name)!;
    return (
      ps.reduce((a, p) => a + p.usPerRequest * (category === undefined ? 1 : p.shares.get(category)!), 0) / ps.length
    );
  };
  const rows = CATEGORIES.map(([c]) => [
    c,
    fixed(us('ceiling', c)),
    fixed(us('croupier', c)),
    fixed(us('croupier', c) - us('ceiling', c)),
  ]);
  rows.push([
    '**total**',
    `**${fixed(us('ceiling'))}**`,
    `**${fixed(us('croupier'))}**`,
    `**${fixed(us('croupier') - us('ceiling'))}**`,
  ]);
  const table = mdTable(['where the CPU goes (µs per request)', 'ceiling', 'croupier', 'croupier − ceiling'], rows);
  const what = FEEDBACK
    ? `- the ceiling parses the outcome and answers a fixed 202; Croupier validates it, verifies the decision id, finds the decision, credits the arm (Thompson weights recomputed after outcomes), journals the outcome and answers once it is fsynced (group commit), with metrics on`
    : `- the ceiling parses the body and answers a fixed JSON; Croupier validates, routes (Thompson), batches, scores (ONNX Runtime, inline), logs the decision and answers, with metrics on`;
  const section = `## Where ${FEEDBACK ? "an outcome's" : "a request's"} CPU goes: Croupier beside the ceiling${FEEDBACK ? ' (feedback)' : ''}

- date: ${new Date().toISOString()}, node ${process.version}, ${os.availableParallelism()} cores; wrk and the servers share them
- command: \`npm run bench:profile${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`
- each server under \`wrk -t1 -c${CONNECTIONS}\` on \`POST ${PATH}\` (${FEEDBACK ? 'each outcome for a different decision, made beforehand' : 'the predict body'}) while \`perf record -F ${FREQUENCY}\` samples all its threads, ${ROUNDS} rounds of ${DURATION} s, alternating; CPU per request = the server's CPU time (from /proc, same run, perf's own cost included) / requests; each category's share of samples × that
${what}

${table}
`;
  process.stdout.write(`${section}\n`);
  if (!args['no-write']) {
    writeSection(RESULTS, FEEDBACK ? 'profile-feedback' : 'profile', section);
    log(`wrote ${RESULTS}`);
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
