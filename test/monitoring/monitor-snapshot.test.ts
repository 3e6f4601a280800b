/**
 * The embedded MonitorCounts store on disk (issue 16): one segment per minute in
 * `<stateDir>/monitor/`, so a snapshot writes the minutes that changed instead of the whole day
 * (the whole-day JSON.stringify held the event loop for seconds with 20 monitored versions). A torn
 * or corrupt segment costs its minute only; an old `monitor.json` is migrated once; segments past
 * retention go.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { minuteOf } from '../../src/monitoring/minute-window.js';
import type { SeriesKey } from '../../src/monitoring/monitor-counts.js';
import { seededRng } from '../../src/routing/sampling.js';
import { EmbeddedMonitorCounts, KEPT_MINUTES, SEGMENT_DIR } from '../../src/state/embedded/monitor-counts.js';
import { segmentName } from '../../src/state/embedded/monitor-segment.js';

const arm: SeriesKey = { scope: 'route', name: 'fraud-scoring', series: 'arm:champion' };
const drift: SeriesKey = { scope: 'model', name: 'fraud', series: 'drift:2' };
const now = minuteOf(Date.now());

/** A logger whose error lines the test can read. */
function recordingLog() {
  const lines: { level: string; msg: string; file?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger('info', sink), errors: () => lines.filter((l) => l.level === 'error') };
}

