/**
 * The one verdict ladder: joins outcomes to decisions through a `DecisionLog` (embedded or Redis),
 * judges each event (unknown, expired, invalid, duplicate or accepted), has the store count the
 * accepted ones, and answers only once they are durable. The order is docs/routing.md's.
 *
 * Embedded mode judges outcomes once per turn of the event loop, all that arrived in it together:
 * their ids are verified with one cipher call (one call per id was ~1.3 µs, most of an outcome's
 * judging) and they share one journal commit. It counts an outcome before the fsync so that a
 * concurrent repeat is already a duplicate; if the disk then fails, the journal stays failed and
 * every later batch answers 503. Redis mode judges each request as it arrives (one pipelined read,
 * one pipeline of credit scripts): its round trips overlap other requests' instead of waiting for
 * a whole turn's (gathered, they cost ~15% of feedback throughput with 8 requests in flight).
 */
import type { CroupierError, ErrorCode } from '../errors.js';
import { isMalformed, type FeedbackEvent, type MalformedEvent } from '../protocol/feedback.js';
import type { Route, Router } from '../routing/router.js';
import type { LoggedOutcome } from '../state/outcome-log.js';
import type { DecisionIds } from './decision-id.js';
import type { Committed, DecisionLog, DecisionLookup, Served } from './decision-log.js';
import type { OutcomeResult } from './outcome.js';
import type { OutcomeRecorder } from './outcome-record.js';
import type { TrainingRow } from '../retrain/dataset-row.js';
import type { TrainingJoin } from './training-join.js';
import { maxWindowMs, windowMs } from './windows.js';

export interface Verdict {
  readonly result: OutcomeResult;
  readonly code?: ErrorCode;
  readonly message?: string;
}

/** Counts results per route and arm (the metrics room implements it). */
export interface FeedbackObserver {
  feedback(route: string, arm: string, result: OutcomeResult): void;
}

/** Told each accepted outcome, once (the monitoring windows: monitoring/monitor.ts). */
export interface OutcomeMonitor {
  /** `score`: the monitored score kept with the decision (NaN: none). */
  outcome(route: string, arm: string, versionKey: string, reward: number, label: unknown, score: number): void;
}

/** Where the verdicts on one request's events go (the endpoint's answer): an object, not a promise, per request. */
export interface OutcomeReply {
  verdicts(verdicts: Verdict[]): void;
  failed(error: unknown): void;
}

/** What the feedback endpoint hands events to. */
export interface OutcomeReceiver {
  /** Judges every event; tells `reply` once the accepted ones are durable (or why nothing was judged). */
  receive(events: readonly (FeedbackEvent | MalformedEvent)[], reply: OutcomeReply, nowMs?: number): void;
}

const ACCEPTED: Verdict = { result: 'accepted' };
const DUPLICATE: Verdict = { result: 'duplicate', message: 'an outcome for this decision was already counted' };
const FORGED: Verdict = {
  result: 'unknown',
  code: 'decision_not_found',
  message: 'no such decision (the id is not one this gateway issued)',
};
const NOT_HELD: Verdict = {
  result: 'unknown',
  code: 'decision_not_found',
  message: 'no such decision (unknown, or no longer held)',
};
const EXPIRED: Verdict = {
  result: 'expired',
  code: 'decision_expired',
  message: 'the decision is past its feedback window',
};
/** Settled, but counted or a duplicate only the commit tells (Redis mode); replaced before the answer. */
const UNDECIDED: Verdict = { result: 'accepted' };

/** The events of one request, being judged. */
interface Received {
  readonly events: readonly (FeedbackEvent | MalformedEvent)[];
  readonly nowMs: number | undefined;
  readonly reply: OutcomeReply;
  readonly verdicts: Verdict[];
}

