/**
 * The embedded monitoring store's first snapshot format, `monitor.json` (every series with every
 * minute, each minute's vector sparse: index → sum), read once at start after an upgrade so the
 * windows keep their day; the store then writes those minutes as segments and removes the file
 * (state/embedded/monitor-counts.ts).
 */
import type { SeriesKey } from '../../monitoring/monitor-counts.js';

export const LEGACY_FILE = 'monitor.json';

interface LegacySnapshot {
  version: 1;
  series: { key: SeriesKey; minutes: [number, Record<string, number>][] }[];
}

export interface LegacySeries {
  key: SeriesKey;
  minutes: [number, Float64Array][];
}

/** The snapshot's series, every value checked; throws on anything malformed (nothing half-read). */
export function parseLegacySnapshot(text: string): LegacySeries[] {
  const snap = JSON.parse(text) as LegacySnapshot;
  if (snap?.version !== 1 || !Array.isArray(snap.series)) throw new Error('not a monitoring snapshot');
  const out: LegacySeries[] = [];
  for (const { key, minutes } of snap.series) {
    if (
      (key?.scope !== 'route' && key?.scope !== 'model')
      || typeof key.name !== 'string'
      || typeof key.series !== 'string'
      || !Array.isArray(minutes)
    )
      throw new Error('bad series key');
    const series: LegacySeries = { key: { scope: key.scope, name: key.name, series: key.series }, minutes: [] };
    for (const [minute, sparse] of minutes) {
      if (!Number.isSafeInteger(minute) || typeof sparse !== 'object' || sparse === null) throw new Error('bad minute');
      const indexes = Object.keys(sparse).map(Number);
      const v = new Float64Array(indexes.reduce((n, i) => Math.max(n, i + 1), 0));
      for (const i of indexes) {
        const x = sparse[i];
        if (!Number.isInteger(i) || i < 0 || typeof x !== 'number' || !Number.isFinite(x))
          throw new Error('bad minute vector');
        v[i] = x;
      }
      series.minutes.push([minute, v]);
    }
    out.push(series);
  }
  return out;
}
