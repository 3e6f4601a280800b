/**
 * Joins outcomes to decisions: judges each event (unknown, expired, invalid, duplicate or
 * accepted), credits accepted rewards to the arm that served, and answers only once they are
 * durable. Crediting happens before the fsync so that a concurrent repeat is already a duplicate;
 * if the disk then fails, the journal stays failed and every later batch answers 503.
 *
 * Outcomes are judged once per turn of the event loop, all that arrived in it together: their ids
 * are verified with one cipher call (one call per id was ~1.3 µs, most of an outcome's judging) and
 * they share one journal commit.
 */
import { CroupierError, type ErrorCode } from '../errors.js';
import { isMalformed, type FeedbackEvent, type MalformedEvent } from '../protocol/feedback.js';
import type { Router } from '../routing/router.js';
import type { Journal } from '../state/journal.js';
import { ID_BYTES, type DecisionIds } from './decision-id.js';
import type { DecisionStore } from './decision-store.js';
import { Outcome, type OutcomeResult } from './outcome.js';

export interface Verdict {
  readonly result: OutcomeResult;
  readonly code?: ErrorCode;
  readonly message?: string;
}

/** Counts results per route and arm (the metrics room implements it). */
export interface FeedbackObserver {
  feedback(route: string, arm: string, result: OutcomeResult): void;
}

/** Where the verdicts on one request's events go (the endpoint's answer): an object, not a promise, per request. */
export interface OutcomeReply {
  verdicts(verdicts: Verdict[]): void;
  failed(error: unknown): void;
}

/** What the feedback endpoint hands events to (embedded: Feedback; Redis mode: RedisFeedback). */
export interface OutcomeReceiver {
  /** Judges every event; tells `reply` once the accepted ones are durable (or why nothing was judged). */
  receive(events: readonly (FeedbackEvent | MalformedEvent)[], reply: OutcomeReply, nowMs?: number): void;
}

const ACCEPTED: Verdict = { result: 'accepted' };
const DEFAULT_WINDOW_S = 86_400;

/** The events of one request, waiting for the end of the turn. */
interface Received {
  readonly events: readonly (FeedbackEvent | MalformedEvent)[];
  readonly nowMs: number | undefined;
  readonly reply: OutcomeReply;
  readonly verdicts: Verdict[];
}

export class Feedback implements OutcomeReceiver {
  private readonly ids: DecisionIds;
  private readonly store: DecisionStore;
  private readonly router: Router;
  private readonly journal: Journal;
  private readonly observer: FeedbackObserver | undefined;
  /** Requests whose events are judged at the end of this turn. */
  private received: Received[] = [];

  constructor(ids: DecisionIds, store: DecisionStore, router: Router, journal: Journal, observer?: FeedbackObserver) {
    this.ids = ids;
    this.store = store;
    this.router = router;
    this.journal = journal;
    this.observer = observer;
  }

  /** Judges every event (at the end of this turn); replies once the accepted ones are journaled and synced. */
  receive(events: readonly (FeedbackEvent | MalformedEvent)[], reply: OutcomeReply, nowMs?: number): void {
    if (this.journal.failed) return reply.failed(new CroupierError('state_unavailable', 'the outcome journal cannot be written; outcomes are refused until the server is restarted'));
    if (this.received.length === 0) setImmediate(this.judgeReceived);
    this.received.push({ events, nowMs, reply, verdicts: [] });
  }

  private readonly judgeReceived = (): void => {
    const received = this.received;
    this.received = [];
    try {
      const nowMs = Date.now();
      const maxWindowMs = this.maxWindowMs();
      const decisions: string[] = [];
      for (const r of received) for (const e of r.events) if (!isMalformed(e)) decisions.push(e.decision);
      const { createdMs, bytes } = this.ids.verifyAll(decisions);
      let next = 0;
      const durable: Received[] = [];
      for (const r of received) {
        let accepted = false;
        for (const e of r.events) {
          const v = isMalformed(e)
            ? this.count('unknown', '', { result: 'invalid', code: e.code ?? 'invalid_request', message: e.malformed })
            : this.judge(e, createdMs[next], bytes, ID_BYTES * next++, r.nowMs ?? nowMs, maxWindowMs);
          if (v === ACCEPTED) accepted = true;
          r.verdicts.push(v);
        }
        if (accepted) durable.push(r);
        else r.reply.verdicts(r.verdicts);
      }
      if (durable.length > 0) {
        this.journal.commit().then(() => {
          for (const r of durable) r.reply.verdicts(r.verdicts);
        }, (e: unknown) => {
          const error = new CroupierError('state_unavailable', 'the outcome journal cannot be written', { cause: e });
          for (const r of durable) r.reply.failed(error);
        });
      }
    } catch (e) {
      for (const r of received) r.reply.failed(e);
    }
  };

  /** Judges one outcome; its decision id is verified (created at `createdMs`, undefined if not genuine) and its bytes are at `at` in `bytes`. */
  private judge(event: FeedbackEvent, createdMs: number | undefined, bytes: Buffer, at: number, nowMs: number, maxWindowMs: number): Verdict {
    if (createdMs === undefined) return this.count('unknown', '', { result: 'unknown', code: 'decision_not_found', message: 'no such decision (the id is not one this server issued)' });
    const slot = this.store.find(bytes, at);
    if (slot < 0) {
      // Not held: past every route's window means expired; otherwise it was evicted or never kept.
      return nowMs - createdMs > maxWindowMs
        ? this.count('unknown', '', { result: 'expired', code: 'decision_expired', message: 'the decision is past its feedback window' })
        : this.count('unknown', '', { result: 'unknown', code: 'decision_not_found', message: 'no such decision (unknown, or no longer held)' });
    }
    const d = this.store.servedAt(slot);
    const route = this.router.get(d.route);
    const spec = route?.spec;
    const label = route ? d.route : 'unknown';
    const arm = route ? d.arm : '';
    if (spec?.reward !== 'gaussian' && (event.reward < 0 || event.reward > 1)) {
      return this.count(label, arm, { result: 'invalid', code: 'reward_out_of_range', message: `reward ${event.reward} is outside [0, 1] on a Bernoulli route` });
    }
    if (nowMs - createdMs > (spec?.feedbackWindow ?? DEFAULT_WINDOW_S) * 1000) {
      return this.count(label, arm, { result: 'expired', code: 'decision_expired', message: 'the decision is past its feedback window' });
    }
    if (this.store.settledAt(slot)) return this.count(label, arm, { result: 'duplicate', message: 'an outcome for this decision was already counted' });
    this.store.settleAt(slot, event.reward);
    if (route) {
      const index = route.armIndex(d.arm);
      if (index >= 0) this.router.credit(route, index, d.versionKey, event.reward, nowMs);
    }
    this.journal.append(new Outcome(event.decision, event.reward, event.label, nowMs));
    return this.count(label, arm, ACCEPTED);
  }

  private count(route: string, arm: string, verdict: Verdict): Verdict {
    this.observer?.feedback(route, arm, verdict.result);
    return verdict;
  }

  private maxWindowMs(): number {
    let max = 0;
    for (const r of this.router.routes.values()) max = Math.max(max, r.spec.feedbackWindow);
    return (max || DEFAULT_WINDOW_S) * 1000;
  }
}
