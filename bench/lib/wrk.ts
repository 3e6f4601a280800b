// Run wrk with bench/post.lua and parse what matters out of its text report.
import { execFile, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LUA = fileURLToPath(new URL('../post.lua', import.meta.url));

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  p50Ms: number | null;
  p99Ms: number | null;
  non2xx: number;
  /** Answers by HTTP status and 503s carrying Retry-After; only with bench/post-file.lua and BENCH_COUNT_STATUS set. */
  statuses: Record<string, number>;
  retryAfter: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  raw: string;
}

export interface WrkOptions {
  url: string;
  body: string;
  durationS: number;
  connections: number;
  threads: number;
  /** Another wrk script (default bench/post.lua) and the environment it reads. */
  script?: string;
  env?: Record<string, string>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationS}s`, '--latency', '-s', o.script ?? LUA, o.url];
  return new Promise((resolve, reject) => {
    const child = execFile(
      'wrk',
      args,
      {
        env: { ...process.env, BENCH_BODY: o.body, ...o.env },
        maxBuffer: 16 * 1024 * 1024,
        timeout: (o.durationS + 30) * 1000,
      },
      (err, stdout, stderr) => {
        running.delete(child);
        if (err) {
          reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
          return;
        }
        try {
          resolve(parseWrk(stdout));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      },
    );
    running.add(child);
  });
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60000 };

function durationMs(value: string, unit: string): number {
  const scale = UNIT_MS[unit];
  if (scale === undefined) throw new Error(`wrk: unknown latency unit '${unit}'`);
  return Number(value) * scale;
}

function percentile(text: string, pct: string): number | null {
  const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
  return m?.[1] !== undefined && m[2] !== undefined ? durationMs(m[1], m[2]) : null;
}

export function parseWrk(text: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text)?.[1];
  if (rps === undefined) throw new Error(`wrk: no Requests/sec line in output:\n${text}`);
  const requests = /^\s*(\d+) requests in/m.exec(text)?.[1];
  const non2xx = /^\s*Non-2xx or 3xx responses:\s+(\d+)/m.exec(text)?.[1];
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const statuses: Record<string, number> = {};
  for (const m of text.matchAll(/^status (\d+) (\d+)$/gm)) statuses[m[1] as string] = Number(m[2]);
  return {
    requestsPerSec: Number(rps),
    statuses,
    retryAfter: Number(/^retry-after (\d+)$/m.exec(text)?.[1] ?? 0),
    requests: Number(requests ?? 0),
    p50Ms: percentile(text, '50'),
    p99Ms: percentile(text, '99'),
    non2xx: Number(non2xx ?? 0),
    socketErrors: {
      connect: Number(sock?.[1] ?? 0),
      read: Number(sock?.[2] ?? 0),
      write: Number(sock?.[3] ?? 0),
      timeout: Number(sock?.[4] ?? 0),
    },
    raw: text,
  };
}

export function socketErrorTotal(r: WrkResult): number {
  const s = r.socketErrors;
  return s.connect + s.read + s.write + s.timeout;
}
