/**
 * Outcomes in Redis mode: joins each feedback event to its decision (read from Redis, whichever
 * replica made it), then counts it with one script per event — dedupe by decision id, credit the
 * arm's shared statistics, append to the route's outcome stream — pipelined for the whole batch.
 * An answer is 2xx only once Redis has run those scripts; if Redis is unreachable, or the decision
 * still waits here to be written, the batch answers 503 with Retry-After and nothing is counted
 * twice when it is retried (the dedupe marker makes a repeat a `duplicate`).
 */
import { CroupierError } from '../errors.js';
import { Decision } from '../feedback/decision.js';
import type { DecisionIds } from '../feedback/decision-id.js';
import type { FeedbackObserver, OutcomeReply, Verdict } from '../feedback/feedback.js';
import type { OutcomeResult } from '../feedback/outcome.js';
import { isMalformed, type FeedbackEvent, type MalformedEvent } from '../protocol/feedback.js';
import type { Router } from '../routing/router.js';
import { Cluster } from 'ioredis';
import { routeKey, WAIT_TIMEOUT_MS, waitOnKeyNodes, type RedisLink } from './connection.js';
import { decisionKey, type RedisDecisions } from './decisions.js';
import { batch, OUTCOME_RETENTION_MS, statsKey } from './stats.js';

const DEFAULT_WINDOW_S = 86_400;
/** Seconds a client should wait before retrying feedback refused for want of Redis. */
export const RETRY_AFTER_S = 2;

export function outcomesKey(route: string): string {
  return routeKey(route, 'outcomes');
}

export function settledKey(route: string, decision: string): string {
  return routeKey(route, `settled:${decision}`);
}

function unavailable(message: string, cause?: unknown): CroupierError {
  return new CroupierError('state_unavailable', message, { cause, retryAfter: RETRY_AFTER_S });
}

const ACCEPTED: Verdict = { result: 'accepted' };
const DUPLICATE: Verdict = { result: 'duplicate', message: 'an outcome for this decision was already counted' };

/**
 * After an outage, another replica may still be writing the decisions it made meanwhile: a genuine
 * id from that time, not found in Redis, answers 503 (retry) rather than 404 for this long. So does
 * any genuine id younger than this: the replica that made it may be failing to write while this
 * one is not (its own connection, a failover it has not followed yet), and a young genuine
 * decision missing from Redis is one still on its way far more often than one lost (issue 13).
 */
export const CATCH_UP_GRACE_MS = 30_000;
const OUTAGE_MARGIN_MS = 1_000;

export class RedisFeedback {
  /** Since when this replica has seen Redis fail (0: it answers). */
  private downSinceMs = 0;
  /** The last outage this replica saw end. */
  private outage: { fromMs: number; toMs: number } | undefined;

  constructor(
    private readonly link: RedisLink,
    private readonly ids: DecisionIds,
    private readonly decisions: RedisDecisions,
    private readonly router: Router,
    private readonly observer?: FeedbackObserver,
  ) {
    link.onChange((up) => this.health(up, Date.now()));
  }

  /**
   * What this replica saw of Redis: the connection going down or up, or a command issued at
   * `sinceMs` failing (a hung Redis keeps its socket open) or succeeding.
   */
  health(ok: boolean, sinceMs: number): void {
    if (!ok) {
      if (this.downSinceMs > 0) return;
      // Dips close together are one outage: a decision made in the first may still be held when
      // the last ends (a failover is often several reconnects and failed writes in a row).
      const o = this.outage;
      this.downSinceMs = o !== undefined && sinceMs - o.toMs < CATCH_UP_GRACE_MS ? o.fromMs : sinceMs;
    } else if (this.downSinceMs > 0) {
      this.outage = { fromMs: this.downSinceMs, toMs: Date.now() };
      this.downSinceMs = 0;
    }
  }

