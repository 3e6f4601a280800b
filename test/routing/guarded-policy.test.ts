import { describe, expect, it } from 'vitest';
import type { Registry } from '../../src/registry/registry.js';
import { parseRouteSpec } from '../../src/routing/route-spec.js';
import { Router } from '../../src/routing/router.js';
import type { ModelVersion } from '../../src/registry/repository.js';

const ok = () => 'ok' as const;

function router(spec: unknown): Router {
  const version = { key: 'm@1', model: 'm', version: '1' } as ModelVersion;
  const registry = { resolve: () => version } as unknown as Registry;
  return new Router(registry, new Map([['r', parseRouteSpec('r', spec, ok)]]));
}

describe('guarded policies', () => {
  it('give a disabled arm propensity 0 and never pick it; the floor holds among the enabled arms', () => {
    const rt = router({
      policy: 'thompson',
      floor: 0.05,
      arms: [
        { name: 'champion', model: 'm' },
        { name: 'b', model: 'm' },
        { name: 'c', model: 'm' },
      ],
      guardrails: { champion: 'champion' },
    });
    const route = rt.get('r')!;
    rt.setDisabled(new Map([['r', new Set(['b'])]]));
    expect(route.policy.weights[1]).toBe(0);
    expect(route.policy.weights[0]! + route.policy.weights[2]!).toBeCloseTo(1, 12);
    for (let i = 0; i < 2000; i++) {
      const pick = rt.pick(route, undefined);
      expect(pick.arm.name).not.toBe('b');
      expect(pick.propensity).toBeGreaterThanOrEqual(0.05);
    }
    // Weights recomputed after outcomes stay guarded.
    route.policy.recompute(Date.now());
    expect(route.policy.weights[1]).toBe(0);
    rt.setDisabled(new Map());
    expect(route.policy.weights[1]).toBeGreaterThan(0);
    expect(rt.isDisabled('r', 'b')).toBe(false);
  });

  it('keep fixed weights sticky by unit among the enabled arms, and survive a route edit', () => {
    const spec = {
      policy: 'fixed',
      arms: [
        { name: 'a', model: 'm', weight: 1 },
        { name: 'b', model: 'm', weight: 1 },
        { name: 'c', model: 'm', weight: 2 },
      ],
    };
    const rt = router(spec);
    rt.setDisabled(new Map([['r', new Set(['c'])]]));
    const route = rt.get('r')!;
    expect([...route.policy.weights]).toEqual([0.5, 0.5, 0]);
    const first = rt.pick(route, 'user-7').arm.name;
    for (let i = 0; i < 20; i++) expect(rt.pick(route, 'user-7').arm.name).toBe(first);
    const edited = rt.set('r', parseRouteSpec('r', spec, ok));
    expect(edited.policy.weights[2]).toBe(0);
  });

  it('refuse a guardrails key that is not valid, naming it', () => {
    const arms = [{ name: 'a', model: 'm' }];
    expect(() => parseRouteSpec('r', { policy: 'fixed', arms, guardrails: { champion: 'x' } }, ok)).toThrow(
      /guardrails\.champion must name one of the route's arms/,
    );
    expect(() =>
      parseRouteSpec('r', { policy: 'fixed', arms, guardrails: { champion: 'a', checks: ['speed'] } }, ok),
    ).toThrow(/guardrails\.checks must list/);
    expect(() =>
      parseRouteSpec('r', { policy: 'fixed', arms, guardrails: { champion: 'a', confidence: 1 } }, ok),
    ).toThrow(/guardrails\.confidence/);
    expect(() => parseRouteSpec('r', { policy: 'fixed', arms, guardrails: { champion: 'a', min: 1 } }, ok)).toThrow(
      /guardrails: unknown key "min"/,
    );
  });
});
