// The monitoring windows' memory (issue 16: "bounded by routes × arms × versions × features, never
// by traffic"), measured in one process per run (bench/memory.ts starts it with --expose-gc): the
// real Monitor, DriftCounters and embedded MonitorCounts store over a model repository and its
// routes, fed a day and an hour of simulated minutes (an injected clock) in which every arm gets
// `--per-arm` requests a minute, each with a labelled outcome, and every version's drift counter a
// batch of those rows with their scores. Prints one JSON line:
//   - payloadBytes: the windows' vectors (buckets × slots × 8 bytes), read back from the store;
//   - heapBytes: V8 heap + ArrayBuffers after a full GC, minus the same before any traffic;
//   - with --snapshot, the embedded store's snapshots as its timer makes them, one a minute over the
//     last `--snapshots` simulated minutes: catchUpBlockMs, the longest the event loop was held by
//     the first (every minute of the day changed since the start), then snapshotBlockMs and
//     snapshotBlockP99Ms, the max and p99 of monitorEventLoopDelay (1 ms resolution) over the
//     others (one minute's changes each: the steady state); snapshotBytes on disk after close;
//     encodeMs, the snapshot's own work for one minute (copy and CRC); loadS, a new store opening that state (what a restart reads), and whether its 24 h sums are the
//     live store's, value for value.
//
//   node --expose-gc --import tsx bench/monitoring-memory.ts --models DIR --per-arm N [--versions-route] [--snapshot [--snapshots N]]
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { TensorData } from '../src/inference/messages.js';
import { createLogger } from '../src/log.js';
import { DriftCounters, driftSeries } from '../src/monitoring/drift-counters.js';
import { LABEL_COUNTS } from '../src/monitoring/label-counts.js';
import { MINUTE_MS, RETAINED_MINUTES } from '../src/monitoring/minute-window.js';
import { ARM_COUNTS, armSeriesKey, labelSeriesKey } from '../src/monitoring/monitor-series.js';
import { Monitor } from '../src/monitoring/monitor.js';
import type { SeriesKey } from '../src/monitoring/monitor-counts.js';
import { Registry } from '../src/registry/registry.js';
import { type ModelVersion, scanRepository } from '../src/registry/repository.js';
import { parseRouteSpec, type RouteSpec } from '../src/routing/route-spec.js';
import { type ArmChoice, Router } from '../src/routing/router.js';
import { EmbeddedMonitorCounts } from '../src/state/embedded/monitor-counts.js';
import { encodeSegment, type SegmentEntry } from '../src/state/embedded/monitor-segment.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string' },
    'per-arm': { type: 'string', default: '1' },
    // A route with one arm per version of `mlp` (the 20-version setup).
    'versions-route': { type: 'boolean', default: false },
    snapshot: { type: 'boolean', default: false },
    snapshots: { type: 'string', default: '10' },
  },
});
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc || !args.models) throw new Error('run with node --expose-gc and --models DIR');
const PER_ARM = Number(args['per-arm']);
/** A day of minutes (the longest window) and an hour more: the windows at their steady size. */
const MINUTES = RETAINED_MINUTES + 60;

const measured = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const registry = new Registry(scanRepository(args.models));
const lookup = (m: string, v: string) => registry.lookup(m, v);
const file = JSON.parse(readFileSync(join(args.models, 'routes.json'), 'utf8')) as {
  routes: Record<string, unknown>;
};
const specs = new Map<string, RouteSpec>(
  Object.entries(file.routes).map(([name, raw]) => [name, parseRouteSpec(name, raw, lookup)]),
);
if (args['versions-route']) {
  const versions = [...registry.model('mlp')!.versions.keys()];
  const arms = versions.map((v) => ({ name: `v${v}`, model: 'mlp', version: v }));
  specs.set('mlp-versions', parseRouteSpec('mlp-versions', { policy: 'fixed', arms }, lookup));
}
const router = new Router(registry, specs);
const stateDir = mkdtempSync(join(os.tmpdir(), 'croupier-monitoring-memory-'));
const log = createLogger('silent');
const store = EmbeddedMonitorCounts.open(stateDir, log);
let clock = Date.UTC(2026, 11, 3, 0, 0, 30);
const drift = new DriftCounters(() => clock);
const monitor = new Monitor({ store, router, registry, log, drift, now: () => clock });

/** Every arm's choice, resolved once (the policy's pick is not what is measured). */
const picks: ArmChoice[] = [];
for (const route of router.routes.values())
  route.arms.forEach((arm, i) => {
    const version = registry.resolve(arm.model, arm.version)!;
    picks.push({ route, arm, version, propensity: route.policy.weights[i]!, weights: route.policy.weights });
  });
/** The versions the picks serve, each with a batch of PER_ARM × arms rows of random inputs and scores. */
const batches = new Map<ModelVersion, { rows: number; inputs: TensorData[]; outputs: TensorData[] }>();
for (const p of picks) {
  const known = batches.get(p.version);
  if (known) {
    known.rows += PER_ARM;
    continue;
  }
  batches.set(p.version, { rows: PER_ARM, inputs: [], outputs: [] });
}
for (const [v, b] of batches) {
  b.inputs = v.manifest.inputs.map((input, i) => {
    const n = b.rows * v.inputRowSizes[i]!;
    const data =
      input.datatype === 'BYTES' ? new Array<string>(n).fill('x') : Float32Array.from({ length: n }, Math.random);
    return { name: input.name, type: 'float32', dims: [b.rows, v.inputRowSizes[i]!], data } as TensorData;
  });
  b.outputs = v.manifest.outputs.map((output, i) => {
    const n = b.rows * v.outputRowSizes[i]!;
    return {
      name: output.name,
      type: 'float32',
      dims: [b.rows, v.outputRowSizes[i]!],
      data: Float32Array.from({ length: n }, Math.random),
    };
  });
}

