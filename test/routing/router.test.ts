/** Statistics belong to (arm, version): a version change restarts them; set keeps unchanged arms; reset forgets. */
import { describe, expect, it } from 'vitest';
import type { Registry } from '../../src/registry/registry.js';
import type { ModelVersion } from '../../src/registry/repository.js';
import { Router } from '../../src/routing/router.js';
import { parseRouteSpec } from '../../src/routing/route-spec.js';
import { seededRng } from '../../src/routing/sampling.js';

function fakeRegistry() {
  const live = { current: '1' };
  const version = (v: string) => ({ model: 'm', version: v, key: `m@${v}` }) as ModelVersion;
  const registry = { resolve: (_m: string, v: string) => version(v === 'live' ? live.current : v) } as unknown as Registry;
  return { registry, live };
}
const spec = (raw: Record<string, unknown>) => parseRouteSpec('r', raw, () => 'ok');

describe('Router', () => {
  it('restarts an arm when its resolved version changes, and tells observers', () => {
    const { registry, live } = fakeRegistry();
    const router = new Router(registry, new Map([['r', spec({ policy: 'thompson', arms: [{ name: 'a', model: 'm', version: 'live' }] })]]), { rng: seededRng(1) });
    const route = router.get('r')!;
    const restarts: string[] = [];
    router.observers.push({ armRestarted: (r, a, from, to) => restarts.push(`${r}/${a}: ${from} -> ${to}`) });
    router.pick(route, undefined);
    expect(router.credit(route, 0, 'm@1', 1, 0)).toBe(true);
    expect(route.stats[0]!.n).toBe(1);
    live.current = '2';
    router.pick(route, undefined);
    expect(route.stats[0]!.versionKey).toBe('m@2');
    expect(route.stats[0]!.n).toBe(0);
    expect(route.stats[0]!.pulls).toBe(1);
    // An outcome for a decision made on the old version is not credited to the new one.
    expect(router.credit(route, 0, 'm@1', 1, 0)).toBe(false);
    expect(restarts).toEqual(['r/a: m@1 -> m@2']);
  });

  it('set keeps the statistics of unchanged arms; reset forgets them all', () => {
    const { registry } = fakeRegistry();
    const arms = [{ name: 'a', model: 'm', version: '1' }, { name: 'b', model: 'm', version: '1' }];
    const router = new Router(registry, new Map([['r', spec({ policy: 'thompson', arms })]]));
    let route = router.get('r')!;
    for (const i of [0, 1]) { router.pulled(route, i, 'm@1'); router.credit(route, i, 'm@1', 1, 0); }
    route = router.set('r', spec({ policy: 'epsilon-greedy', arms: [arms[0]!, { name: 'b', model: 'm', version: '2' }, { name: 'c', model: 'm', version: '1' }] }));
    expect(route.stats.map((s) => s.n)).toEqual([1, 0, 0]);
    const resets: string[] = [];
    router.observers.push({ routeReset: (r) => resets.push(r) });
    expect(router.reset('r')).toBe(true);
    expect(route.stats.map((s) => s.n + s.pulls)).toEqual([0, 0, 0]);
    expect(router.reset('nope')).toBe(false);
    expect(resets).toEqual(['r']);
  });

  it('keeps recomputes after outcomes to a small share of the event loop, and weights still follow', async () => {
    const { registry } = fakeRegistry();
    const arms = ['a', 'b', 'c'].map((name) => ({ name, model: 'm', version: '1' }));
    // Many draws make one recompute take milliseconds, as many busy routes would.
    const router = new Router(registry, new Map([['r', spec({ policy: 'thompson', arms })]]), { draws: 10_000 });
    const route = router.get('r')!;
    const policy = route.policy;
    const recompute = policy.recompute.bind(policy);
    let spentMs = 0;
    let recomputes = 0;
    policy.recompute = (now: number) => {
      const t = performance.now();
      recompute(now);
      spentMs += performance.now() - t;
      recomputes++;
    };
    for (const i of [0, 1, 2]) router.pulled(route, i, 'm@1');
    // Outcomes on every turn of the loop for 1.5 s, and on until two recomputes ran (a loaded machine
    // slows the draws, and the gap after each grows with them): arm a always wins, the others never.
    const started = performance.now();
    let n = 0;
    while ((performance.now() - started < 1500 || recomputes < 2) && performance.now() - started < 20_000) {
      router.credit(route, n % 3, 'm@1', n % 3 === 0 ? 1 : 0, Date.now());
      n++;
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    const elapsedMs = performance.now() - started;
    expect(recomputes).toBeGreaterThanOrEqual(2);
    expect(spentMs / elapsedMs).toBeLessThan(0.05);
    expect(policy.weights[0]).toBeGreaterThan(0.9);
    router.stop();
  });

  it('recomputes on its timer only the routes whose weights drift: discounting or burn-in', async () => {
    const { registry } = fakeRegistry();
    const arms = [{ name: 'a', model: 'm', version: '1' }, { name: 'b', model: 'm', version: '1' }];
    const router = new Router(registry, new Map([
      ['settled', spec({ policy: 'thompson', arms })],
      ['discounted', spec({ policy: 'thompson', arms, halfLifeSeconds: 60 })],
      ['burning', spec({ policy: 'thompson', arms, burnIn: 1000 })],
      ['fixed', spec({ policy: 'fixed', arms })],
    ]));
    const counts = new Map<string, number>();
    for (const route of router.routes.values()) {
      // Outcomes on both arms, so that a recompute would have work to do.
      for (const i of [0, 1]) { router.pulled(route, i, 'm@1'); router.credit(route, i, 'm@1', i, Date.now()); }
      const recompute = route.policy.recompute.bind(route.policy);
      route.policy.recompute = (now: number) => { counts.set(route.name, (counts.get(route.name) ?? 0) + 1); recompute(now); };
    }
    await new Promise((r) => setTimeout(r, 50)); // the recompute the outcomes asked for
    counts.clear();
    router.start(20);
    await new Promise((r) => setTimeout(r, 300));
    router.stop();
    expect(counts.get('settled') ?? 0).toBe(0);
    expect(counts.get('fixed') ?? 0).toBe(0);
    expect(counts.get('discounted')).toBeGreaterThanOrEqual(5);
    expect(counts.get('burning')).toBeGreaterThanOrEqual(5);
  });
});
