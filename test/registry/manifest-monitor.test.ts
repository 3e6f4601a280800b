/**
 * The manifest's optional `monitor` (the score kept with each decision, the threshold, the positive
 * label): validated when a version is scanned, each mistake named; a version without it has none.
 */
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/registry/manifest.js';

const base = {
  name: 'fraud',
  version: '1',
  sha256: 'a'.repeat(64),
  created: '2026-01-01T00:00:00.000Z',
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [
    { name: 'probability', datatype: 'FP32', shape: [-1, 1] },
    { name: 'label', datatype: 'BOOL', shape: [-1, 1] },
  ],
};
const parse = (monitor: unknown) => parseManifest({ ...base, monitor }, 'fraud', '1');

describe('manifest monitor', () => {
  it('keeps a valid monitor, and none when absent', () => {
    expect(parse({ score: 'probability', threshold: 0.5, positive: 1 }).monitor).toEqual({
      score: 'probability',
      threshold: 0.5,
      positive: 1,
    });
    expect(parse({ score: 'probability', threshold: 0, positive: 'fraud' }).monitor?.positive).toBe('fraud');
    expect(parseManifest(base, 'fraud', '1').monitor).toBeUndefined();
  });

  it.each([
    ['not an object', [1], 'monitor must be an object'],
    ['an unknown output', { score: 'nope', threshold: 0.5, positive: 1 }, 'monitor.score must name one of the outputs'],
    ['a boolean output', { score: 'label', threshold: 0.5, positive: 1 }, 'monitor.score must name a numeric output'],
    ['a threshold above 1', { score: 'probability', threshold: 1.5, positive: 1 }, 'monitor.threshold must be'],
    ['a NaN threshold', { score: 'probability', threshold: Number.NaN, positive: 1 }, 'monitor.threshold must be'],
    ['a threshold as text', { score: 'probability', threshold: '0.5', positive: 1 }, 'monitor.threshold must be'],
    ['an object as positive', { score: 'probability', threshold: 0.5, positive: {} }, 'monitor.positive must be'],
    ['a missing positive', { score: 'probability', threshold: 0.5 }, 'monitor.positive must be'],
    ['an unknown key', { score: 'probability', threshold: 0.5, positive: 1, extra: 1 }, 'unknown key "extra"'],
  ])('refuses %s, naming it', (_what, monitor, message) => {
    expect(() => parse(monitor)).toThrow(message);
  });
});
