/** The request-path metrics print exactly what prom-client's own would for the same observations. */
import client from 'prom-client';
import { expect, it } from 'vitest';
import { FastCounter, FastHistogram } from '../../src/metrics/fast-metrics.js';

it('FastCounter and FastHistogram expose the same text as prom-client Counter and Histogram', async () => {
  const theirs = new client.Registry();
  const ours = new client.Registry();
  const buckets = [0.001, 0.01, 0.1, 1];
  const c1 = new client.Counter({ name: 'x_total', help: 'h', labelNames: ['route', 'code'], registers: [theirs] });
  const h1 = new client.Histogram({
    name: 'x_seconds',
    help: 'h',
    labelNames: ['route'],
    buckets,
    registers: [theirs],
  });
  const c2 = new FastCounter('x_total', 'h', ['route', 'code'], ours);
  const h2 = new FastHistogram('x_seconds', 'h', ['route'], buckets, ours);
  const values = [0, 0.0005, 0.001, 0.002, 0.01, 0.5, 1, 3, 1e9];
  for (const route of ['a', 'b"quoted\\']) {
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
  ours.resetMetrics();
  theirs.resetMetrics();
  expect(await ours.metrics()).toBe(await theirs.metrics());
});
