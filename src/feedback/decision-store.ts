/**
 * The decisions waiting for outcomes (embedded mode): an LRU bounded by CROUPIER_DECISIONS_MAX, so
 * memory stays bounded however little feedback comes back; evictions are counted. This is on the
 * request path: one object, one cache insert and one buffer push per decision.
 */
import { LRUCache } from 'lru-cache';
import type { DecidedJob, DecisionSink } from '../gateway.js';
import type { Pick } from '../routing/router.js';
import type { Journal } from '../state/journal.js';
import { Decision } from './decision.js';

export class DecisionStore implements DecisionSink {
  /** Decisions dropped to make room before their window passed. */
  evicted = 0;
  /** Decisions held that still wait for their outcome. */
  pending = 0;
  private readonly cache: LRUCache<string, Decision>;
  private journal: Journal | undefined;

  constructor(max: number) {
    this.cache = new LRUCache<string, Decision>({ max, dispose: this.disposed });
  }

  /** From now on every decision is journaled. */
  attach(journal: Journal): void {
    this.journal = journal;
  }

  decided(id: string, createdMs: number, pick: Pick, rows: number, features: unknown, job: DecidedJob): void {
    const { route, version } = pick;
    const d = new Decision(id, createdMs, route.name, pick.arm.name, version.model, version.version, version.key,
      version.sha256, pick.propensity, rows, route.spec.logFeatures ? features : undefined);
    this.cache.set(id, d);
    this.pending++;
    this.journal?.append(d);
    job.answer();
  }

  get(id: string): Decision | undefined {
    return this.cache.get(id);
  }

  get size(): number {
    return this.cache.size;
  }

  /** Puts back a decision read from the state directory; false when it is already held. */
  restore(d: Decision): boolean {
    if (this.cache.has(d.id)) return false;
    this.cache.set(d.id, d);
    if (d.reward === undefined) this.pending++;
    return true;
  }

  /** Records the outcome of a waiting decision. */
  settle(d: Decision, reward: number): void {
    if (d.reward !== undefined) return;
    d.reward = reward;
    this.pending--;
  }

  /** Drops the decisions `expired` says are past their window (not counted as evictions). */
  sweep(expired: (d: Decision) => boolean): void {
    const gone: string[] = [];
    for (const d of this.cache.values()) if (expired(d)) gone.push(d.id);
    for (const id of gone) this.cache.delete(id);
  }

  /** Least recently used first, so that restoring them in this order keeps the LRU order. */
  *oldestFirst(): Generator<Decision> {
    for (const d of this.cache.rvalues()) if (d) yield d;
  }

  private readonly disposed = (d: Decision, _id: string, reason: LRUCache.DisposeReason): void => {
    if (reason === 'evict') this.evicted++;
    if (d.reward === undefined) this.pending--;
  };
}
