/**
 * Monitoring's minutes in embedded mode (the MonitorCounts port, monitoring/monitor-counts.ts): in
 * memory, persisted in `<stateDir>/monitor/` as one segment per minute (monitor-segment.ts), and
 * read back at start — a crash loses at most the last minute of monitoring counts, never an
 * outcome (those are journaled).
 *
 * A snapshot (every minute in which something changed, and at close) writes only the minutes that
 * changed since the last one — the open minute, and the one just finished — so what it costs the
 * event loop (copying those minutes' vectors into a buffer) does not grow with the day retained;
 * the writes, fsyncs and renames run in the thread pool. The whole-day `JSON.stringify` of the
 * first format held the loop 1–3 s a minute with 20 monitored versions (bench/RESULTS.md
 * "Monitoring memory"). Segments an hour past the longest window are deleted.
 *
 * A segment that cannot be read (torn, corrupt) is set aside with an error logged and the other
 * minutes load: monitoring loses that minute rather than keep the server from starting. An old
 * `monitor.json` is read once (minutes that already have a segment keep the segment's), written
 * out as segments, then removed.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { MinuteWindow, RETAINED_MINUTES } from '../../monitoring/minute-window.js';
import type { Delta, MonitorCounts, SeriesKey } from '../../monitoring/monitor-counts.js';
import { seriesId } from '../../monitoring/monitor-counts.js';
import { LEGACY_FILE, parseLegacySnapshot } from './monitor-legacy.js';
import { decodeSegment, encodeSegment, type SegmentEntry, segmentMinute, segmentName } from './monitor-segment.js';

export const SEGMENT_DIR = 'monitor';
const SNAPSHOT_MS = 60_000;
/** A segment this many minutes behind the newest is read by no window (an hour of margin past a day). */
export const KEPT_MINUTES = RETAINED_MINUTES + 60;

export class EmbeddedMonitorCounts implements MonitorCounts {
  private readonly series = new Map<string, { key: SeriesKey; window: MinuteWindow }>();
  /** Minutes changed since their segment was written. */
  private readonly dirty = new Set<number>();
  /** Minutes that have a segment. */
  private readonly onDisk = new Set<number>();
  private newest = -Infinity;
  /** The old-format snapshot read at start: removed once its minutes are segments. */
  private legacy: string | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly dir: string;

  private constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {
    this.dir = join(stateDir, SEGMENT_DIR);
    this.timer = setInterval(() => {
      if (this.dirty.size > 0) void this.snapshot();
    }, SNAPSHOT_MS);
    this.timer.unref();
  }

  static open(stateDir: string, log: Logger): EmbeddedMonitorCounts {
    const store = new EmbeddedMonitorCounts(stateDir, log);
    mkdirSync(store.dir, { recursive: true });
    store.loadSegments();
    store.loadLegacy();
    if (store.legacy) void store.snapshot();
    return store;
  }

  async apply(deltas: readonly Delta[]): Promise<void> {
    for (const d of deltas) {
      this.windowOf(d.key).add(d.minute, d.amounts);
      this.dirty.add(d.minute);
      if (d.minute > this.newest) this.newest = d.minute;
    }
  }

  async sums(keys: readonly SeriesKey[], lastMinute: number, minutes: number, length: number): Promise<Float64Array[]> {
    return keys.map(
      (k) => this.series.get(seriesId(k))?.window.sum(lastMinute, minutes, length) ?? new Float64Array(length),
    );
  }

  async minutes(key: SeriesKey, first: number, last: number): Promise<[number, Float64Array][]> {
    return this.series.get(seriesId(key))?.window.range(first, last) ?? [];
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.snapshot();
  }

  /**
   * Writes the segments of the minutes changed since the last snapshot and deletes those past
   * retention; one snapshot at a time. The timer calls it every minute; public for the bench.
   */
  snapshot(): Promise<void> {
    this.writing = this.writing
      .then(() => this.writeChanged())
      .catch((err: unknown) => this.log.error({ err }, 'monitoring: snapshot failed; retrying in a minute'));
    return this.writing;
  }

  private windowOf(key: SeriesKey): MinuteWindow {
    const id = seriesId(key);
    let s = this.series.get(id);
    if (!s) {
      s = { key: { scope: key.scope, name: key.name, series: key.series }, window: new MinuteWindow() };
      this.series.set(id, s);
    }
    return s.window;
  }