/** The snapshots of the last minutes: the first catches up with the whole day, the others are the steady state. */
const SNAPSHOTS = args.snapshot ? Math.max(2, Number(args.snapshots)) : 0;
let catchUpBlockMs: number | null = null;
const steady = monitorEventLoopDelay({ resolution: 1 });
const snapshotNow = async (first: boolean): Promise<void> => {
  const delay = first ? monitorEventLoopDelay({ resolution: 1 }) : steady;
  delay.enable();
  await store.snapshot();
  // A few more ticks, so a snapshot quicker than the resolution still leaves samples.
  await new Promise((resolve) => setTimeout(resolve, 5));
  delay.disable();
  if (first) catchUpBlockMs = delay.max / 1e6;
};

const before = measured();
const started = performance.now();
let events = 0;
let snapshotsMs = 0;
for (let minute = 0; minute < MINUTES; minute++) {
  clock += MINUTE_MS;
  for (const p of picks) {
    for (let i = 0; i < PER_ARM; i++) {
      monitor.decided(p);
      const score = Math.random();
      monitor.outcome(p.route.name, p.arm.name, p.version.key, score > 0.5 ? 1 : 0, Math.random() < 0.1 ? 1 : 0, score);
    }
    events += PER_ARM;
  }
  for (const [v, b] of batches) {
    const counter = drift.counter(v);
    if (counter) counter.countScores(b.outputs, b.rows, counter.count(b.inputs, b.rows, minute * MINUTE_MS));
  }
  await monitor.flush();
  await store.apply(drift.deltas());
  if (minute >= MINUTES - SNAPSHOTS) {
    const t = performance.now();
    await snapshotNow(minute === MINUTES - SNAPSHOTS);
    snapshotsMs += performance.now() - t;
  }
}
const simulatedMs = performance.now() - started - snapshotsMs;
const after = measured();

// The windows' payload, read back from the store: every series' minutes × its vector.
const keys: [SeriesKey, number][] = [];
for (const p of picks) {
  keys.push([armSeriesKey(p.route.name, p.arm.name), ARM_COUNTS]);
  if (p.version.manifest.monitor)
    keys.push([labelSeriesKey(p.route.name, p.arm.name, p.version.model, p.version.version), LABEL_COUNTS]);
}
const driftVersions = [...batches.keys()].filter((v) => drift.layout(v));
for (const v of driftVersions) keys.push([driftSeries(v.model, v.version), drift.layout(v)!.length]);
const last = Math.floor(clock / MINUTE_MS);
let buckets = 0;
let payloadBytes = 0;
let slotsPerMinute = 0;
for (const [key, length] of keys) {
  const minutes = await store.minutes(key, last - MINUTES, last);
  buckets += minutes.length;
  for (const [, v] of minutes) payloadBytes += v.byteLength;
  slotsPerMinute += length;
}
// The snapshot's own work on the loop for one minute (copy into a buffer, CRC): the rest of what the
// loop delay shows during a snapshot is the collector's pauses over the whole heap, which land there too.
const lastEntries: SegmentEntry[] = [];
for (const [key] of keys) {
  const [minute] = await store.minutes(key, last, last);
  if (minute) lastEntries.push({ key, vector: minute[1] });
}
const encodeStarted = performance.now();
for (let i = 0; i < 10; i++) encodeSegment(last, lastEntries);
const encodeMs = (performance.now() - encodeStarted) / 10;
let snapshotBytes: number | null = null;
let loadS: number | null = null;
let reloadedEqual: boolean | null = null;
await monitor.close();
if (args.snapshot) {
  const live = await store.sums(
    keys.map(([k]) => k),
    last,
    RETAINED_MINUTES,
    0,
  );
  await store.close();
  // The first format's one file, or the segments that replace it.
  const legacy = join(stateDir, 'monitor.json');
  const segments = join(stateDir, 'monitor');
  snapshotBytes = existsSync(legacy)
    ? statSync(legacy).size
    : readdirSync(segments).reduce((n, f) => n + statSync(join(segments, f)).size, 0);
  const t = performance.now();
  const reopened = EmbeddedMonitorCounts.open(stateDir, log);
  loadS = (performance.now() - t) / 1000;
  const reread = await reopened.sums(
    keys.map(([k]) => k),
    last,
    RETAINED_MINUTES,
    0,
  );
  reloadedEqual = reread.every((v, i) => v.length === live[i]!.length && v.every((x, j) => x === live[i]![j]));
  await reopened.close();
}
rmSync(stateDir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({
    routes: router.routes.size,
    arms: picks.length,
    versions: batches.size,
    driftVersions: driftVersions.length,
    features: driftVersions.reduce((n, v) => n + drift.layout(v)!.features.length, 0),
    series: keys.length,
    slotsPerMinute,
    perArm: PER_ARM,
    minutes: MINUTES,
    events,
    buckets,
    payloadBytes,
    heapBytes: after - before,
    snapshotBytes,
    snapshots: SNAPSHOTS,
    catchUpBlockMs,
    snapshotBlockMs: args.snapshot ? steady.max / 1e6 : null,
    snapshotBlockP99Ms: args.snapshot ? steady.percentile(99) / 1e6 : null,
    encodeMs,
    loadS,
    reloadedEqual,
    simulatedS: simulatedMs / 1000,
  })}\n`,
);
process.exit(0);
