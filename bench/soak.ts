// Soak (issue 6): Croupier under a moderate fixed rate on the Thompson route for some minutes, with
// feedback posted for a share of the decisions, RSS and bounded state sampled every 10 s. Passes
// when RSS stops growing: the slope over the last 3 minutes (or the last half of a shorter run).
//
//   npm run bench:soak -- [--minutes 5] [--rate R (default: half the max rate)] [--feedback-share 0.25]
//                         [--decisions-max N] [--no-write]
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { REQUEST_BODY } from './body.js';
import { installSignalCleanup } from './lib/children.js';
import { exitReason, isAlive, startCroupier, type CroupierProcess } from './lib/croupier-server.js';
import { rssBytes, seriesValues } from './lib/metrics-sampler.js';
import { fixed, int, mdTable, writeSection } from './lib/sections.js';
import { runWrk } from './lib/wrk.js';

type AutocannonResult = Awaited<ReturnType<typeof autocannon>>;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = fileURLToPath(new URL('.tmp/', import.meta.url));
const RESULTS = fileURLToPath(new URL('RESULTS.md', import.meta.url));
const ROUTE = 'fraud-scoring';
const SAMPLE_EVERY_MS = 10_000;
const FEEDBACK_EVERY_MS = 250;
/** A GET /v2/health/live this often: its answer time shows main-thread stalls the load's p99 hides. */
const STALL_PROBE_EVERY_MS = 100;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    rate: { type: 'string' },
    'feedback-share': { type: 'string', default: '0.25' },
    'decisions-max': { type: 'string' },
    connections: { type: 'string', default: '64' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'usage: npm run bench:soak -- [--minutes 5] [--rate R] [--feedback-share 0.25] [--decisions-max N] [--connections 64] [--no-write]\n',
  );
  process.exit(0);
}
const MINUTES = Number(args.minutes);
const FEEDBACK_SHARE = Number(args['feedback-share']);
const CONNECTIONS = Number(args.connections);
if (!(MINUTES > 0) || !(FEEDBACK_SHARE >= 0 && FEEDBACK_SHARE <= 1))
  throw new Error('--minutes must be > 0 and --feedback-share in [0, 1]');

const log = (msg: string): void => {
  process.stderr.write(`bench:soak: ${msg}\n`);
};

