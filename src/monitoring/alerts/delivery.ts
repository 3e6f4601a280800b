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

/**
 * One lane per channel, in order (an alert's resolution never overtakes its firing), each sending
 * one notice at a time; lanes do not wait on each other, so a channel that hangs delays only itself.
 */
export class Delivery {
  private readonly lanes = new Map<Channel, Pending[]>();
  private readonly busy = new Set<Channel>();
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
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
      if (this.queued >= this.options.maxQueued) this.dropOldest();
      let lane = this.lanes.get(channel);
      if (!lane) this.lanes.set(channel, (lane = []));
      lane.push({ channel, notice, firstAt: now, tries: 0, dueAt: now });
      this.queued++;
    }
    this.pump();
  }

  /** Notices waiting (a try in flight included). */
  get pending(): number {
    return this.queued;
  }

  /** Resolves when nothing is queued (tests, and a clean stop). */
  idle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops the oldest notice not being sent (a lane's head in flight stays). */
  private dropOldest(): void {
    let from: Pending[] | undefined;
    let at = 0;
    for (const [channel, lane] of this.lanes) {
      const i = this.busy.has(channel) ? 1 : 0;
      const p = lane[i];
      if (p && (from === undefined || p.firstAt < from[at]!.firstAt)) {
        from = lane;
        at = i;
      }
    }
    if (!from) return;
    const dropped = from.splice(at, 1)[0]!;
    this.queued--;
    this.metrics.notification(dropped.channel.name, 'dropped');
    this.log.error(
      { channel: dropped.channel.name, kind: dropped.notice.kind, summary: dropped.notice.summary },
      'notification dropped: delivery queue full',
    );
  }

  /** Starts every lane whose head is due, then sets the timer for the next one. */
  private pump(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [channel, lane] of this.lanes) {
      if (this.busy.has(channel) || lane.length === 0) continue;
      const head = lane[0]!;
      if (head.dueAt > now) {
        next = Math.min(next, head.dueAt);
        continue;
      }
      this.busy.add(channel);
      void this.attempt(head, lane).finally(() => {
        this.busy.delete(channel);
        this.pump();
      });
    }
    if (this.queued === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    if (next !== Number.POSITIVE_INFINITY) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, next - now));
      this.timer.unref();
    }
  }

  private async attempt(p: Pending, lane: Pending[]): Promise<void> {
    p.tries++;
    try {
      await p.channel.send(p.notice);
      this.metrics.notification(p.channel.name, 'sent');
      if (p.tries > 1)
        this.log.info(
          { channel: p.channel.name, tries: p.tries, kind: p.notice.kind },
          'notification delivered after retries',
        );
      this.done(p, lane);
    } catch (e) {
      if (this.closed) return;
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
        this.done(p, lane);
        return;
      }
      this.metrics.notification(p.channel.name, 'retried');
      this.log.warn({ ...fields, retryInMs: delay }, 'notification failed; will retry');
      p.dueAt = now + delay;
    }
  }

  private done(p: Pending, lane: Pending[]): void {
    if (lane[0] === p) {
      lane.shift();
      this.queued--;
    }
  }

  /** Stops sending; what is still queued is logged as undelivered. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.queued > 0) this.log.warn({ undelivered: this.queued }, 'stopping with notifications undelivered');
    this.lanes.clear();
    this.queued = 0;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
