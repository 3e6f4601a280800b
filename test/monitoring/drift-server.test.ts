/**
 * Drift counting wired into the running server: predictions on the demo fraud route are counted by
 * the batcher, handed to the monitor store once a second, and kept across a restart (embedded
 * snapshot in the state directory); in Redis mode, replicas add to the same series.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { driftLayout, driftReport } from '../../src/monitoring/drift-counter.js';
import { driftSeries } from '../../src/monitoring/drift-counters.js';
import { minuteOf } from '../../src/monitoring/minute-window.js';
import { scanRepository } from '../../src/registry/repository.js';
import { EmbeddedMonitorCounts } from '../../src/state/embedded/monitor-counts.js';
import { connectRedis, type RedisLink } from '../../src/state/redis/connection.js';
import { RedisMonitorCounts } from '../../src/state/redis/monitor-counts.js';
import { describeRedis, startRedis } from '../helpers/redis.js';
import { DEMO_MODELS, demoRow, postJson, startTestServer } from '../helpers/server.js';

const stateDir = mkdtempSync(join(tmpdir(), 'croupier-drift-state-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

describe('drift counts in the running server', () => {
  it('counts the rows each version scored, per version, into the state directory', async () => {
    const t = await startTestServer({ CROUPIER_STATE_DIR: stateDir });
    const versions: Record<string, number> = {};
    try {
      for (let i = 0; i < 40; i++) {
        const res = await postJson(`${t.url}/v1/predict/fraud-ab`, { features: [demoRow(i), demoRow(i + 1)] });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { version: string };
        versions[body.version] = (versions[body.version] ?? 0) + 2;
      }
    } finally {
      await t.stop();
    }
    const scan = scanRepository(DEMO_MODELS);
    const store = EmbeddedMonitorCounts.open(stateDir, createLogger('silent'));
    try {
      for (const v of ['1', '2']) {
        const version = scan.models.get('fraud')!.versions.get(v)!;
        const layout = driftLayout(version)!;
        const [summed] = await store.sums([driftSeries('fraud', v)], minuteOf(Date.now()), 60, layout.length);
        const report = driftReport(layout, summed!);
        expect(report.rows, `fraud@${v}`).toBe(versions[v] ?? 0);
        expect(report.sampled).toBe(false);
        if (report.rows > 0) {
          // demoRow's values are in [0, 1): far from the demo amounts, so amount has drifted.
          expect(report.features.amount!).toBeGreaterThan(0.2);
          expect(report.prediction).not.toBeNull();
        }
      }
    } finally {
      await store.close();
    }
  }, 60_000);
});

describeRedis('drift counts in Redis mode: two replicas add to the same series', () => {
  it('sums what both replicas scored, per version, for every replica to read', async () => {
    const redis = await startRedis();
    const servers = [
      await startTestServer({ CROUPIER_REDIS_URL: redis.url, CROUPIER_LOG_LEVEL: 'info' }),
      await startTestServer({ CROUPIER_REDIS_URL: redis.url, CROUPIER_LOG_LEVEL: 'info' }),
    ];
    const rows: Record<string, number> = {};
    let link: RedisLink | undefined;
    try {
      for (let i = 0; i < 60; i++) {
        const t = servers[i % 2]!;
        const res = await postJson(`${t.url}/v1/predict/fraud-ab`, { features: demoRow(i) });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { version: string };
        rows[body.version] = (rows[body.version] ?? 0) + 1;
      }
      // Applied about once a second while serving (not only at close).
      await sleep(1500);
      const config = { url: redis.url, sentinels: undefined, clusterNodes: undefined, name: undefined };
      link = await connectRedis(config, createLogger('silent'), new Metrics());
      const store = new RedisMonitorCounts(link);
      const scan = scanRepository(DEMO_MODELS);
      for (const v of ['1', '2']) {
        const layout = driftLayout(scan.models.get('fraud')!.versions.get(v)!)!;
        const [summed] = await store.sums([driftSeries('fraud', v)], minuteOf(Date.now()), 60, layout.length);
        expect(driftReport(layout, summed!).rows, `fraud@${v}`).toBe(rows[v] ?? 0);
      }
    } finally {
      await link?.close();
      for (const t of servers) await t.stop();
      await redis.stop();
    }
  }, 60_000);
});
