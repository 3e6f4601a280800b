/**
 * A count belongs to the minute its event happened in, not to the minute it is handed to the store
 * (once a second): pulls, outcomes and label counts made in the last milliseconds of a minute stay
 * in that minute when the hand-over comes after it turned, and so do drift rows and their scores,
 * even when a batch's scores come back in the next minute. Clocks are injected.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TensorData } from '../../src/inference/messages.js';
import { createLogger } from '../../src/log.js';
import { DriftCounters, driftSeries } from '../../src/monitoring/drift-counters.js';
import { minuteOf } from '../../src/monitoring/minute-window.js';
import { Monitor } from '../../src/monitoring/monitor.js';
import { armSeriesKey, labelSeriesKey } from '../../src/monitoring/monitor-series.js';
import { Registry } from '../../src/registry/registry.js';
import { scanRepository } from '../../src/registry/repository.js';
import { parseRouteSpec } from '../../src/routing/route-spec.js';
import { Router } from '../../src/routing/router.js';
import { EmbeddedMonitorCounts } from '../../src/state/embedded/monitor-counts.js';
import { DEMO_MODELS } from '../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'croupier-minute-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 10:00:59.950 UTC: 50 ms before a minute turns. */
const BEFORE = Date.UTC(2026, 11, 3, 10, 0, 59, 950);
const M = minuteOf(BEFORE);
const AFTER = BEFORE + 70; // 10:01:00.020

const registry = new Registry(scanRepository(DEMO_MODELS));
const lookup = (m: string, v: string) => registry.lookup(m, v);

describe('counts at a minute boundary', () => {
  it('puts pulls, outcomes and labels in the minute they happened, though handed over in the next', async () => {
    const store = EmbeddedMonitorCounts.open(dir, createLogger('silent'));
    let clock = BEFORE;
    const route = parseRouteSpec(
      'r',
      { policy: 'fixed', arms: [{ name: 'champion', model: 'fraud', version: '1' }] },
      lookup,
    );
    const router = new Router(registry, new Map([['r', route]]));
    const monitor = new Monitor({ store, router, registry, log: createLogger('silent'), now: () => clock });
    try {
      const r = router.get('r')!;
      for (let i = 0; i < 3; i++) monitor.decided(router.pick(r, undefined));
      // fraud@1 has `monitor` (threshold 0.5, positive 1): a true positive, then a false positive.
      monitor.outcome('r', 'champion', 'fraud@1', 1, 1, 0.9);
      monitor.outcome('r', 'champion', 'fraud@1', 0, 0, 0.8);
      clock = AFTER;
      for (let i = 0; i < 2; i++) monitor.decided(router.pick(r, undefined));
      monitor.outcome('r', 'champion', 'fraud@1', 0, 0, 0.1);
      // The hand-over, after the minute turned.
      await monitor.flush();
      const arms = await store.minutes(armSeriesKey('r', 'champion'), M - 1, M + 1);
      expect(arms.map(([m, v]) => [m - M, v[0], v[2], v[3]])).toEqual([
        [0, 3, 2, 1], // minute M: 3 pulls, 2 outcomes, reward 1
        [1, 2, 1, 0], // minute M + 1: 2 pulls, 1 outcome
      ]);
      // Label counts [n, tp, fp, tn, fn, …]: a true and a false positive in M, a true negative in M + 1.
      const labels = await store.minutes(labelSeriesKey('r', 'champion', 'fraud', '1'), M - 1, M + 1);
      expect(labels.map(([m, v]) => [m - M, ...v.slice(0, 5)])).toEqual([
        [0, 2, 1, 1, 0, 0],
        [1, 1, 0, 0, 1, 0],
      ]);
      // Events of one minute only, handed over in a later one: still that minute.
      clock = AFTER + 60_000;
      monitor.decided(router.pick(r, undefined));
      clock = AFTER + 120_000;
      await monitor.flush();
      const later = await store.minutes(armSeriesKey('r', 'champion'), M + 2, M + 3);
      expect(later.map(([m, v]) => [m - M, v[0]])).toEqual([[2, 1]]);
    } finally {
      await monitor.close();
      await store.close();
    }
  });

  it('puts drift rows in the minute they were counted, and their scores with them when the batch ends in the next', async () => {
    const store = EmbeddedMonitorCounts.open(join(dir, 'drift'), createLogger('silent'));
    let clock = BEFORE;
    const counters = new DriftCounters(() => clock);
    const version = registry.resolve('fraud', '1')!;
    const counter = counters.counter(version)!;
    const layout = counters.layout(version)!;
    const p = layout.prediction!;
    const rows = (n: number): TensorData[] => [
      { name: 'features', type: 'float32', dims: [n, 32], data: new Float32Array(n * 32) },
    ];
    const scores = (n: number, x: number): TensorData[] => {
      const outs: TensorData[] = [];
      outs[p.output] = {
        name: 'probability',
        type: 'float32',
        dims: [n, p.rowSize],
        data: new Float32Array(n * p.rowSize).fill(x),
      };
      return outs;
    };
    const bin = (x: number): number => p.offset + p.histogram.edges.filter((e) => e <= x).length;
    try {
      const first = counter.count(rows(3), 3, 0); // 3 rows in minute M, scored after it turned
      clock = AFTER;
      const second = counter.count(rows(2), 2, 10);
      counter.countScores(scores(3, 0.99), 3, first);
      counter.countScores(scores(2, 0.001), 2, second);
      // A batch counted in M + 1, handed over before its scores come back in M + 2.
      const third = counter.count(rows(4), 4, 20);
      const deltas = counters.deltas();
      clock = AFTER + 60_000;
      counter.countScores(scores(4, 0.99), 4, third);
      deltas.push(...counters.deltas());
      expect(deltas.map((d) => [d.minute - M, d.amounts[0], d.amounts[bin(0.99)], d.amounts[bin(0.001)]])).toEqual([
        [0, 3, 3, 0],
        [1, 6, 0, 2],
        [1, 0, 4, 0],
      ]);
      expect(deltas.every((d) => d.key.series === driftSeries('fraud', '1').series)).toBe(true);
      await store.apply(deltas);
      const [m] = await store.sums([driftSeries('fraud', '1')], M, 1, layout.length);
      const [next] = await store.sums([driftSeries('fraud', '1')], M + 1, 1, layout.length);
      expect([m![0], m![bin(0.99)]]).toEqual([3, 3]);
      expect([next![0], next![bin(0.99)], next![bin(0.001)]]).toEqual([6, 4, 2]);
      expect(counters.deltas()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