interface Sample {
  tS: number;
  rssMb: number | null;
  pending: number | null;
  evicted: number | null;
  seriesLines: number | null;
  metricsKb: number | null;
  predicts: number;
  feedbackAccepted: number;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number | null {
  if (points.length < 2) return null;
  const mx = points.reduce((a, p) => a + p.x, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

async function main(): Promise<void> {
  mkdirSync(TMP, { recursive: true });
  const date = new Date();
  let s: CroupierProcess | null = null;
  installSignalCleanup(async () => {
    await s?.stop();
  });
  const env: Record<string, string> =
    args['decisions-max'] === undefined ? {} : { CROUPIER_DECISIONS_MAX: args['decisions-max'] };
  const samples: Sample[] = [];
  let rate = 0;
  let maxRate: number | null = null;
  let result: AutocannonResult | null = null;
  let stateBytes = 0;
  let died: string | null = null;
  const fb = { posted: 0, accepted: 0, notAccepted: 0, httpErrors: 0, requests: 0 };
  let predicts = 0;
  const stalls = { probes: 0, over100: 0, over500: 0, maxMs: 0, maxAtS: 0, failed: 0 };
  try {
    s = await startCroupier({ root: ROOT, name: 'croupier-soak', logDir: TMP, env });
    const server = s;
    log(`croupier ready (pid ${server.pid})`);
    const url = `${server.base}/v1/predict/${ROUTE}`;
    if (args.rate === undefined) {
      await runWrk({ url, body: REQUEST_BODY, durationS: 2, connections: 64, threads: 1 });
      const w = await runWrk({ url, body: REQUEST_BODY, durationS: 5, connections: 64, threads: 1 });
      maxRate = w.requestsPerSec;
      rate = Math.max(1, Math.floor(maxRate / 2));
    } else {
      rate = Number(args.rate);
    }
    log(
      `offered rate ${rate} req/s for ${MINUTES} min${maxRate === null ? '' : ` (max measured ${int(maxRate)} req/s)`}`,
    );

    // Decisions to give feedback for: every k-th answer, rewards alternating 1, 0, 0.
    const every = FEEDBACK_SHARE > 0 ? Math.max(1, Math.round(1 / FEEDBACK_SHARE)) : 0;
    let pendingIds: string[] = [];
    let rewardSeq = 0;
    const onResponse = (status: number, body: string): void => {
      if (status !== 200) return;
      predicts++;
      if (every === 0 || predicts % every !== 0) return;
      const id = /"decision":"([^"]+)"/.exec(body)?.[1];
      if (id !== undefined) pendingIds.push(id);
    };
    const startedAt = Date.now();
    const postFeedback = async (): Promise<void> => {
      if (pendingIds.length === 0) return;
      const ids = pendingIds.slice(0, 10_000);
      pendingIds = pendingIds.slice(ids.length);
      const events = ids.map((decision) => ({ decision, reward: rewardSeq++ % 3 === 0 ? 1 : 0 }));
      fb.requests++;
      fb.posted += events.length;
      try {
        const res = await fetch(`${server.base}/v1/feedback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ events }),
        });
        const out = (await res.json()) as { accepted?: number };
        const accepted = out.accepted ?? 0;
        fb.accepted += accepted;
        fb.notAccepted += events.length - accepted;
      } catch {
        fb.httpErrors++;
      }
    };
    const sample = async (): Promise<void> => {
      const tS = (Date.now() - startedAt) / 1000;
      let text: string | null = null;
      try {
        text = await (await fetch(`${server.base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      } catch {
        // counted as a gap in the table
      }
      const one = (name: string): number | null =>
        text === null ? null : (seriesValues(text, name)[0]?.value ?? null);
      const rss = isAlive(server) ? rssBytes(server.pid) : null;
      const row: Sample = {
        tS,
        rssMb: rss === null ? null : rss / 1024 / 1024,
        pending: one('croupier_decisions_pending'),
        evicted: one('croupier_decisions_evicted_total'),
        seriesLines: text === null ? null : text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length,
        metricsKb: text === null ? null : text.length / 1024,
        predicts,
        feedbackAccepted: fb.accepted,
      };
      samples.push(row);
      log(
        `t=${tS.toFixed(0)}s RSS ${fixed(row.rssMb, 1)} MB pending ${int(row.pending)} evicted ${int(row.evicted)} series ${int(row.seriesLines)} predicts ${int(predicts)} feedback accepted ${int(fb.accepted)}`,
      );
    };
    const stallProbe = async (): Promise<void> => {
      const t0 = performance.now();
      try {
        await (await fetch(`${server.base}/v2/health/live`, { signal: AbortSignal.timeout(30_000) })).arrayBuffer();
      } catch {
        stalls.failed++;
        return;
      }
      const ms = performance.now() - t0;
      stalls.probes++;
      if (ms > 100) stalls.over100++;
      if (ms > 500) stalls.over500++;
      if (ms > stalls.maxMs) {
        stalls.maxMs = ms;
        stalls.maxAtS = (Date.now() - startedAt) / 1000;
      }
    };
    let probing = false;
    const stallTimer = setInterval(() => {
      if (probing) return; // one at a time: a stall shows as one long probe, not many
      probing = true;
      void stallProbe().finally(() => {
        probing = false;
      });
    }, STALL_PROBE_EVERY_MS);
    await sample();
    const feedbackTimer = setInterval(() => void postFeedback(), FEEDBACK_EVERY_MS);
    const sampleTimer = setInterval(() => void sample(), SAMPLE_EVERY_MS);
    try {
      result = await autocannon({
        url,
        connections: CONNECTIONS,
        duration: Math.round(MINUTES * 60),
        overallRate: rate,
        timeout: 10,
        requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: REQUEST_BODY, onResponse }],
      });
    } finally {
      clearInterval(feedbackTimer);
      clearInterval(sampleTimer);
      clearInterval(stallTimer);
    }
    await postFeedback();
    await sample();
    if (!isAlive(server)) died = exitReason(server);
    stateBytes = dirBytes(server.stateDir);
  } finally {
    await s?.stop();
  }

  const section = report({ date, rate, maxRate, samples, result, fb, stateBytes, died, env, stalls });
  process.stdout.write(`${section}\n`);
  if (!args['no-write']) {
    // A run with a non-default decision bound is a comparison: its own section, the default one kept.
    writeSection(
      RESULTS,
      args['decisions-max'] === undefined ? 'soak' : `soak-decisions-max-${args['decisions-max']}`,
      section,
    );
    log(`wrote ${RESULTS}`);
  }
}

interface Report {
  date: Date;
  rate: number;
  maxRate: number | null;
  samples: Sample[];
  result: AutocannonResult | null;
  fb: { posted: number; accepted: number; notAccepted: number; httpErrors: number; requests: number };
  stateBytes: number;
  died: string | null;
  env: Record<string, string>;
  stalls: { probes: number; over100: number; over500: number; maxMs: number; maxAtS: number; failed: number };
}

function report(r: Report): string {
  const command = ['npm run bench:soak', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(
    ' ',
  );
  const withRss = r.samples.filter((x): x is Sample & { rssMb: number } => x.rssMb !== null);
  const end = withRss[withRss.length - 1];
  const windowS = MINUTES >= 4 ? 180 : (MINUTES * 60) / 2;
  const tail = end === undefined ? [] : withRss.filter((x) => x.tS >= end.tS - windowS);
  const tailSlope = slope(tail.map((x) => ({ x: x.tS / 60, y: x.rssMb })));
  const peak = withRss.reduce<Sample | undefined>(
    (a, x) => (a === undefined || (x.rssMb ?? 0) > (a.rssMb ?? 0) ? x : a),
    undefined,
  );
  const a = r.result;
  return [
    `## Soak: ${MINUTES} minutes on the Thompson route`,
    '',
    `- date: ${r.date.toISOString()}, node ${process.version}, ${os.availableParallelism()} cores; autocannon, the feedback poster and Croupier share them`,
    `- command: \`${command}\``,
    `- load: autocannon, ${CONNECTIONS} connections, fixed overall rate **${int(r.rate)} req/s**`
      + `${r.maxRate === null ? '' : ` (half of the ${int(r.maxRate)} req/s measured just before with \`wrk -t1 -c64 -d5s\`)`} on \`POST /v1/predict/${ROUTE}\`; `
      + `every ${FEEDBACK_SHARE > 0 ? Math.round(1 / FEEDBACK_SHARE) : '∞'}th decision gets feedback, posted as \`{"events": [...]}\` batches every ${FEEDBACK_EVERY_MS} ms (rewards 1, 0, 0, …)`,
    `- Croupier defaults${
      Object.keys(r.env).length > 0
        ? ` except ${Object.entries(r.env)
            .map(([k, v]) => `\`${k}=${v}\``)
            .join(', ')}`
        : ''
    } `
      + '(`CROUPIER_DECISIONS_MAX` bounds the decision cache: settled decisions stay in it, for duplicate detection, until evicted or past their window); '
      + `RSS (VmRSS) from \`/proc/<pid>/status\` and \`/metrics\` every ${SAMPLE_EVERY_MS / 1000} s`,
    '',
    mdTable(
      ['', 'value'],
      [
        [
          'RSS start / peak / end',
          `${fixed(withRss[0]?.rssMb, 1)} / ${fixed(peak?.rssMb, 1)} (at ${fixed(peak?.tS, 0)} s) / ${fixed(end?.rssMb, 1)} MB`,
        ],
        [
          `RSS slope over the last ${windowS / 60} min (least squares, ${tail.length} samples)`,
          `**${fixed(tailSlope, 2)} MB/min**`,
        ],
        [
          'predict answers: 2xx / non-2xx / errors / timeouts',
          a === null ? 'n/a' : `${int(a['2xx'])} / ${int(a.non2xx)} / ${int(a.errors)} / ${int(a.timeouts)}`,
        ],
        [
          'achieved req/s (mean), latency p50 / p99 / p99.9 / max',
          a === null
            ? 'n/a'
            : `${int(a.requests.average)}, ${a.latency.p50} / ${a.latency.p99} / ${a.latency.p99_9} / ${a.latency.max} ms`,
        ],
        [
          `main-thread stalls: \`GET /v2/health/live\` every ${STALL_PROBE_EVERY_MS} ms, answers over 100 ms / over 500 ms / slowest`,
          `${int(r.stalls.over100)} / ${int(r.stalls.over500)} of ${int(r.stalls.probes)} / ${fixed(r.stalls.maxMs, 0)} ms (at ${fixed(r.stalls.maxAtS, 0)} s)${r.stalls.failed > 0 ? `; ${r.stalls.failed} failed` : ''}`,
        ],
        [
          'feedback events posted / accepted / not accepted / failed posts',
          `${int(r.fb.posted)} / ${int(r.fb.accepted)} / ${int(r.fb.notAccepted)} / ${r.fb.httpErrors}`,
        ],
        ['decisions pending at end / evicted (cache bound reached)', `${int(end?.pending)} / ${int(end?.evicted)}`],
        ['/metrics sample lines first → last', `${int(withRss[0]?.seriesLines)} → ${int(end?.seriesLines)}`],
        ['state directory at end (decision journal, snapshots)', `${fixed(r.stateBytes / 1024 / 1024, 1)} MB`],
        ['server alive at end', r.died === null ? 'yes' : `**no** (${r.died})`],
      ],
    ),
    '',
    '<details><summary>samples</summary>',
    '',
    mdTable(
      ['t (s)', 'RSS (MB)', 'decisions pending', 'evicted', '/metrics lines', 'predicts answered', 'feedback accepted'],
      r.samples.map((x) => [
        fixed(x.tS, 0),
        fixed(x.rssMb, 1),
        int(x.pending),
        int(x.evicted),
        int(x.seriesLines),
        int(x.predicts),
        int(x.feedbackAccepted),
      ]),
    ),
    '',
    '</details>',
  ].join('\n');
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