let dir = '';
const segments = () => readdirSync(join(dir, SEGMENT_DIR)).sort();
const quiet = createLogger('silent');

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'croupier-monitor-snap-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('embedded monitoring snapshot: segments', () => {
  it('writes one segment per minute with data, and a restart reads every value back exactly', async () => {
    const store = EmbeddedMonitorCounts.open(dir, quiet);
    // Values that text would round if it were not careful: the segments carry the bytes.
    await store.apply([
      { key: arm, minute: now - 2, amounts: Float64Array.of(0.1 + 0.2, 1 / 3, 5e-324, 1.7976931348623157e308) },
      { key: drift, minute: now - 2, amounts: Float64Array.of(Math.PI) },
      { key: drift, minute: now, amounts: Float64Array.of(-1e-300, 2 ** 53 + 2) },
    ]);
    await store.close();
    expect(segments()).toEqual([segmentName(now - 2), segmentName(now)].sort());
    const again = EmbeddedMonitorCounts.open(dir, quiet);
    expect(await again.minutes(arm, now - 5, now)).toEqual([
      [now - 2, Float64Array.of(0.1 + 0.2, 1 / 3, 5e-324, 1.7976931348623157e308)],
    ]);
    expect(await again.minutes(drift, now - 5, now)).toEqual([
      [now - 2, Float64Array.of(Math.PI)],
      [now, Float64Array.of(-1e-300, 2 ** 53 + 2)],
    ]);
    await again.close();
  });

  it('a snapshot rewrites only the minutes that changed since the last one', async () => {
    const store = EmbeddedMonitorCounts.open(dir, quiet);
    await store.apply([
      { key: arm, minute: now - 1, amounts: Float64Array.of(1) },
      { key: arm, minute: now, amounts: Float64Array.of(1) },
    ]);
    await store.snapshot();
    const finished = join(dir, SEGMENT_DIR, segmentName(now - 1));
    const bytes = readFileSync(finished);
    // A marker in place of the finished minute's segment: a rewrite would put real bytes back.
    writeFileSync(finished, 'untouched');
    await store.apply([{ key: arm, minute: now, amounts: Float64Array.of(2) }]);
    await store.snapshot();
    expect(readFileSync(finished, 'utf8')).toBe('untouched');
    await store.close();
    writeFileSync(finished, bytes);
    const again = EmbeddedMonitorCounts.open(dir, quiet);
    expect(await again.minutes(arm, now - 1, now)).toEqual([
      [now - 1, Float64Array.of(1)],
      [now, Float64Array.of(3)],
    ]);
    await again.close();
  });

  it('a segment torn mid-write or corrupted is set aside with one error logged, and the other minutes load', async () => {
    const store = EmbeddedMonitorCounts.open(dir, quiet);
    for (const m of [now - 3, now - 2, now - 1])
      await store.apply([{ key: arm, minute: m, amounts: Float64Array.from({ length: 64 }, (_, i) => m + i) }]);
    await store.close();
    const torn = join(dir, SEGMENT_DIR, segmentName(now - 3));
    truncateSync(torn, readFileSync(torn).length - 100);
    const flipped = join(dir, SEGMENT_DIR, segmentName(now - 1));
    const bytes = readFileSync(flipped);
    bytes[bytes.length - 7]! ^= 0x10;
    writeFileSync(flipped, bytes);

    const { log, errors } = recordingLog();
    const again = EmbeddedMonitorCounts.open(dir, log);
    expect((await again.minutes(arm, now - 10, now)).map(([m]) => m)).toEqual([now - 2]);
    expect(errors()).toHaveLength(2);
    expect(errors().map((e) => e.file)).toEqual([
      expect.stringContaining(`${segmentName(now - 3)}.unreadable-`),
      expect.stringContaining(`${segmentName(now - 1)}.unreadable-`),
    ]);
    expect(segments().filter((f) => f.includes('.unreadable-'))).toHaveLength(2);
    await again.close();
  });

  it('a temporary file left by a crash mid-write is removed at start, and the segment it would have replaced loads', async () => {
    const store = EmbeddedMonitorCounts.open(dir, quiet);
    await store.apply([{ key: arm, minute: now, amounts: Float64Array.of(7) }]);
    await store.close();
    writeFileSync(join(dir, SEGMENT_DIR, `.${segmentName(now)}.tmp`), 'CRMONMIN half a write');
    const again = EmbeddedMonitorCounts.open(dir, quiet);
    expect(segments()).toEqual([segmentName(now)]);
    expect(await again.minutes(arm, now, now)).toEqual([[now, Float64Array.of(7)]]);
    await again.close();
  });

  it('deletes segments past the longest window and an hour, at start and as the minutes move on', async () => {
    const store = EmbeddedMonitorCounts.open(dir, quiet);
    await store.apply([
      { key: arm, minute: now - KEPT_MINUTES, amounts: Float64Array.of(1) },
      { key: arm, minute: now - KEPT_MINUTES + 1, amounts: Float64Array.of(1) },
    ]);
    await store.close();
    expect(segments()).toHaveLength(2);
    // Later, the clock has moved on by a minute and another: the first goes, then the second.
    const later = EmbeddedMonitorCounts.open(dir, quiet);
    await later.apply([{ key: drift, minute: now, amounts: Float64Array.of(1) }]);
    await later.snapshot();
    expect(segments()).toEqual([segmentName(now - KEPT_MINUTES + 1), segmentName(now)].sort());
    await later.apply([{ key: drift, minute: now + 1, amounts: Float64Array.of(1) }]);
    await later.close();
    expect(segments()).toEqual([segmentName(now), segmentName(now + 1)].sort());
    // A stale segment found at start (a server stopped for days) is deleted, not loaded.
    writeFileSync(
      join(dir, SEGMENT_DIR, segmentName(now - 3 * KEPT_MINUTES)),
      readFileSync(join(dir, SEGMENT_DIR, segmentName(now))),
    );
    const again = EmbeddedMonitorCounts.open(dir, quiet);
    expect(segments()).toEqual([segmentName(now), segmentName(now + 1)].sort());
    await again.close();
  });
});