export class Feedback implements OutcomeReceiver {
  private readonly ids: DecisionIds;
  private readonly log: DecisionLog;
  private readonly router: Router;
  private readonly observer: FeedbackObserver | undefined;
  /** Requests whose events are judged at the end of this turn. */
  private received: Received[] = [];
  /** The route and arm labels of each UNDECIDED verdict of the requests being judged, in order. */
  private undecided: string[] = [];
  /** With a monitor: what served each UNDECIDED verdict's decision, its score and its event, in order. */
  private undecidedOutcomes: Undecided = { served: [], scores: [], events: [] };
  private readonly monitor: OutcomeMonitor | undefined;
  /** Routes with logFeatures: the training rows of the outcomes being judged, kept once committed. */
  private readonly training: TrainingJoin | undefined;
  /** Embedded mode: the outcome log's lines of the outcomes being judged, kept once committed. */
  private readonly outcomes: OutcomeRecorder | undefined;
  private joined: Joined[] = [];

  constructor(
    ids: DecisionIds,
    log: DecisionLog,
    router: Router,
    observer?: FeedbackObserver,
    monitor?: OutcomeMonitor,
    training?: TrainingJoin,
    outcomes?: OutcomeRecorder,
  ) {
    this.training = training;
    this.outcomes = outcomes;
    this.ids = ids;
    this.log = log;
    this.router = router;
    this.observer = observer;
    this.monitor = monitor;
  }

  /**
   * Judges every event — at the end of this turn, with the others that arrived in it, when the log
   * gathers them; else at once — and replies once the accepted ones are durable.
   */
  receive(events: readonly (FeedbackEvent | MalformedEvent)[], reply: OutcomeReply, nowMs?: number): void {
    const refusal = this.log.refusal();
    if (refusal) return reply.failed(refusal);
    const r: Received = { events, nowMs, reply, verdicts: [] };
    if (!this.log.gathers) return this.judgeAll([r]);
    if (this.received.length === 0) setImmediate(this.judgeReceived);
    this.received.push(r);
  }

  private readonly judgeReceived = (): void => {
    const received = this.received;
    this.received = [];
    this.judgeAll(received);
  };

  /** Verifies and looks up the decisions of `received` together, then judges them (at once or once looked up). */
  private judgeAll(received: Received[]): void {
    try {
      const nowMs = Date.now();
      const decisions: string[] = [];
      for (const r of received) for (const e of r.events) if (!isMalformed(e)) decisions.push(e.decision);
      const verified = this.ids.verifyAll(decisions);
      const lookup = this.log.lookUp(decisions, verified);
      if (!(lookup instanceof Promise)) return this.judgeLookedUp(received, verified.createdMs, lookup, false, nowMs);
      lookup.then(
        (l) => this.judgeLookedUp(received, verified.createdMs, l, true, nowMs),
        (e: unknown) => {
          for (const r of received) r.reply.failed(e);
        },
      );
    } catch (e) {
      for (const r of received) r.reply.failed(e);
    }
  }

  /** Judges requests whose decisions were looked up together (`waited`: not at once), then commits. */
  private judgeLookedUp(
    received: Received[],
    createdMs: readonly (number | undefined)[],
    lookup: DecisionLookup<unknown>,
    waited: boolean,
    judgedMs: number,
  ): void {
    try {
      const maxMs = maxWindowMs(this.router);
      let next = 0;
      const durable: Received[] = [];
      for (const r of received) {
        const nowMs = r.nowMs ?? judgedMs;
        const error = waited ? this.notYet(r.events, next, createdMs, lookup, nowMs, maxMs) : undefined;
        if (error !== undefined) {
          r.reply.failed(error);
          for (const e of r.events) if (!isMalformed(e)) next++;
          continue;
        }
        let waits = false;
        for (const e of r.events) {
          const v = isMalformed(e)
            ? this.count('unknown', '', { result: 'invalid', code: e.code ?? 'invalid_request', message: e.malformed })
            : this.judge(e, createdMs[next], lookup, next++, nowMs, maxMs);
          if (v === ACCEPTED || v === UNDECIDED) waits = true;
          r.verdicts.push(v);
        }
        if (waits) durable.push(r);
        else r.reply.verdicts(r.verdicts);
      }
      if (durable.length > 0) this.commit(durable);
    } catch (e) {
      for (const r of received) r.reply.failed(e);
    }
  }

