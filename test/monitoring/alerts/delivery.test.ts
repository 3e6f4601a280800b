/**
 * The delivery queue with its real settings (backoff from 1 s to 1 min, retried for 15 min) against
 * a real webhook receiver that is down for ten minutes: fake clocks move the time, the HTTP is real.
 * The notice is delivered when the channel comes back; nothing waited on it meanwhile.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { openChannel } from '../../../src/monitoring/alerts/channels.js';
import { DELIVERY_DEFAULTS, Delivery } from '../../../src/monitoring/alerts/delivery.js';
import { startWebhook, type Webhook } from '../../helpers/receivers.js';

let hook: Webhook;
beforeAll(async () => {
  hook = await startWebhook();
});
afterAll(() => hook.close());
afterEach(() => {
  vi.useRealTimers();
});

const turn = () => new Promise((r) => setImmediate(r));
/** Lets real I/O (the HTTP round trip) finish while the fake clock stands still. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await turn();
}

describe('delivery', () => {
  it('delivers a notice raised while its webhook is down for 10 minutes, once it is back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const metrics = new Metrics();
    const delivery = new Delivery(metrics, createLogger('silent'), DELIVERY_DEFAULTS);
    const channel = openChannel('hook', { type: 'webhook', url: hook.url, format: 'json' });
    hook.failNext(1_000_000);
    const start = Date.now();
    delivery.enqueue([channel], {
      kind: 'alert',
      rule: 'r',
      state: 'firing',
      summary: 's',
      details: {},
      at: new Date().toISOString(),
    });
    const postsAt: number[] = [];
    while (Date.now() - start < 10 * 60_000) {
      const before = hook.posts;
      await vi.advanceTimersByTimeAsync(1_000);
      // Wait for the try's real round trip when one was due.
      for (let i = 0; i < 50 && hook.posts === before && delivery.pending > 0; i++) await settle();
      if (hook.posts > before) postsAt.push(Date.now() - start);
    }
    expect(hook.received).toEqual([]);
    // Backoff: the first retry within seconds, then doubling, capped at a minute (the clock moves in 1 s steps).
    const gaps = postsAt.slice(1).map((t, i) => t - postsAt[i]!);
    expect(gaps[0]).toBeLessThanOrEqual(3_000);
    expect(gaps.every((g) => g <= 62_000)).toBe(true);
    expect(gaps.slice(-3).every((g) => g >= 59_000)).toBe(true);
    expect(postsAt.length).toBeGreaterThanOrEqual(10);
    expect(postsAt.length).toBeLessThan(20);
    hook.failNext(0);
    while (hook.received.length === 0 && Date.now() - start < 12 * 60_000) {
      await vi.advanceTimersByTimeAsync(1_000);
      await settle();
    }
    expect(hook.received).toHaveLength(1);
    await settle();
    const text = await metrics.registry.getSingleMetricAsString('croupier_notifications_total');
    expect(text).toContain('croupier_notifications_total{channel="hook",result="sent"} 1');
    expect(text).not.toContain('result="failed"');
    delivery.close();
    channel.close();
  });

  it('keeps each channel in order, a failing channel delaying neither the others nor its own order', async () => {
    const other = await startWebhook();
    hook.received.length = 0;
    try {
      const metrics = new Metrics();
      const delivery = new Delivery(metrics, createLogger('silent'), {
        baseMs: 30,
        maxMs: 60,
        retryForMs: 5_000,
        maxQueued: 100,
      });
      const down = openChannel('down', { type: 'webhook', url: hook.url, format: 'json' });
      const up = openChannel('up', { type: 'webhook', url: other.url, format: 'json' });
      const at = new Date().toISOString();
      hook.failNext(2);
      delivery.enqueue([down, up], { kind: 'alert', rule: 'r', state: 'firing', summary: 'fires', details: {}, at });
      delivery.enqueue([down, up], {
        kind: 'alert',
        rule: 'r',
        state: 'resolved',
        summary: 'resolves',
        details: {},
        at,
      });
      await other.waitFor(2);
      // The healthy channel got both while the other was still retrying its first.
      expect(hook.received).toEqual([]);
      await delivery.idle();
      const states = (w: Webhook) => w.received.map((n) => (n as { state: string }).state);
      expect(states(hook)).toEqual(['firing', 'resolved']);
      expect(states(other)).toEqual(['firing', 'resolved']);
      down.close();
      up.close();
    } finally {
      await other.close();
    }
  });

  it('is bounded: past maxQueued the oldest waiting notice is dropped and counted', async () => {
    const metrics = new Metrics();
    const delivery = new Delivery(metrics, createLogger('silent'), {
      baseMs: 10_000,
      maxMs: 10_000,
      retryForMs: 60_000,
      maxQueued: 3,
    });
    const channel = openChannel('hook', { type: 'webhook', url: hook.url, format: 'json' });
    hook.failNext(1_000);
    for (let i = 0; i < 6; i++)
      delivery.enqueue([channel], {
        kind: 'event',
        event: 'deploy',
        summary: `n${i}`,
        details: {},
        at: new Date().toISOString(),
      });
    expect(delivery.pending).toBeLessThanOrEqual(4);
    const text = await metrics.registry.getSingleMetricAsString('croupier_notifications_total');
    expect(text).toMatch(/croupier_notifications_total\{channel="hook",result="dropped"\} [23]/);
    delivery.close();
    channel.close();
    hook.failNext(0);
  });
});