  private async writeChanged(): Promise<void> {
    const migrating = this.legacy;
    const oldest = this.newest - KEPT_MINUTES;
    let failed: unknown;
    let failures = 0;
    // One minute at a time, each encoded (copied) just before its write: the loop is held for one
    // minute's copy at most, however many minutes changed (after a migration: a day of them).
    for (const minute of [...this.dirty].sort((a, b) => a - b)) {
      this.dirty.delete(minute);
      try {
        const entries = minute > oldest ? this.entriesAt(minute) : [];
        if (entries.length > 0) {
          await this.writeSegment(minute, encodeSegment(minute, entries));
          this.onDisk.add(minute);
        } else if (this.onDisk.delete(minute)) await rm(join(this.dir, segmentName(minute)), { force: true });
      } catch (err) {
        this.dirty.add(minute);
        failed ??= err;
        failures++;
      }
    }
    for (const minute of this.onDisk) {
      if (minute > oldest) continue;
      this.onDisk.delete(minute);
      await rm(join(this.dir, segmentName(minute)), { force: true }).catch(() => undefined);
    }
    try {
      await syncDir(this.dir);
    } catch (err) {
      failed ??= err;
    }
    if (failed !== undefined) {
      this.log.error({ err: failed, minutes: failures }, 'monitoring: snapshot not written; retrying in a minute');
      return;
    }
    if (migrating) {
      await rm(migrating, { force: true });
      await syncDir(this.stateDir).catch(() => undefined);
      this.legacy = undefined;
      this.log.info({ file: migrating }, `monitoring: ${LEGACY_FILE} migrated to ${SEGMENT_DIR}/ and removed`);
    }
  }

  private entriesAt(minute: number): SegmentEntry[] {
    const entries: SegmentEntry[] = [];
    for (const { key, window } of this.series.values()) {
      const vector = window.at(minute);
      if (vector) entries.push({ key, vector });
    }
    return entries;
  }

  /** Temporary file, fsync, rename: a crash leaves the old segment or the new one (the folder is synced once per snapshot). */
  private async writeSegment(minute: number, bytes: Buffer): Promise<void> {
    const path = join(this.dir, segmentName(minute));
    const temp = join(this.dir, `.${segmentName(minute)}.tmp`);
    try {
      const fh = await open(temp, 'w', 0o600);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  private loadSegments(): void {
    const files: [number, string][] = [];
    for (const file of readdirSync(this.dir)) {
      if (file.endsWith('.tmp')) rmSync(join(this.dir, file), { force: true }); // a write a crash cut short
      const minute = segmentMinute(file);
      if (minute !== undefined) files.push([minute, file]);
    }
    files.sort((a, b) => a[0] - b[0]);
    const oldest = (files.at(-1)?.[0] ?? 0) - KEPT_MINUTES;
    for (const [minute, file] of files) {
      const path = join(this.dir, file);
      if (minute <= oldest) {
        rmSync(path, { force: true });
        continue;
      }
      try {
        const segment = decodeSegment(readFileSync(path));
        if (segment.minute !== minute) throw new Error(`holds minute ${segment.minute}, not ${minute}`);
        for (const { key, vector } of segment.entries) this.windowOf(key).add(minute, vector);
        this.onDisk.add(minute);
        if (minute > this.newest) this.newest = minute;
      } catch (err) {
        this.setAside(path, err, 'monitoring: a minute segment is unreadable, set aside; the other minutes load');
      }
    }
  }

  private loadLegacy(): void {
    const path = join(this.stateDir, LEGACY_FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return; // no old snapshot: nothing to migrate
    }
    try {
      for (const { key, minutes } of parseLegacySnapshot(text)) {
        const window = this.windowOf(key);
        for (const [minute, v] of minutes) {
          if (this.onDisk.has(minute)) continue; // a segment is the later image of that minute
          window.add(minute, v);
          this.dirty.add(minute);
          if (minute > this.newest) this.newest = minute;
        }
      }
      this.legacy = path;
    } catch (err) {
      this.setAside(path, err, 'monitoring: snapshot unreadable, set aside; windows start from the segments alone');
    }
  }

  private setAside(path: string, err: unknown, message: string): void {
    const aside = `${path}.unreadable-${Date.now()}`;
    try {
      renameSync(path, aside);
    } catch {
      /* left where it is: the next snapshot replaces it or it stays unread */
    }
    this.log.error({ err, file: aside }, message);
  }
}

/** Makes the renames and deletions in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
