// Samples a server while a load runs: Croupier's /metrics (queued rows per model version, work
// shed by reason) and the process's RSS from /proc, every `everyMs`.
import { readFileSync } from 'node:fs';

export interface MetricsSample {
  atMs: number;
  /** croupier_queue_depth per `model/version`. */
  queue: Map<string, number>;
  /** croupier_shed_total per reason, summed over models. */
  shed: Map<string, number>;
  rssBytes: number | null;
}

/** Series value by label set, for one metric name, from the Prometheus text format. */
export function seriesValues(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  const re = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    const labels: Record<string, string> = {};
    for (const l of (m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

export function rssBytes(pid: number): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

export async function sampleOnce(base: string, pid: number): Promise<MetricsSample> {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const queue = new Map<string, number>();
  for (const s of seriesValues(text, 'croupier_queue_depth'))
    queue.set(`${s.labels.model}/${s.labels.version}`, s.value);
  const shed = new Map<string, number>();
  for (const s of seriesValues(text, 'croupier_shed_total')) {
    const reason = s.labels.reason ?? '?';
    shed.set(reason, (shed.get(reason) ?? 0) + s.value);
  }
  return { atMs: Date.now(), queue, shed, rssBytes: rssBytes(pid) };
}

export interface SamplerSummary {
  samples: number;
  failed: number;
  /** Largest queued rows seen in any one model version. */
  maxQueuePerVersion: number;
  /** Largest total queued rows over all versions at one instant. */
  maxQueueTotal: number;
  maxRssBytes: number | null;
  shedDelta: Map<string, number>;
}

/** Samples until stop() is called; stop() returns the summary. */
export function startSampler(base: string, pid: number, everyMs = 250): { stop(): Promise<SamplerSummary> } {
  const samples: MetricsSample[] = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      try {
        samples.push(await sampleOnce(base, pid));
      } catch {
        failed++;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  return {
    async stop(): Promise<SamplerSummary> {
      running = false;
      await loop;
      const first = samples[0];
      const last = samples[samples.length - 1];
      const shedDelta = new Map<string, number>();
      if (first !== undefined && last !== undefined) {
        for (const [reason, v] of last.shed) shedDelta.set(reason, v - (first.shed.get(reason) ?? 0));
      }
      const rss = samples.map((s) => s.rssBytes).filter((x): x is number => x !== null);
      return {
        samples: samples.length,
        failed,
        maxQueuePerVersion: Math.max(0, ...samples.flatMap((s) => [...s.queue.values()])),
        maxQueueTotal: Math.max(0, ...samples.map((s) => [...s.queue.values()].reduce((a, b) => a + b, 0))),
        maxRssBytes: rss.length === 0 ? null : Math.max(...rss),
        shedDelta,
      };
    },
  };
}