  /**
   * Why a request's events (their ids from the `from`th on) cannot be judged yet, if one of their
   * decisions within every window is not there yet (asked only of a look-up that had to wait).
   */
  private notYet(
    events: Received['events'],
    from: number,
    createdMs: readonly (number | undefined)[],
    lookup: DecisionLookup<unknown>,
    nowMs: number,
    maxMs: number,
  ): CroupierError | undefined {
    let i = from;
    for (const e of events) {
      if (isMalformed(e)) continue;
      const c = createdMs[i];
      const error = c !== undefined && nowMs - c <= maxMs ? lookup.notYet(i, c, nowMs) : undefined;
      if (error !== undefined) return error;
      i++;
    }
    return undefined;
  }

  /**
   * Judges one outcome, whose decision id was verified as the `i`th (created at `createdMs`;
   * undefined if not genuine). `maxMs`: the longest window of any route.
   */
  private judge<D>(
    event: FeedbackEvent,
    createdMs: number | undefined,
    lookup: DecisionLookup<D>,
    i: number,
    nowMs: number,
    maxMs: number,
  ): Verdict {
    if (createdMs === undefined) return this.count('unknown', '', FORGED);
    const d = lookup.find(i);
    // Not held: past every route's window means expired; otherwise it was evicted or never kept.
    if (d === undefined) return this.count('unknown', '', nowMs - createdMs > maxMs ? EXPIRED : NOT_HELD);
    const served = lookup.served(d);
    const route = this.router.get(served.route);
    const label = route ? served.route : 'unknown';
    const arm = route ? served.arm : '';
    if (route?.spec.reward !== 'gaussian' && (event.reward < 0 || event.reward > 1)) {
      const message = `reward ${event.reward} is outside [0, 1] on a Bernoulli route`;
      return this.count(label, arm, { result: 'invalid', code: 'reward_out_of_range', message });
    }
    if (nowMs - createdMs > windowMs(route)) return this.count(label, arm, EXPIRED);
    const counted = this.log.settle(d, event, route, nowMs);
    if (
      counted !== false
      && route !== undefined
      && (this.outcomes !== undefined || (this.training !== undefined && route.spec.logFeatures))
    )
      // Undecided: kept if the commit counts it (the k-th undecided verdict); else kept at the commit.
      this.join(route, served, lookup, d, event, nowMs, counted === undefined ? this.undecided.length / 2 : -1);
    const monitor = route ? this.monitor : undefined;
    if (counted === undefined) {
      this.undecided.push(label, arm);
      if (monitor) {
        const u = this.undecidedOutcomes;
        u.served.push(served);
        u.scores.push(lookup.score(d));
        u.events.push(event);
      } else if (this.monitor) this.undecidedOutcomes.served.push(undefined);
      return UNDECIDED;
    }
    if (counted && monitor)
      monitor.outcome(served.route, served.arm, served.versionKey, event.reward, event.label, lookup.score(d));
    return this.count(label, arm, counted ? ACCEPTED : DUPLICATE);
  }

  /** The training row (routes with logFeatures) and the outcome log's line of an outcome being counted. */
  private join<D>(
    route: Route,
    served: Served,
    lookup: DecisionLookup<D>,
    d: D,
    event: FeedbackEvent,
    nowMs: number,
    k: number,
  ): void {
    const joined = lookup.joined(d);
    const row =
      this.training !== undefined && route.spec.logFeatures
        ? this.training.row(served, joined, lookup.score(d), event, nowMs)
        : undefined;
    const outcome = this.outcomes?.outcome(route, served.arm, joined, event, nowMs);
    if (row !== undefined || outcome !== undefined) this.joined.push({ row, route: served.route, outcome, k });
  }

