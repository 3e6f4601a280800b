/** Health counts through the real embedded store: what the predict and feedback paths add, and what reads sum. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CroupierError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import {
  ERRORS,
  Health,
  LATENCY_AT,
  OUTCOMES,
  REQUESTS,
  REWARD,
  REWARD_SQ,
} from '../../../src/monitoring/guardrails/health.js';
import { latencyQuantile } from '../../../src/monitoring/guardrails/latency-buckets.js';
import type { Registry } from '../../../src/registry/registry.js';
import type { ModelVersion } from '../../../src/registry/repository.js';
import { parseRouteSpec } from '../../../src/routing/route-spec.js';
import { Router } from '../../../src/routing/router.js';
import { EmbeddedMonitorCounts } from '../../../src/state/embedded/monitor-counts.js';

const v = (version: string) => ({ key: `m@${version}`, model: 'm', version }) as ModelVersion;
const versions = new Map([
  ['1', v('1')],
  ['2', v('2')],
]);
const registry = {
  resolve: (_m: string, version: string) => versions.get(version),
  model: () => ({ versions }),
} as unknown as Registry;

describe('health counts', () => {
  let dir: string;
  let store: EmbeddedMonitorCounts;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'croupier-health-'));
    store = EmbeddedMonitorCounts.open(dir, createLogger('silent'));
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("count answers, 5xx, latency and outcomes per arm and version, and the route's error counts", async () => {
    const spec = parseRouteSpec(
      'r',
      {
        policy: 'fixed',
        arms: [
          { name: 'a', model: 'm', version: '1', weight: 1 },
          { name: 'b', model: 'm', version: '2', weight: 0 },
        ],
      },
      () => 'ok',
    );
    const router = new Router(registry, new Map([['r', spec]]));
    const now = Date.now();
    const health = new Health({ store, registry, router, log: createLogger('silent'), now: () => now });
    // Two "replicas" adding to one store: reads sum them.
    const other = new Health({ store, registry, router, log: createLogger('silent'), now: () => now });
    const route = router.get('r')!;
    for (let i = 0; i < 100; i++) health.served(router.pick(route, undefined), 8);
    for (let i = 0; i < 30; i++) other.served(router.pick(route, undefined), 8);
    const pick = router.pick(route, undefined);
    health.failed(pick, new Error('the model failed'));
    other.failed(pick, new CroupierError('queue_full'));
    health.failed(pick, new CroupierError('invalid_request'));
    for (const reward of [1, 0, 1]) health.outcome('r', 'a', 'm@1', reward);
    await other.flush();
    const a = await health.over([{ route: 'r', arm: 'a', model: 'm', version: '1' }], 0, Number.MAX_SAFE_INTEGER / 2);
    expect([a[REQUESTS], a[ERRORS], a[OUTCOMES], a[REWARD], a[REWARD_SQ]]).toEqual([132, 2, 3, 2, 2]);
    const p99 = latencyQuantile(a, 0.99, LATENCY_AT)!;
    expect(p99).toBeGreaterThanOrEqual(8);
    expect(p99).toBeLessThan(20);
    expect(await health.errorCounts('r', 60, now)).toEqual({ requests: 132, errors: 2 });
    expect(await health.errorCounts('nowhere', 60, now)).toEqual({ requests: 0, errors: 0 });
    // An hour later the window holds none of it.
    expect(await health.errorCounts('r', 60, now + 61 * 60_000)).toEqual({ requests: 0, errors: 0 });
    await health.close();
    await other.close();
  });
});
