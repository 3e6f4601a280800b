/**
 * Calls refused before any token is accepted — cross-site (403), missing or wrong token, admin off
 * (401) — cost the caller nothing, so they must not each cost a line and an fsync: one client at
 * 950 req/s grew the audit log by 35 MB an hour. Each is counted in
 * croupier_admin_refused_total{reason}, and the audit log gets at most one entry per source
 * address and minute: the first refusal at once (an operator sees it), then, when its minute
 * ends, one `refused` entry with the count of the others. The table of sources is bounded too:
 * past SOURCES_MAX, new sources share one row, "other".
 */
import client from 'prom-client';
import type { AuditFields } from '../state/audit-chain.js';
import type { RefusalReason } from './auth.js';

export const WINDOW_MS = 60_000;
export const SOURCES_MAX = 256;
/** The row shared by sources that arrive while the table is full. */
export const OTHER_SOURCES = 'other';
const REASONS: readonly RefusalReason[] = ['cross_site', 'missing_token', 'wrong_token', 'admin_off'];

/** What is recorded of one refused call (the audit entry's own fields). */
export type Refusal = Pick<AuditFields, 'action' | 'target' | 'status' | 'error'>;

interface Window {
  readonly source: string;
  ends: number;
  /** Refusals since the window opened, not yet written. */
  count: number;
  reasons: Partial<Record<RefusalReason, number>>;
  first: string;
  last: Refusal | undefined;
}

export class RefusalThrottle {
  private readonly windows = new Map<string, Window>();
  private readonly write: (fields: AuditFields) => Promise<unknown>;
  private readonly counted: Record<RefusalReason, client.Counter.Internal>;
  private readonly timer: NodeJS.Timeout;

  /** `write` appends to the audit trail; `registry` gets croupier_admin_refused_total. */
  constructor(write: (fields: AuditFields) => Promise<unknown>, registry: client.Registry) {
    this.write = write;
    const counter = new client.Counter({
      name: 'croupier_admin_refused_total',
      help: 'Admin calls refused before a token was accepted, by reason (cross_site, missing_token, wrong_token, admin_off).',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.counted = Object.fromEntries(REASONS.map((r) => [r, counter.labels(r)])) as Record<
      RefusalReason,
      client.Counter.Internal
    >;
    // Windows end in the order they opened (a reopened one moves to the back), so a tick looks at
    // the front only. Unref'd: it never keeps the process up.
    this.timer = setInterval(() => this.tick(Date.now()), 1000).unref();
  }

  /**
   * Counts one refusal; answers the audit write to wait for when it is the first from its source
   * in a window (written now), undefined when it only adds to the window's count.
   */
  refused(source: string, reason: RefusalReason, refusal: Refusal): Promise<unknown> | undefined {
    this.counted[reason].inc();
    const now = Date.now();
    const key = this.windows.has(source) || this.windows.size < SOURCES_MAX ? source : OTHER_SOURCES;
    const open = this.windows.get(key);
    if (open) {
      open.count++;
      open.reasons[reason] = (open.reasons[reason] ?? 0) + 1;
      open.last = refusal;
      return undefined;
    }
    this.windows.set(key, {
      source: key,
      ends: now + WINDOW_MS,
      count: 0,
      reasons: {},
      first: new Date(now).toISOString(),
      last: undefined,
    });
    return this.write({ actor: null, ...refusal, result: 'refused', after: { source: key, reason } });
  }

  /** Writes the count of every window whose minute is over, and opens the next one for it (the timer's work). */
  tick(now: number): void {
    for (const w of this.windows.values()) {
      if (w.ends > now) break;
      this.windows.delete(w.source);
      if (w.count === 0) continue;
      void this.summary(w, new Date(now).toISOString());
      // Refusals kept coming: the next ones wait for this new window's end, not written one by one.
      this.windows.set(w.source, {
        source: w.source,
        ends: now + WINDOW_MS,
        count: 0,
        reasons: {},
        first: new Date(now).toISOString(),
        last: undefined,
      });
    }
  }

  private summary(w: Window, until: string): Promise<unknown> {
    const last = w.last!;
    return this.write({
      actor: null,
      action: 'refused',
      target: w.source,
      result: 'refused',
      status: last.status,
      error: last.error,
      after: {
        source: w.source,
        refused: w.count,
        reasons: w.reasons,
        from: w.first,
        until,
        last: { action: last.action, target: last.target },
      },
    });
  }

  /** Sources with a window open (bounded by SOURCES_MAX + 1). */
  get sources(): number {
    return this.windows.size;
  }

  /** At shutdown: the counts of open windows are written, not lost. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const until = new Date().toISOString();
    const pending = [...this.windows.values()].filter((w) => w.count > 0);
    this.windows.clear();
    await Promise.all(pending.map((w) => this.summary(w, until)));
  }
}
