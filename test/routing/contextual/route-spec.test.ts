/** The contextual route keys: context required on linucb / linear-thompson, alpha and v each on its own policy, defaults. */
import { describe, expect, it } from 'vitest';
import { parseRouteSpec, RouteSpecError } from '../../../src/routing/route-spec.js';

const arms = [
  { name: 'a', model: 'm', version: '1' },
  { name: 'b', model: 'm', version: '2' },
];
const spec = (raw: Record<string, unknown>) => parseRouteSpec('r', { arms, ...raw }, () => 'ok');
const refused = (raw: Record<string, unknown>, message: RegExp) => {
  expect(() => spec(raw)).toThrow(RouteSpecError);
  expect(() => spec(raw)).toThrow(message);
};

describe('contextual route keys', () => {
  it('default alpha 1 (linucb), v 0.5 (linear-thompson), lambda 1, floor 0.01', () => {
    const l = spec({ policy: 'linucb', context: ['age', 'amount'] });
    expect(l).toMatchObject({ context: ['age', 'amount'], alpha: 1, lambda: 1, floor: 0.01 });
    expect(l.v).toBeUndefined();
    const t = spec({ policy: 'linear-thompson', context: ['age'] });
    expect(t).toMatchObject({ context: ['age'], v: 0.5, lambda: 1, floor: 0.01 });
    expect(t.alpha).toBeUndefined();
    expect(spec({ policy: 'linucb', context: ['x'], alpha: 0.25, lambda: 3, floor: 0.1 })).toMatchObject({
      alpha: 0.25,
      lambda: 3,
      floor: 0.1,
    });
    expect(spec({ policy: 'linear-thompson', context: ['x'], v: 2 }).v).toBe(2);
    expect(spec({ policy: 'linucb', context: ['x'], alpha: 0 }).alpha).toBe(0);
  });

  it('requires a context of 1 to 64 distinct names', () => {
    for (const policy of ['linucb', 'linear-thompson']) {
      refused({ policy }, /needs "context": a list of 1 to 64 feature names/);
      refused({ policy, context: [] }, /needs "context"/);
      refused({ policy, context: 'age' }, /needs "context"/);
      refused({ policy, context: Array.from({ length: 65 }, (_, i) => `f${i}`) }, /needs "context"/);
      refused({ policy, context: ['age', 3] }, /context\[1\] must be a feature name/);
      refused({ policy, context: [''] }, /context\[0\] must be a feature name/);
      refused({ policy, context: ['age', 'age'] }, /context names "age" twice/);
    }
  });

  it('takes alpha on linucb only and v on linear-thompson only', () => {
    refused({ policy: 'linear-thompson', context: ['x'], alpha: 1 }, /alpha applies to linucb only/);
    refused({ policy: 'linucb', context: ['x'], v: 1 }, /v applies to linear-thompson only/);
    refused({ policy: 'thompson', alpha: 1 }, /alpha applies to linucb only/);
    refused({ policy: 'ucb1', v: 1 }, /v applies to linear-thompson only/);
    refused({ policy: 'thompson', context: ['x'] }, /context applies to linucb and linear-thompson only/);
    refused({ policy: 'epsilon-greedy', lambda: 1 }, /lambda applies to linucb and linear-thompson only/);
  });

  it('refuses halfLifeSeconds and burnIn, which contextual arms do not use', () => {
    for (const policy of ['linucb', 'linear-thompson']) {
      refused({ policy, context: ['x'], halfLifeSeconds: 60 }, /halfLifeSeconds does not apply/);
      refused({ policy, context: ['x'], burnIn: 10 }, /burnIn does not apply/);
    }
  });

  it('parses its own output again (a saved route survives a restart: burnIn 0 is the default it carries)', () => {
    for (const raw of [
      { policy: 'linucb', context: ['x', 'y'], alpha: 0.5 },
      { policy: 'linear-thompson', context: ['x'], v: 1, lambda: 2, floor: 0.1 },
    ]) {
      const once = spec(raw);
      expect(once.burnIn).toBe(0);
      const twice = parseRouteSpec('r', JSON.parse(JSON.stringify(once)), () => 'ok');
      expect(twice).toEqual(once);
    }
    expect(spec({ policy: 'linucb', context: ['x'], burnIn: 0 }).burnIn).toBe(0);
  });

  it('bounds alpha, v, lambda and floor', () => {
    refused({ policy: 'linucb', context: ['x'], alpha: -1 }, /alpha must be a number in \[0, 1000\]/);
    refused({ policy: 'linucb', context: ['x'], alpha: '1' }, /alpha must be a number/);
    refused({ policy: 'linear-thompson', context: ['x'], v: 0 }, /v must be a number/);
    refused({ policy: 'linucb', context: ['x'], lambda: 0 }, /lambda must be a number/);
    refused({ policy: 'linucb', context: ['x'], lambda: Number.NaN }, /lambda must be a number/);
    refused({ policy: 'linear-thompson', context: ['x'], floor: 0.6 }, /floor × arms must not exceed 1/);
  });
});
