/** The request-path metrics print exactly what prom-client's own would for the same observations. */
import client from 'prom-client';
import { expect, it } from 'vitest';
import { FastCounter, FastHistogram } from '../../src/metrics/fast-metrics.js';
import { LATENCY_BUCKETS } from '../../src/metrics/metrics.js';

it('FastCounter and FastHistogram expose the same text as prom-client Counter and Histogram', async () => {
  const theirs = new client.Registry();
  const ours = new client.Registry();
  const c1 = new client.Counter({ name: 'x_total', help: 'h', labelNames: ['route', 'code'], registers: [theirs] });
  const h1 = new client.Histogram({
    name: 'x_seconds',
    help: 'h',
    labelNames: ['route'],
    buckets: [...LATENCY_BUCKETS],
    registers: [theirs],
  });
  const c2 = new FastCounter('x_total', 'h', ['route', 'code'], ours);
  const h2 = new FastHistogram('x_seconds', 'h', ['route'], LATENCY_BUCKETS, ours);
  // On, below and above every bound, from the first (50 µs) to past the last.
  const values = [0, 1e-6, ...LATENCY_BUCKETS.flatMap((b) => [b * 0.999, b, b * 1.001]), 3, 1e9];
  for (const route of ['a', 'b"quoted\\', 'c']) {
    for (const v of values) {
      c1.labels(route, '200').inc();
      c2.labels(route, '200').inc();
      h1.labels(route).observe(v);
      h2.labels(route).observe(v);
    }
    c1.labels(route, '503').inc(2);
    c2.labels(route, '503').inc(2);
  }
  expect(await ours.metrics()).toBe(await theirs.metrics());

  // A retired label value: every child that carries it goes, the others stay as they were.
  c1.remove('a', '200');
  c1.remove('a', '503');
  h1.remove('a');
  c2.removeMatching({ route: 'a' });
  h2.removeMatching({ route: 'a' });
  c1.remove('c', '503');
  c2.removeMatching({ route: 'c', code: '503' });
  const afterRemoval = await ours.metrics();
  expect(afterRemoval).toBe(await theirs.metrics());
  expect(afterRemoval).not.toMatch(/route="a"/);
  expect(afterRemoval).toMatch(/x_total\{route="c",code="200"\}/);

  // Counting again under a removed label value starts from zero, as in prom-client.
  c1.labels('a', '200').inc();
  c2.labels('a', '200').inc();
  expect(await ours.metrics()).toBe(await theirs.metrics());

  ours.resetMetrics();
  theirs.resetMetrics();
  expect(await ours.metrics()).toBe(await theirs.metrics());
});
