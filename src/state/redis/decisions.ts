/**
 * Decisions in Redis: each one is written (`SET croupier:decision:<id> <line> PX <window>`) before
 * its predict answer goes out, pipelined — one round trip for all the decisions of a turn (the
 * jobs one inference batch resolved), together with the turn's pull counts — so that feedback
 * posted to any replica finds it at once.
 * Nothing waits long on Redis: after WRITE_TIMEOUT_MS, or at once when Redis is known down, the
 * answers go out anyway and the decisions wait here (bounded) until Redis is back. Feedback for a
 * decision still held here answers 503 (it cannot be made durable yet).
 *
 * A pull is counted by the script that writes its decision (`SET NX`), and only when that decision
 * was new: a write that timed out on the client but ran on Redis, then is sent again by catch-up,
 * counts nothing twice (issue 13, cause 5); on Cluster, see writeEach. With `waitReplicas` the write ends with `WAIT`: a
 * write the replicas did not acknowledge in time counts as failed, its decisions stay held (and
 * their feedback answers 503) until a retry is acknowledged.
 */
import { randomBytes } from 'node:crypto';
import { Decision } from '../../feedback/decision.js';
import type { DecidedJob, DecisionSink } from '../../feedback/decision-log.js';
import type { Logger } from '../../log.js';
import type { ArmChoice } from '../../routing/router.js';
import { Cluster } from 'ioredis';
import { WAIT_TIMEOUT_MS, type RedisLink } from './connection.js';
import { writeAcked } from './acked.js';
import { featuresWithin } from '../../feedback/logged-features.js';
import { batch } from './batch.js';
import { decideArgs } from './decide-script.js';
import { saveHeld } from './held-journal.js';
import { decisionKey, pulledKey, statsKey } from './keys.js';
import { scripts } from './stats.js';

/** How long an answer may wait for its decision to reach Redis. */
export const WRITE_TIMEOUT_MS = 100;
/** Decisions written per pipeline when catching up after an outage. */
const CATCH_UP_CHUNK = 1000;

/** One turn's work: decisions to write (each counts its pull), answers to send. */
class Turn {
  readonly decisions: Decision[] = [];
  readonly jobs: DecidedJob[] = [];
  answered = false;

  answer(): void {
    if (this.answered) return;
    this.answered = true;
    // Answers go out from a promise callback here: one that throws must not keep the others back.
    for (const job of this.jobs) {
      try {
        job.answer();
      } catch {
        /* that exchange is broken; the rest still get their answers */
      }
    }
  }
}

/** Cluster: pulls of one arm and version counted in one call, under an id that makes it count once. */
interface PullCount {
  readonly route: string;
  readonly arm: string;
  readonly versionKey: string;
  n: number;
  readonly id: string;
}

/** How long a pull count's marker stays: a count sent again later than this could count twice. */
const PULL_MARKER_MS = 10 * 60_000;
/** Pull counts kept for a retry at most (the oldest go, logged, past it). */
const MAX_PENDING_PULLS = 10_000;

export class RedisDecisions implements DecisionSink {
  /** Decisions Redis has not confirmed yet (outage), oldest first; bounded. */
  private readonly held = new Map<string, Decision>();
  /** Cluster: pull counts Redis has not confirmed, sent again with the next write. */
  private pendingPulls: PullCount[] = [];
  private pullIds = 0;
  /**
   * Cluster: decisions whose pull is in a count already. A decision is in Redis once its SET NX
   * answered, new (OK) or not (null: a write whose answer was lost did it), and its pull is counted
   * from then on, once; one whose SET failed is counted when it is written.
   */
  private readonly pullCounted = new WeakSet<Decision>();
  private readonly pullTag = randomBytes(6).toString('hex');
  /** Decisions dropped from `held` to keep it bounded. */
  evicted = 0;
  /** Decisions that kept no features because theirs were over the cap (CROUPIER_FEATURES_MAX). */
  featuresTooLarge = 0;
  private turn = new Turn();
  private scheduled = false;
  private catchingUp: Promise<void> | undefined;
  private closed = false;
  /** A write outlived WRITE_TIMEOUT_MS and none has succeeded since. */
  private stalled = false;
  private readonly windowMs: (route: string) => number;

