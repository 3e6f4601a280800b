/**
 * Monitoring's minutes in embedded mode (the MonitorCounts port, monitoring/monitor-counts.ts): in
 * memory, with a snapshot in the state directory (`monitor.json`) written (atomically, off the event loop) every
 * minute when something changed and at close, and read at start — a crash loses at most the last minute of
 * monitoring counts, never an outcome (those are journaled). A snapshot that cannot be read is
 * logged and set aside: monitoring starts empty rather than keep the server from starting.
 */
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { writeFileAtomicAsync } from '../../registry/atomic-file.js';
import type { Delta, MonitorCounts, SeriesKey } from '../../monitoring/monitor-counts.js';
import { seriesId } from '../../monitoring/monitor-counts.js';
import { MinuteWindow } from '../../monitoring/minute-window.js';

const FILE = 'monitor.json';
const SNAPSHOT_MS = 60_000;

/** The snapshot: each series with its minutes, each minute's vector sparse (index → sum). */
interface Snapshot {
  version: 1;
  series: { key: SeriesKey; minutes: [number, Record<string, number>][] }[];
}

export class EmbeddedMonitorCounts implements MonitorCounts {
  private readonly series = new Map<string, { key: SeriesKey; window: MinuteWindow }>();
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => {
      if (this.dirty) void this.snapshot();
    }, SNAPSHOT_MS);
    this.timer.unref();
  }

  static open(stateDir: string, log: Logger): EmbeddedMonitorCounts {
    const store = new EmbeddedMonitorCounts(stateDir, log);
    store.load();
    return store;
  }

  async apply(deltas: readonly Delta[]): Promise<void> {
    for (const d of deltas) this.windowOf(d.key).add(d.minute, d.amounts);
    if (deltas.length > 0) this.dirty = true;
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

  private windowOf(key: SeriesKey): MinuteWindow {
    const id = seriesId(key);
    let s = this.series.get(id);
    if (!s) {
      s = { key: { scope: key.scope, name: key.name, series: key.series }, window: new MinuteWindow() };
      this.series.set(id, s);
    }
    return s.window;
  }

  /** Writes the snapshot (temporary file, fsync, rename); one write at a time. */
  private snapshot(): Promise<void> {
    this.writing = this.writing.then(async () => {
      this.dirty = false;
      const snap: Snapshot = { version: 1, series: [] };
      for (const { key, window } of this.series.values()) {
        if (window.empty) continue;
        const minutes: [number, Record<string, number>][] = [];
        for (const [minute, v] of window.entries()) {
          const sparse: Record<string, number> = {};
          for (let i = 0; i < v.length; i++) if (v[i] !== 0) sparse[i] = v[i]!;
          minutes.push([minute, sparse]);
        }
        snap.series.push({ key, minutes });
      }
      try {
        await writeFileAtomicAsync(join(this.dir, FILE), JSON.stringify(snap));
      } catch (err) {
        this.dirty = true;
        this.log.error({ err }, 'monitoring: snapshot not written; retrying in a minute');
      }
    });
    return this.writing;
  }

  private load(): void {
    const path = join(this.dir, FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return; // first start
    }
    try {
      const snap = JSON.parse(text) as Snapshot;
      if (snap?.version !== 1 || !Array.isArray(snap.series)) throw new Error('not a monitoring snapshot');
      for (const { key, minutes } of snap.series) {
        if (
          (key?.scope !== 'route' && key?.scope !== 'model')
          || typeof key.name !== 'string'
          || typeof key.series !== 'string'
        )
          throw new Error('bad series key');
        const window = this.windowOf(key);
        for (const [minute, sparse] of minutes) {
          const indexes = Object.keys(sparse).map(Number);
          const v = new Float64Array(indexes.reduce((n, i) => Math.max(n, i + 1), 0));
          for (const i of indexes) {
            const x = sparse[i];
            if (!Number.isInteger(i) || i < 0 || typeof x !== 'number' || !Number.isFinite(x))
              throw new Error('bad minute vector');
            v[i] = x;
          }
          window.add(minute, v);
        }
      }
    } catch (err) {
      this.series.clear();
      const aside = `${path}.unreadable-${Date.now()}`;
      try {
        renameSync(path, aside);
      } catch {
        /* left where it is: the next snapshot replaces it */
      }
      this.log.error({ err, file: aside }, 'monitoring: snapshot unreadable, set aside; windows start empty');
    }
  }
}
