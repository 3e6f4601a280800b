/**
 * The delivery queue: notices wait here, never on a request's path, and are sent by timers. A
 * failed send is tried again with exponential backoff (doubling from `baseMs` up to `maxMs`) for
 * `retryForMs` (15 minutes by default: a channel down for up to 10 minutes still gets it), then
 * given up, counted and logged. The queue is bounded: when full, the oldest notice is dropped.
 */
import type { Logger } from '../../log.js';
import type { Channel } from './channels.js';
import type { Notice } from './notice.js';

export interface DeliveryOptions {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly retryForMs: number;
  readonly maxQueued: number;
}

export const DELIVERY_DEFAULTS: DeliveryOptions = {
  baseMs: 1_000,
  maxMs: 60_000,
  retryForMs: 15 * 60_000,
  maxQueued: 1_000,
};

/** croupier_notifications_total{channel,result}: sent, retried (a failed try), failed (given up), dropped (queue full). */
export type DeliveryResult = 'sent' | 'retried' | 'failed' | 'dropped';
export interface DeliveryMetrics {
  notification(channel: string, result: DeliveryResult): void;
}

interface Pending {
  readonly channel: Channel;
  readonly notice: Notice;
  readonly firstAt: number;
  tries: number;
  dueAt: number;
}

export class Delivery {
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly metrics: DeliveryMetrics,
    private readonly log: Logger,
    private readonly options: DeliveryOptions = DELIVERY_DEFAULTS,
  ) {}

  /** Queues `notice` for each channel; returns at once. */
  enqueue(channels: readonly Channel[], notice: Notice): void {
    if (this.closed) return;
    const now = Date.now();
    for (const channel of channels) {
      if (this.queue.length >= this.options.maxQueued) {
        const dropped = this.queue.shift()!;
        this.metrics.notification(dropped.channel.name, 'dropped');
        this.log.error(
          { channel: dropped.channel.name, kind: dropped.notice.kind, summary: dropped.notice.summary },
          'notification dropped: delivery queue full',
        );
      }
      this.queue.push({ channel, notice, firstAt: now, tries: 0, dueAt: now });
    }
    this.schedule();
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued (tests, and a clean stop). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.sending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.sending || this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    let due = Number.POSITIVE_INFINITY;
    for (const p of this.queue) due = Math.min(due, p.dueAt);
    this.timer = setTimeout(() => void this.drain(), Math.max(0, due - Date.now()));
    this.timer.unref();
  }

  /** Sends what is due, one at a time (a slow channel delays only notices, never requests). */
  private async drain(): Promise<void> {
    this.timer = undefined;
    this.sending = true;
    try {
      for (;;) {
        const now = Date.now();
        const i = this.queue.findIndex((p) => p.dueAt <= now);
        if (i < 0 || this.closed) break;
        const p = this.queue[i]!;
        this.queue.splice(i, 1);
        await this.attempt(p);
      }
    } finally {
      this.sending = false;
      this.schedule();
    }
  }

  private async attempt(p: Pending): Promise<void> {
    p.tries++;
    try {
      await p.channel.send(p.notice);
      this.metrics.notification(p.channel.name, 'sent');
      if (p.tries > 1)
        this.log.info(
          { channel: p.channel.name, tries: p.tries, kind: p.notice.kind },
          'notification delivered after retries',
        );
      return;
    } catch (e) {
      const now = Date.now();
      const delay = Math.min(this.options.maxMs, this.options.baseMs * 2 ** (p.tries - 1));
      const fields = {
        channel: p.channel.name,
        kind: p.notice.kind,
        summary: p.notice.summary,
        tries: p.tries,
        err: (e as Error).message,
      };
      if (now + delay - p.firstAt > this.options.retryForMs) {
        this.metrics.notification(p.channel.name, 'failed');
        this.log.error(fields, 'notification given up: channel kept failing');
        return;
      }
      this.metrics.notification(p.channel.name, 'retried');
      this.log.warn({ ...fields, retryInMs: delay }, 'notification failed; will retry');
      p.dueAt = now + delay;
      this.queue.push(p);
    }
  }

  /** Stops sending; what is still queued is logged as undelivered. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.queue.length > 0)
      this.log.warn({ undelivered: this.queue.length }, 'stopping with notifications undelivered');
    this.queue.length = 0;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