describe('embedded monitoring snapshot: the old monitor.json', () => {
  const legacy = (minutes: [number, Record<string, number>][]) =>
    JSON.stringify({
      version: 1,
      series: [
        { key: arm, minutes },
        { key: drift, minutes: [[now - 1, { 1: 4 }]] },
      ],
    });

  it('is read at start, written out as segments, then removed: an upgrade keeps the day', async () => {
    writeFileSync(
      join(dir, 'monitor.json'),
      legacy([
        [now - 1_000, { 0: 1, 2: 0.5 }],
        [now - 1, { 1: 2 }],
      ]),
    );
    const { log, errors } = recordingLog();
    const store = EmbeddedMonitorCounts.open(dir, log);
    expect([...(await store.sums([arm, drift], now, 1_440, 3)).flatMap((v) => [...v])]).toEqual([1, 2, 0.5, 0, 4, 0]);
    await store.close();
    expect(errors()).toEqual([]);
    expect(existsSync(join(dir, 'monitor.json'))).toBe(false);
    expect(segments()).toEqual([segmentName(now - 1_000), segmentName(now - 1)].sort());
    const again = EmbeddedMonitorCounts.open(dir, quiet);
    expect(await again.minutes(arm, now - 1_440, now)).toEqual([
      [now - 1_000, Float64Array.of(1, 0, 0.5)],
      [now - 1, Float64Array.of(0, 2)],
    ]);
    await again.close();
  });

  it('a migration cut short counts nothing twice: a minute that has a segment keeps the segment', async () => {
    // The segment of now - 1 was written (it holds the old minute plus what came after the
    // upgrade); the process died before monitor.json was removed.
    const store = EmbeddedMonitorCounts.open(dir, quiet);
    await store.apply([
      { key: arm, minute: now - 1, amounts: Float64Array.of(0, 2 + 3) },
      { key: drift, minute: now - 1, amounts: Float64Array.of(0, 4) },
    ]);
    await store.close();
    writeFileSync(
      join(dir, 'monitor.json'),
      legacy([
        [now - 5, { 0: 1 }],
        [now - 1, { 1: 2 }],
      ]),
    );
    const again = EmbeddedMonitorCounts.open(dir, quiet);
    expect([...(await again.sums([arm], now, 60, 2))[0]!]).toEqual([1, 5]);
    expect([...(await again.sums([drift], now, 60, 2))[0]!]).toEqual([0, 4]);
    await again.close();
    expect(existsSync(join(dir, 'monitor.json'))).toBe(false);
  });
});

describe('embedded monitoring snapshot: the event loop', () => {
  it('a snapshot of 55 series × 1,440 minutes does not hold the loop (the whole-day JSON.stringify did)', async () => {
    const SERIES = 55;
    const SLOTS = 64;
    const keys: SeriesKey[] = Array.from({ length: SERIES }, (_, i) => ({
      scope: 'model',
      name: `m${i % 5}`,
      series: `drift:${i}`,
    }));
    const rng = seededRng(16);
    const minuteOfTraffic = (minute: number) =>
      keys.map((key) => ({ key, minute, amounts: Float64Array.from({ length: SLOTS }, () => rng() * 100) }));
    const store = EmbeddedMonitorCounts.open(dir, quiet);
    for (let m = now - 1_439; m <= now; m++) await store.apply(minuteOfTraffic(m));
    await store.snapshot(); // the day, written once
    expect(segments()).toHaveLength(1_440);

    // The next minute's snapshot, as the timer makes it: the open minute and the one just finished.
    await store.apply(minuteOfTraffic(now));
    await store.apply(minuteOfTraffic(now + 1));
    const delay = monitorEventLoopDelay({ resolution: 2 });
    delay.enable();
    await store.close();
    // A few more ticks, so the histogram holds samples even when the snapshot was quicker than one.
    await new Promise((resolve) => setTimeout(resolve, 20));
    delay.disable();
    expect(delay.count).toBeGreaterThan(0);
    process.stdout.write(`snapshot of the next minute: loop held ${(delay.max / 1e6).toFixed(1)} ms at most\n`);
    // Generous for a loaded 2-core machine; the whole-day stringify of the same store took > 1 s.
    expect(delay.max / 1e6).toBeLessThan(100);
    expect(segments()).toHaveLength(1_441);
  }, 120_000);
});