  /** Answers the requests with outcomes to make durable once the log has. */
  private commit(durable: readonly Received[]): void {
    const labels = this.undecided;
    if (labels.length > 0) this.undecided = [];
    let outcomes: Undecided | undefined;
    if (this.monitor && this.undecidedOutcomes.served.length > 0) {
      outcomes = this.undecidedOutcomes;
      this.undecidedOutcomes = { served: [], scores: [], events: [] };
    }
    let joined: Joined[] | undefined;
    if (this.joined.length > 0) {
      joined = this.joined;
      this.joined = [];
    }
    this.log.commit(
      new Commit(
        durable,
        labels,
        this.observer,
        outcomes && this.monitor,
        outcomes,
        this.training,
        joined,
        this.outcomes,
      ),
    );
  }

  private count(route: string, arm: string, verdict: Verdict): Verdict {
    this.observer?.feedback(route, arm, verdict.result);
    return verdict;
  }
}

/**
 * Per UNDECIDED verdict, in order: what served its decision (undefined: a route no longer
 * configured, not monitored), the score kept with it and its event (only for the monitored ones).
 */
interface Undecided {
  readonly served: (Served | undefined)[];
  readonly scores: number[];
  readonly events: FeedbackEvent[];
}

/**
 * A training row and an outcome log line waiting for their commit: `k`, the index of its undecided
 * verdict (-1: counted already).
 */
interface Joined {
  readonly row: TrainingRow | undefined;
  readonly route: string;
  readonly outcome: LoggedOutcome | undefined;
  readonly k: number;
}

/** The end of one commit: answers the requests that had outcomes to make durable. */
class Commit implements Committed {
  constructor(
    private readonly durable: readonly Received[],
    /** The route and arm of each UNDECIDED verdict, in order. */
    private readonly labels: readonly string[],
    private readonly observer: FeedbackObserver | undefined,
    private readonly monitor?: OutcomeMonitor,
    private readonly outcomes?: Undecided,
    private readonly training?: TrainingJoin,
    private readonly joined?: readonly Joined[],
    private readonly logged?: OutcomeRecorder,
  ) {}

  committed(counted?: readonly boolean[]): void {
    if (counted) this.decide(counted);
    for (const r of this.durable) r.reply.verdicts(r.verdicts);
    // After the answers: a training row or a logged line is not part of the outcome's acknowledgement.
    if (this.joined)
      for (const j of this.joined)
        if (j.k < 0 || counted?.[j.k] === true) {
          if (j.row) this.training?.kept(j.row);
          if (j.outcome) this.logged?.kept(j.route, j.outcome);
        }
  }

  failed(error: unknown): void {
    for (const r of this.durable) r.reply.failed(error);
  }

  /** Replaces the UNDECIDED verdicts with what the commit found. */
  private decide(counted: readonly boolean[]): void {
    const { labels, monitor, outcomes } = this;
    let k = 0;
    let m = 0;
    for (const r of this.durable) {
      const verdicts = r.verdicts;
      for (let j = 0; j < verdicts.length; j++) {
        if (verdicts[j] !== UNDECIDED) continue;
        const v = counted[k] ? ACCEPTED : DUPLICATE;
        this.observer?.feedback(labels[2 * k]!, labels[2 * k + 1]!, v.result);
        if (monitor && outcomes) {
          const s = outcomes.served[k];
          if (s !== undefined) {
            if (counted[k]) {
              const e = outcomes.events[m]!;
              monitor.outcome(s.route, s.arm, s.versionKey, e.reward, e.label, outcomes.scores[m]!);
            }
            m++;
          }
        }
        verdicts[j] = v;
        k++;
      }
    }
  }
}