  /** The most bytes of features one decision keeps (CROUPIER_FEATURES_MAX). */
  private readonly featuresMax: number;

  constructor(
    private readonly link: RedisLink,
    private readonly log: Logger,
    private readonly max: number,
    windowMs: (route: string) => number,
    featuresMax: number,
  ) {
    this.windowMs = windowMs;
    this.featuresMax = featuresMax;
    link.onChange((up) => {
      if (up) void this.catchUp();
    });
  }

  decided(
    id: string,
    createdMs: number,
    pick: ArmChoice,
    rows: number,
    features: unknown,
    job: DecidedJob,
    score = NaN,
  ): void {
    const { route, version } = pick;
    const turn = this.turn;
    // `features` is undefined unless the route logs them: nothing more to do then.
    const json = features === undefined ? undefined : featuresWithin(features, this.featuresMax);
    if (features !== undefined && json === undefined) this.featuresTooLarge++;
    // Features are kept as the JSON text measured against the cap (CROUPIER_FEATURES_MAX): one over
    // it keeps none, its prediction answered as usual and the drop counted. In total, features in
    // Redis are bounded by the decisions' TTL; those held here during an outage, by
    // CROUPIER_DECISIONS_MAX times the cap.
    turn.decisions.push(
      new Decision(
        id,
        createdMs,
        route.name,
        pick.arm.name,
        version.model,
        version.version,
        version.key,
        version.sha256,
        pick.propensity,
        rows,
        undefined,
        undefined,
        score,
        json,
        pick.context,
      ),
    );
    turn.jobs.push(job);
    if (!this.scheduled) {
      this.scheduled = true;
      // After the callback that resolved this batch of jobs, not after the whole poll phase: the
      // answers wait for Redis, so the write should leave as early as it can.
      queueMicrotask(this.flush);
    }
  }

  /** Whether a decision made here still waits for Redis (its feedback must wait too). */
  holds(id: string): boolean {
    return this.held.has(id);
  }

  get pending(): number {
    return this.held.size;
  }

  /** Cluster: pull counts sent but not yet acknowledged by the replicas (sent again with the next write). */
  get unackedPulls(): number {
    return this.pendingPulls.length;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const turn = this.turn;
    this.turn = new Turn();
    if (!this.link.isUp() || this.stalled) {
      this.hold(turn.decisions);
      turn.answer();
      return;
    }
    const timer = setTimeout(() => this.late(turn), WRITE_TIMEOUT_MS);
    this.write(turn.decisions).then(
      () => {
        clearTimeout(timer);
        if (turn.answered) for (const d of turn.decisions) this.held.delete(d.id);
        turn.answer();
      },
      () => {
        clearTimeout(timer);
        turn.answer();
      },
    );
  };

  /**
   * Redis is slow: answer now, and count the decisions as held until the write is confirmed. Until
   * a write succeeds again, answers no longer wait (a hung Redis that keeps its socket open would
   * otherwise cost every prediction the full timeout); the catch-up loop probes meanwhile.
   */
  private late(turn: Turn): void {
    this.stalled = true;
    for (const d of turn.decisions) this.held.set(d.id, d);
    turn.answer();
  }