  /** Whether a decision made at `createdMs` may still be held by a replica catching up after an outage. */
  private mayBeCatchingUp(createdMs: number, nowMs: number): boolean {
    if (nowMs - createdMs < CATCH_UP_GRACE_MS) return true;
    // Redis failing right now (as this replica last saw it): anything made since may be held.
    if (this.downSinceMs > 0 && createdMs >= this.downSinceMs - OUTAGE_MARGIN_MS) return true;
    const o = this.outage;
    return o !== undefined && nowMs - o.toMs < CATCH_UP_GRACE_MS
      && createdMs >= o.fromMs - OUTAGE_MARGIN_MS && createdMs <= o.toMs + OUTAGE_MARGIN_MS;
  }

  /** Judges every event; replies once the accepted ones are counted in Redis. */
  receive(events: readonly (FeedbackEvent | MalformedEvent)[], reply: OutcomeReply, nowMs = Date.now()): void {
    this.judge(events, nowMs).then((verdicts) => reply.verdicts(verdicts), (e: unknown) => reply.failed(e));
  }

  private async judge(events: readonly (FeedbackEvent | MalformedEvent)[], nowMs: number): Promise<Verdict[]> {
    if (!this.link.isUp()) throw unavailable('Redis is unreachable; outcomes are refused until it is back (nothing was counted)');
    const verdicts: (Verdict | undefined)[] = new Array(events.length);
    const lookups: number[] = [];
    const maxWindowMs = this.maxWindowMs();
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (isMalformed(e)) { verdicts[i] = this.count('unknown', '', { result: 'invalid', code: 'invalid_request', message: e.malformed }); continue; }
      const createdMs = this.ids.verify(e.decision);
      if (createdMs === undefined) { verdicts[i] = this.count('unknown', '', { result: 'unknown', code: 'decision_not_found', message: 'no such decision (the id is not one this gateway issued)' }); continue; }
      if (nowMs - createdMs > maxWindowMs) { verdicts[i] = this.count('unknown', '', { result: 'expired', code: 'decision_expired', message: 'the decision is past its feedback window' }); continue; }
      if (this.decisions.holds(e.decision)) throw unavailable('a decision of this batch is not in Redis yet (it was made while Redis was unreachable); retry shortly');
      lookups.push(i);
    }

    const found = await this.read(lookups.map((i) => (events[i] as FeedbackEvent).decision));
    const credits: { index: number; d: Decision; event: FeedbackEvent; args: (string | number)[] }[] = [];
    for (let j = 0; j < lookups.length; j++) {
      const i = lookups[j]!;
      const event = events[i] as FeedbackEvent;
      const line = found[j];
      if (!line) {
        if (this.mayBeCatchingUp(this.ids.verify(event.decision)!, nowMs)) throw unavailable('a decision of this batch was made while Redis was unreachable and may not be written yet; retry shortly');
        verdicts[i] = this.count('unknown', '', { result: 'unknown', code: 'decision_not_found', message: 'no such decision (unknown, or past its window)' });
        continue;
      }
      const d = Decision.fromLine(JSON.parse(line) as Parameters<typeof Decision.fromLine>[0]);
      const route = this.router.get(d.route);
      const spec = route?.spec;
      const label = route ? d.route : 'unknown';
      const arm = route ? d.arm : '';
      if (spec?.reward !== 'gaussian' && (event.reward < 0 || event.reward > 1)) {
        verdicts[i] = this.count(label, arm, { result: 'invalid', code: 'reward_out_of_range', message: `reward ${event.reward} is outside [0, 1] on a Bernoulli route` });
        continue;
      }
      const windowMs = (spec?.feedbackWindow ?? DEFAULT_WINDOW_S) * 1000;
      if (nowMs - d.createdMs > windowMs) {
        verdicts[i] = this.count(label, arm, { result: 'expired', code: 'decision_expired', message: 'the decision is past its feedback window' });
        continue;
      }
      const halfLifeMs = spec?.halfLifeSeconds === undefined ? 0 : spec.halfLifeSeconds * 1000;
      const markerTtl = Math.max(1000, d.createdMs + windowMs - nowMs);
      const minId = `${Math.max(0, nowMs - Math.max(windowMs, OUTCOME_RETENTION_MS))}-0`;
      credits.push({ index: i, d, event, args: [
        statsKey(d.route), settledKey(d.route, d.id), outcomesKey(d.route),
        d.id, d.arm, d.versionKey, event.reward, nowMs, halfLifeMs, markerTtl, minId, d.model, d.version, d.propensity, d.createdMs,
        event.label === undefined ? '' : JSON.stringify(event.label),
      ] });
    }

