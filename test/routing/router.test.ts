/** Statistics belong to (arm, version): a version change restarts them; set keeps unchanged arms; reset forgets. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Registry } from '../../src/registry/registry.js';
import type { ModelVersion } from '../../src/registry/repository.js';
import { RECOMPUTE_GAP_MS, RECOMPUTE_SHARE, Router } from '../../src/routing/router.js';
import { parseRouteSpec } from '../../src/routing/route-spec.js';
import { seededRng } from '../../src/routing/sampling.js';

function fakeRegistry() {
  const live = { current: '1' };
  const version = (v: string) => ({ model: 'm', version: v, key: `m@${v}` }) as ModelVersion;
  const registry = {
    resolve: (_m: string, v: string) => version(v === 'live' ? live.current : v),
  } as unknown as Registry;
  return { registry, live };
}
const spec = (raw: Record<string, unknown>) => parseRouteSpec('r', raw, () => 'ok');

describe('Router', () => {
  it('restarts an arm when its resolved version changes, and tells observers', () => {
    const { registry, live } = fakeRegistry();
    const router = new Router(
      registry,
      new Map([['r', spec({ policy: 'thompson', arms: [{ name: 'a', model: 'm', version: 'live' }] })]]),
      { rng: seededRng(1) },
    );
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

  it('leaves shadow arms out of the policy: never picked, no statistics, no weight; the spec keeps them', () => {
    const { registry } = fakeRegistry();
    const raw = {
      policy: 'fixed',
      arms: [
        { name: 'a', model: 'm', version: '1', weight: 3 },
        { name: 's', model: 'm', version: '2', shadow: 0.25 },
        { name: 'b', model: 'm', version: '1', weight: 1 },
      ],
    };
    const router = new Router(registry, new Map([['r', spec(raw)]]), { rng: seededRng(7) });
    const route = router.get('r')!;
    expect(route.arms.map((a) => [a.name, a.index])).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
    expect(route.shadows).toEqual([{ name: 's', model: 'm', version: '2', shadow: 0.25 }]);
    expect(route.stats).toHaveLength(2);
    expect([...route.policy.weights]).toEqual([0.75, 0.25]);
    const picked = new Set<string>();
    for (let i = 0; i < 200; i++) picked.add(router.pick(route, undefined).arm.name);
    expect([...picked].sort()).toEqual(['a', 'b']);
    // What is saved and shown is the route as declared, shadow arm included.
    expect(JSON.parse(JSON.stringify(route.spec)).arms[1]).toEqual(raw.arms[1]);
    expect(spec(JSON.parse(JSON.stringify(route.spec)))).toEqual(route.spec);
  });

  it('refuses bad shadow arms, naming the key', () => {
    const arm = (extra: Record<string, unknown>) => ({
      policy: 'thompson',
      arms: [
        { name: 'a', model: 'm', version: '1' },
        { name: 's', model: 'm', version: '2', ...extra },
      ],
    });
    for (const shadow of [0, -0.1, 1.5, 2, 'x', null, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => spec(arm({ shadow })), String(shadow)).toThrow(/arms\[1\]\.shadow must be a number in \(0, 1\]/);
    expect(() => spec({ policy: 'thompson', arms: [{ name: 's', model: 'm', version: '2', shadow: 1 }] })).toThrow(
      /every arm is a shadow; a route needs at least one arm without "shadow"/,
    );
    expect(() => spec({ ...arm({ shadow: 0.5, weight: 1 }), policy: 'fixed' })).toThrow(/a shadow arm takes no weight/);
    // The floor is shared among the served arms only.
    const three = arm({ shadow: 1 });
    three.arms.push({ name: 'b', model: 'm', version: '1' });
    expect(() => spec({ ...three, floor: 0.6 })).toThrow(/floor × arms must not exceed 1/);
    expect(spec({ ...three, floor: 0.45 }).floor).toBe(0.45);
  });

  it('set keeps the statistics of unchanged arms; reset forgets them all', () => {
    const { registry } = fakeRegistry();
    const arms = [
      { name: 'a', model: 'm', version: '1' },
      { name: 'b', model: 'm', version: '1' },
    ];
    const router = new Router(registry, new Map([['r', spec({ policy: 'thompson', arms })]]));
    let route = router.get('r')!;
    for (const i of [0, 1]) {
      router.pulled(route, i, 'm@1');
      router.credit(route, i, 'm@1', 1, 0);
    }
    route = router.set(
      'r',
      spec({
        policy: 'epsilon-greedy',
        arms: [arms[0]!, { name: 'b', model: 'm', version: '2' }, { name: 'c', model: 'm', version: '1' }],
      }),
    );
    expect(route.stats.map((s) => s.n)).toEqual([1, 0, 0]);
    const resets: string[] = [];
    router.observers.push({ routeReset: (r) => resets.push(r) });
    expect(router.reset('r')).toBe(true);
    expect(route.stats.map((s) => s.n + s.pulls)).toEqual([0, 0, 0]);
    expect(router.reset('nope')).toBe(false);
    expect(resets).toEqual(['r']);
  });

  describe('recomputes after outcomes, on a fake clock', () => {
    // Timers and Date are fake; performance.now (what the router times a recompute by) is a counter
    // that a recompute advances by `costMs`, so the share is exact and no wall clock is involved.
    let perfMs = 0;
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
      vi.spyOn(performance, 'now').mockImplementation(() => perfMs);
    });
    afterEach(() => {
      vi.useRealTimers();
      vi.restoreAllMocks();
    });

    /** Outcomes every ms for `forMs` (arm a always wins); when recomputes ran, in ms from the start. */
    function feed(costMs: number, forMs: number): { at: number[]; weights: Float64Array } {
      const { registry } = fakeRegistry();
      const arms = ['a', 'b', 'c'].map((name) => ({ name, model: 'm', version: '1' }));
      const router = new Router(registry, new Map([['r', spec({ policy: 'thompson', arms })]]), { rng: seededRng(7) });
      const route = router.get('r')!;
      const policy = route.policy;
      const recompute = policy.recompute.bind(policy);
      const start = Date.now();
      const at: number[] = [];
      policy.recompute = (now: number) => {
        recompute(now);
        perfMs += costMs;
        at.push(Date.now() - start);
      };
      for (const i of [0, 1, 2]) router.pulled(route, i, 'm@1');
      for (let n = 0; n < forMs; n++) {
        router.credit(route, n % 3, 'm@1', n % 3 === 0 ? 1 : 0, Date.now());
        vi.advanceTimersByTime(1);
      }
      return { at, weights: policy.weights as Float64Array };
    }

    it('a cheap recompute runs at most every RECOMPUTE_GAP_MS, however many outcomes arrive', () => {
      const { at, weights } = feed(0.1, 100);
      expect(at).toEqual(Array.from({ length: 100 / RECOMPUTE_GAP_MS + 1 }, (_, k) => k * RECOMPUTE_GAP_MS));
      expect(weights[0]).toBeGreaterThan(0.9);
    });

    it('a costly one keeps to RECOMPUTE_SHARE: each waits its cost / share, and weights still follow', () => {
      const costMs = 4;
      const gap = costMs / RECOMPUTE_SHARE;
      const { at, weights } = feed(costMs, 1000);
      // Recomputing for costMs out of every gap ms: exactly RECOMPUTE_SHARE of the loop.
      expect(at).toEqual(Array.from({ length: 1000 / gap + 1 }, (_, k) => k * gap));
      expect(weights[0]).toBeGreaterThan(0.9);
    });
  });

  it('recomputes on its timer only the routes whose weights drift: discounting or burn-in', () => {
    vi.useFakeTimers();
    const { registry } = fakeRegistry();
    const arms = [
      { name: 'a', model: 'm', version: '1' },
      { name: 'b', model: 'm', version: '1' },
    ];
    const router = new Router(
      registry,
      new Map([
        ['settled', spec({ policy: 'thompson', arms })],
        ['discounted', spec({ policy: 'thompson', arms, halfLifeSeconds: 60 })],
        ['burning', spec({ policy: 'thompson', arms, burnIn: 1000 })],
        ['fixed', spec({ policy: 'fixed', arms })],
      ]),
    );
    const counts = new Map<string, number>();
    for (const route of router.routes.values()) {
      // Outcomes on both arms, so that a recompute would have work to do.
      for (const i of [0, 1]) {
        router.pulled(route, i, 'm@1');
        router.credit(route, i, 'm@1', i, Date.now());
      }
      const recompute = route.policy.recompute.bind(route.policy);
      route.policy.recompute = (now: number) => {
        counts.set(route.name, (counts.get(route.name) ?? 0) + 1);
        recompute(now);
      };
    }
    vi.advanceTimersByTime(50); // the recompute the outcomes asked for
    counts.clear();
    router.start(20);
    vi.advanceTimersByTime(300);
    router.stop();
    vi.useRealTimers();
    expect(counts.get('settled') ?? 0).toBe(0);
    expect(counts.get('fixed') ?? 0).toBe(0);
    expect(counts.get('discounted')).toBe(300 / 20);
    expect(counts.get('burning')).toBe(300 / 20);
  });
});