  /**
   * Writes decisions, and the pulls of those Redis did not have yet, in one round trip; what fails
   * is held for later. Resolves when Redis confirmed everything, rejects (after holding the rest)
   * otherwise.
   */
  private async write(decisions: readonly Decision[]): Promise<void> {
    const now = Date.now();
    const live: Decision[] = [];
    const ttls: number[] = [];
    for (const d of decisions) {
      const ttl = d.createdMs + this.windowMs(d.route) - now;
      if (ttl <= 0) continue;
      live.push(d);
      ttls.push(ttl);
    }
    if (live.length === 0 && this.pendingPulls.length === 0) return;
    const wait = this.link.waitReplicas;
    let failed: readonly Decision[] = [];
    let error: unknown;
    try {
      if (this.link.client instanceof Cluster) ({ failed, error } = await this.writeEach(live, ttls));
      else {
        // One script call writes the whole turn and counts its pulls (far cheaper for the client
        // than a command each), then WAIT when configured: one round trip.
        const args = decideArgs(live, ttls);
        const results = await batch(
          scripts(this.link.client),
          wait > 0
            ? [(c) => c.croupierDecide(...args), (c) => c.wait(wait, WAIT_TIMEOUT_MS)]
            : [(c) => c.croupierDecide(...args)],
        );
        error = results.find((r) => r instanceof Error);
        if (error === undefined && wait > 0 && (results[1] as number) < wait)
          error = new Error(`WAIT: ${results[1] as number} of ${wait} replicas acknowledged the decisions`);
        if (error !== undefined) failed = live;
      }
    } catch (err) {
      error = err;
      failed = live;
    }
    if (failed.length > 0) {
      this.hold(failed);
      error ??= new Error('decisions not written');
      this.link.failed(error);
      throw error;
    }
    this.stalled = false;
    this.link.wrote();
  }

  /**
   * Cluster: the keys of one call must share a slot, so each decision is SET in a pipeline of its
   * own, with a `WAIT` behind it on the same connection when `waitReplicas` is set (acked.ts: a WAIT
   * in a later round trip may go out on a connection that wrote nothing). The SET is not NX: a
   * decision sent again rewrites the same line and TTL, a write the WAIT behind it covers. Then the
   * pulls of the decisions Redis took, one count per arm and version under an id that makes it
   * count once (a count that failed, or that its replicas did not acknowledge, is sent again with
   * the next write; a count already made touches its marker, so that its WAIT covers it).
   * Returns the decisions not written (or not acknowledged) and the first error.
   */
  private async writeEach(
    live: readonly Decision[],
    ttls: readonly number[],
  ): Promise<{ failed: Decision[]; error: unknown }> {
    const client = scripts(this.link.client);
    const wait = this.link.waitReplicas;
    const written = await Promise.all(
      live.map((d, i) => writeAcked(client, [(c) => c.set(decisionKey(d.id), d.line(), 'PX', ttls[i]!)], wait)),
    );
    const pulls = new Map<string, PullCount>();
    live.forEach((d, i) => {
      // In Redis once its SET answered, acknowledged or not: its pull is counted from then on, once.
      if (written[i]!.results[0] instanceof Error || this.pullCounted.has(d)) return;
      this.pullCounted.add(d);
      const key = `${d.route}\n${d.arm}\n${d.versionKey}`;
      const p = pulls.get(key);
      if (p) p.n++;
      else pulls.set(key, { route: d.route, arm: d.arm, versionKey: d.versionKey, n: 1, id: this.pullId() });
    });
    const counts = [...this.pendingPulls, ...pulls.values()];
    this.pendingPulls = [];
    const counted = await Promise.all(
      counts.map((p) =>
        writeAcked(
          client,
          [
            (c) =>
              c.croupierPull(statsKey(p.route), pulledKey(p.route, p.id), p.arm, p.versionKey, p.n, PULL_MARKER_MS),
          ],
          wait,
        ),
      ),
    );
    this.retryPulls(counts.filter((_, i) => !counted[i]!.acked));
    const failed = live.filter((_, i) => !written[i]!.acked);
    const error = written.find((w) => !w.acked)?.error ?? counted.find((c) => !c.acked)?.error;
    return { failed, error };
  }

  private pullId(): string {
    return `${this.pullTag}-${(this.pullIds++).toString(36)}`;
  }

  /** Keeps pull counts for the next write (bounded: the oldest go first, logged). */
  private retryPulls(counts: readonly PullCount[]): void {
    if (counts.length === 0) return;
    this.pendingPulls.push(...counts);
    const over = this.pendingPulls.length - MAX_PENDING_PULLS;
    if (over > 0) {
      const dropped = this.pendingPulls.splice(0, over).reduce((n, p) => n + p.n, 0);
      this.log.warn({ pulls: dropped }, 'redis: pull counts dropped after failing for too long');
    }
    if (this.link.isConnected()) void this.catchUp();
  }

