/**
 * The Guardrails evaluator on a fake clock, with the real health store and guard state: only the
 * leader acts, the champion is never disabled, and a watch that ran out of minutes ends without
 * acting (while one still running rolls back).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { Guardrails } from '../../../src/monitoring/guardrails/guardrails.js';
import { Health } from '../../../src/monitoring/guardrails/health.js';
import type { Registry } from '../../../src/registry/registry.js';
import type { ModelVersion } from '../../../src/registry/repository.js';
import { parseRouteSpec } from '../../../src/routing/route-spec.js';
import { type ArmChoice, Router } from '../../../src/routing/router.js';
import { FileGuardState } from '../../../src/state/embedded/guard-state.js';
import { EmbeddedMonitorCounts } from '../../../src/state/embedded/monitor-counts.js';

const log = createLogger('silent');
const v = (version: string) => ({ key: `m@${version}`, model: 'm', version }) as ModelVersion;
const versions = new Map([
  ['1', v('1')],
  ['2', v('2')],
]);
let live = versions.get('2')!;
const registry = {
  resolve: (_m: string, version: string) => (version === 'live' ? live : versions.get(version)),
  model: () => ({ versions, live }),
} as unknown as Registry;

describe('the guardrails evaluator', () => {
  let dir: string;
  let store: EmbeddedMonitorCounts;
  let now: number;
  let leading: boolean;
  let acted: string[];
  let router: Router;
  let health: Health;
  let guards: Guardrails;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'croupier-guardrails-'));
    store = EmbeddedMonitorCounts.open(dir, log);
    now = Date.UTC(2026, 11, 3, 10, 0, 0);
    leading = true;
    acted = [];
    live = versions.get('2')!;
    const spec = parseRouteSpec(
      'r',
      {
        policy: 'fixed',
        arms: [
          { name: 'champion', model: 'm', version: '1' },
          { name: 'challenger', model: 'm', version: 'live' },
        ],
        guardrails: { champion: 'champion', checks: ['error_rate'], minSamples: 50 },
      },
      () => 'ok',
    );
    router = new Router(registry, new Map([['r', spec]]));
    health = new Health({ store, registry, router, log, now: () => now });
    guards = new Guardrails({
      router,
      registry,
      health,
      state: new FileGuardState(dir),
      leadership: { lead: async () => leading, resign: async () => undefined },
      actor: {
        disabled: async (route, arm) => {
          acted.push(`disable ${route}/${arm}`);
        },
        rollback: async (model, version) => {
          acted.push(`rollback ${model} ${version}`);
          return true;
        },
      },
      log,
      intervalMs: 1000,
      now: () => now,
    });
  });

  afterEach(async () => {
    await guards.close();
    await health.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `n` answers of the route's arm `i`, `errors` of them 5xx. */
  const traffic = (i: number, n: number, errors: number): void => {
    const route = router.get('r')!;
    const arm = route.arms[i]!;
    const pick: ArmChoice = {
      route,
      arm,
      version: registry.resolve('m', arm.version)!,
      propensity: 0.5,
      weights: route.policy.weights,
    };
    for (let k = 0; k < n; k++)
      if (k < errors) health.failed(pick, new Error('failed'));
      else health.served(pick, 2);
  };

  it('acts only as the leader', async () => {
    traffic(0, 200, 0);
    traffic(1, 200, 100);
    leading = false;
    await guards.evaluate();
    expect(acted).toEqual([]);
    expect(router.isDisabled('r', 'challenger')).toBe(false);
    leading = true;
    await guards.evaluate();
    expect(acted).toEqual(['disable r/challenger']);
    expect(router.isDisabled('r', 'challenger')).toBe(true);
    // Once is enough: it is not disabled (nor announced) again.
    await guards.evaluate();
    expect(acted).toEqual(['disable r/challenger']);
  });

  it('judges challengers against the champion: a worse champion disables nothing', async () => {
    traffic(0, 200, 150);
    traffic(1, 200, 0);
    await guards.evaluate();
    expect(acted).toEqual([]);
    expect(router.get('r')!.policy.weights[0]).toBeGreaterThan(0);
  });

  it('rolls back a watched deploy that is worse, and does nothing once its minutes are over', async () => {
    // The hour before the deploy: version 1 answers.
    live = versions.get('1')!;
    traffic(1, 200, 0);
    now += 5 * 60_000;
    live = versions.get('2')!;
    await guards.watch('m', '2', '1', { minutes: 10, checks: ['error_rate'], minSamples: 50, confidence: 0.99 });
    now += 60_000;
    traffic(1, 100, 60);
    // Past its minutes: the watch ends, nothing is rolled back.
    now += 10 * 60_000;
    await guards.evaluate();
    expect(acted).toEqual([]);
    expect(await new FileGuardState(dir).watches()).toEqual([]);
    // The same within its minutes: rolled back.
    await guards.watch('m', '2', '1', { minutes: 10, checks: ['error_rate'], minSamples: 50, confidence: 0.99 });
    now += 60_000;
    traffic(1, 100, 60);
    const before = now;
    now = before + 60_000;
    await guards.evaluate();
    expect(acted).toEqual(['rollback m 2']);
  });
});