    if (credits.length > 0) {
      let results: (number | Error)[];
      // With waitReplicas, a 2xx also needs the replicas' acknowledgement: an outcome only the
      // master holds is lost with it. A duplicate touches its marker, so WAIT covers it too.
      const wait = this.link.waitReplicas;
      const commands: ((c: Parameters<Parameters<typeof batch<number>>[1][number]>[0]) => Promise<number>)[] = credits.map(({ args }) => (c) => c.croupierCredit(...args));
      if (wait > 0 && !(this.link.client instanceof Cluster)) commands.push((c) => c.wait(wait, WAIT_TIMEOUT_MS));
      try {
        results = await batch(this.link.client, commands);
      } catch (err) {
        this.link.failed(err);
        throw unavailable('Redis did not take the outcomes; retry (outcomes already counted will be reported as duplicates)', err);
      }
      const failed = results.find((r) => r instanceof Error);
      if (failed) {
        this.link.failed(failed);
        throw unavailable('Redis did not take every outcome; retry (outcomes already counted will be reported as duplicates)', failed);
      }
      const client = this.link.client;
      const acked = client instanceof Cluster
        ? wait === 0 || await waitOnKeyNodes(client, credits.map(({ d }) => outcomesKey(d.route)), wait)
        : commands.length === credits.length || (results.at(-1) as number) >= wait;
      if (!acked) {
        const err = new Error(`WAIT: fewer than ${wait} replicas acknowledged the outcomes`);
        this.link.failed(err);
        throw unavailable('Redis replicas did not acknowledge the outcomes in time; retry (outcomes already counted will be reported as duplicates)', err);
      }
      this.link.wrote();
      let touched = false;
      for (let j = 0; j < credits.length; j++) {
        const { index, d } = credits[j]!;
        const result = results[j] as number;
        const known = this.router.get(d.route) !== undefined;
        verdicts[index] = this.count(known ? d.route : 'unknown', known ? d.arm : '', result === 0 ? DUPLICATE : ACCEPTED);
        if (result === 1) touched = true;
      }
      if (touched) this.onCredited?.();
    }
    return verdicts as Verdict[];
  }

  /** Called after a batch credited statistics (the shared statistics are re-read at once). */
  onCredited: (() => void) | undefined;

  private async read(ids: readonly string[]): Promise<(string | null)[]> {
    if (ids.length === 0) return [];
    let results: (string | null | Error)[];
    try {
      results = await batch(this.link.client, ids.map((id) => (c) => c.get(decisionKey(id))));
    } catch (err) {
      this.link.failed(err);
      throw unavailable('Redis did not answer the decision look-up; retry', err);
    }
    const failed = results.find((r) => r instanceof Error);
    if (failed) {
      this.link.failed(failed);
      throw unavailable('Redis did not answer the decision look-up; retry', failed);
    }
    return results as (string | null)[];
  }

  private count(route: string, arm: string, verdict: Verdict): Verdict {
    this.observer?.feedback(route, arm, verdict.result as OutcomeResult);
    return verdict;
  }

  private maxWindowMs(): number {
    let max = 0;
    for (const r of this.router.routes.values()) max = Math.max(max, r.spec.feedbackWindow);
    return (max || DEFAULT_WINDOW_S) * 1000;
  }
}