  private hold(decisions: readonly Decision[]): void {
    for (const d of decisions) {
      this.held.delete(d.id);
      this.held.set(d.id, d);
    }
    while (this.held.size > this.max) {
      this.held.delete(this.held.keys().next().value!);
      this.evicted++;
    }
    if (decisions.length > 0 && this.link.isConnected()) void this.catchUp();
  }

  /**
   * At shutdown: keeps writing what is held until `deadlineMs` (the drain's own deadline: Redis may
   * come back meanwhile), then journals what is still held to `journal` (see held-journal.ts).
   */
  async close(deadlineMs: number, journal?: string): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    while ((this.held.size > 0 || this.pendingPulls.length > 0) && Date.now() < deadlineMs) {
      const pause = new Promise<void>((resolve) =>
        setTimeout(resolve, Math.max(0, Math.min(100, deadlineMs - Date.now()))).unref(),
      );
      await Promise.race([this.catchUp(), pause]);
      await pause;
    }
    this.closed = true;
    if (this.held.size === 0) return;
    if (journal) {
      try {
        saveHeld(journal, [...this.held.values()]);
        this.log.warn(
          { decisions: this.held.size, journal },
          'redis: decisions not written before shutdown journaled; the next start on this state directory writes them',
        );
        return;
      } catch (err) {
        this.log.error({ err: (err as Error).message, journal }, 'redis: held decisions could not be journaled');
      }
    }
    this.log.warn(
      { decisions: this.held.size },
      'redis: decisions made during the outage were never written (their feedback will be refused)',
    );
  }

  /** Decisions a previous run journaled: held, and written by catch-up as soon as Redis takes them. */
  restore(decisions: readonly Decision[]): void {
    if (decisions.length === 0) return;
    this.log.info({ decisions: decisions.length }, 'redis: decisions journaled at the last shutdown taken up again');
    this.hold(decisions);
  }

  /**
   * Writes what was held during an outage, in chunks, oldest first; one run at a time. The run is
   * stored before it can finish and forgotten only by itself: with nothing to write it completes
   * synchronously, and a settled run left stored would stop catch-up for good (issue 12, finding 1).
   */
  catchUp(): Promise<void> {
    if (this.catchingUp) return this.catchingUp;
    const run = this.writeHeld().finally(() => {
      if (this.catchingUp !== run) return;
      this.catchingUp = undefined;
      // Decisions held after this run last looked (while it sent the pull counts left over, a
      // round trip): a catchUp() meanwhile was handed this run, which would not see them. Left
      // there, nothing wrote them until the next failure; after a CLUSTER FAILOVER their feedback
      // answered 503 for 43 s, then 404 on the other replica (the CI failure), and their pulls
      // counted in the next test (issue: Cluster failover data bug).
      if (this.held.size > 0 && this.link.isConnected() && !this.closed) void this.catchUp();
    });
    this.catchingUp = run;
    return run;
  }

  private async writeHeld(): Promise<void> {
    let written = 0;
    while (this.held.size > 0 && this.link.isConnected() && !this.closed) {
      const chunk: Decision[] = [];
      for (const d of this.held.values()) {
        chunk.push(d);
        if (chunk.length === CATCH_UP_CHUNK) break;
      }
      for (const d of chunk) this.held.delete(d.id);
      try {
        await this.write(chunk);
        written += chunk.length;
      } catch (err) {
        this.log.warn(
          { err: (err as Error).message, held: this.held.size },
          'redis: decisions held during the outage not written yet; will retry',
        );
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (written > 0) this.log.info({ decisions: written }, 'redis: decisions held during the outage written');
    // Cluster: pull counts that failed with a write that has no decisions left to retry.
    if (this.pendingPulls.length > 0 && this.link.isConnected() && !this.closed)
      await this.write([]).catch(() => undefined);
  }
}
