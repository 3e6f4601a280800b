/**
 * The decision log in Redis mode: decisions are read from Redis (whichever replica made them) and
 * outcomes counted with one script per event — dedupe by decision id, credit the arm's shared
 * statistics, append to the route's outcome stream — pipelined for a whole request. The verdicts are
 * the feedback core's (feedback/feedback.ts). An answer is 2xx only once Redis has run those
 * scripts; if Redis is unreachable, or a decision still waits here to be written, the request
 * answers 503 with Retry-After and nothing is counted twice when it is retried (the dedupe marker
 * makes a repeat a `duplicate`).
 */
import { CroupierError } from '../../errors.js';
import { Decision } from '../../feedback/decision.js';
import type {
  Committed,
  DecisionLogDeps,
  DecisionLookup,
  FeedbackStore,
  Served,
  VerifiedIds,
} from '../../feedback/decision-log.js';
import { DEFAULT_FEATURE_LIMITS } from '../../feedback/logged-features.js';
import { windowMs } from '../../feedback/windows.js';
import type { Logger } from '../../log.js';
import type { FeedbackEvent } from '../../protocol/feedback.js';
import type { Registry } from '../../registry/registry.js';
import type { Route } from '../../routing/router.js';
import { Cluster } from 'ioredis';
import { WAIT_TIMEOUT_MS, type RedisLink } from './connection.js';
import { writeAcked } from './acked.js';
import { batch } from './batch.js';
import { RedisDecisions } from './decisions.js';
import { heldJournal, takeHeld } from './held-journal.js';
import { contextArgs } from './linear.js';
import { decisionKey, outcomesKey, settledKey, statsKey } from './keys.js';
import { OUTCOME_RETENTION_MS, scripts, SharedStats } from './stats.js';

/** Seconds a client should wait before retrying feedback refused for want of Redis. */
export const RETRY_AFTER_S = 2;

function unavailable(message: string, cause?: unknown): CroupierError {
  return new CroupierError('state_unavailable', message, { cause, retryAfter: RETRY_AFTER_S });
}

/**
 * After an outage, another replica may still be writing the decisions it made meanwhile: a genuine
 * id from that time, not found in Redis, answers 503 (retry) rather than 404 for this long. So does
 * any genuine id younger than this: the replica that made it may be failing to write while this
 * one is not (its own connection, a failover it has not followed yet), and a young genuine
 * decision missing from Redis is one still on its way far more often than one lost (issue 13).
 */
export const CATCH_UP_GRACE_MS = 30_000;
const OUTAGE_MARGIN_MS = 1_000;
/** The least a shutdown waits for held decisions, even when the drain used up its own time. */
const CLOSE_MIN_MS = 2_000;

/** What Redis mode opens with: a store's needs, the link, and the registry (which version each arm serves). */
export interface RedisLogDeps extends DecisionLogDeps {
  readonly link: RedisLink;
  readonly registry: Registry;
}

export class RedisDecisionLog implements FeedbackStore<Decision> {
  /** Since when this replica has seen Redis fail (0: it answers). */
  private downSinceMs = 0;
  /** The last outage this replica saw end. */
  private outage: { fromMs: number; toMs: number } | undefined;
  /** The credit scripts' arguments of the outcomes settled since the last commit. */
  private credits: (string | number | Buffer)[][] = [];
  readonly gathers = false;
  /** Features kept here: none (they are in Redis). */
  readonly featuresBytes = 0;

  /** Re-reads the shared statistics, and tells this store whether each re-read reached Redis. */
  readonly stats: SharedStats;

  private constructor(
    private readonly link: RedisLink,
    readonly decisions: RedisDecisions,
    deps: RedisLogDeps,
    /** Where decisions still held at shutdown are journaled (held-journal.ts). */
    private readonly journal: string,
    private readonly log: Logger,
  ) {
    link.onChange((up) => this.health(up, Date.now()));
    this.stats = new SharedStats(link, deps.router, deps.registry, log, this);
  }

  /** Takes up the decisions a previous run journaled, and reads the shared statistics once. */
  static async open(deps: RedisLogDeps): Promise<RedisDecisionLog> {
    const { link, router, log } = deps;
    const decisions = new RedisDecisions(
      link,
      log,
      deps.decisionsMax,
      (route) => windowMs(router.get(route)),
      (deps.features ?? DEFAULT_FEATURE_LIMITS).maxBytes,
    );
    const journal = heldJournal(deps.stateDir);
    decisions.restore(takeHeld(journal));
    const store = new RedisDecisionLog(link, decisions, deps, journal, log);
    await store.stats.refresh();
    return store;
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
  mayBeCatchingUp(createdMs: number, nowMs: number): boolean {
    if (nowMs - createdMs < CATCH_UP_GRACE_MS) return true;
    // Redis failing right now (as this replica last saw it): anything made since may be held.
    if (this.downSinceMs > 0 && createdMs >= this.downSinceMs - OUTAGE_MARGIN_MS) return true;
    const o = this.outage;
    return (
      o !== undefined
      && nowMs - o.toMs < CATCH_UP_GRACE_MS
      && createdMs >= o.fromMs - OUTAGE_MARGIN_MS
      && createdMs <= o.toMs + OUTAGE_MARGIN_MS
    );
  }

  refusal(): CroupierError | undefined {
    if (this.link.isUp()) return undefined;
    return unavailable('Redis is unreachable; outcomes are refused until it is back (nothing was counted)');
  }

  /**
   * One pipelined GET for the genuine ids; not for those held here, which wait (RedisLookup.notYet):
   * whether one is held is taken now, as the request arrives.
   */
  async lookUp(ids: readonly string[], verified: VerifiedIds): Promise<DecisionLookup<Decision>> {
    const asked: number[] = [];
    const held: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (verified.createdMs[i] !== undefined) (this.decisions.holds(ids[i]!) ? held : asked).push(i);
    }
    const lines: (string | null)[] = new Array(ids.length).fill(null);
    if (asked.length > 0) {
      const found = await this.read(asked.map((i) => ids[i]!));
      for (let j = 0; j < asked.length; j++) lines[asked[j]!] = found[j]!;
    }
    return new RedisLookup(this, lines, held);
  }

  private async read(ids: readonly string[]): Promise<(string | null)[]> {
    let results: (string | null | Error)[];
    try {
      results = await batch(
        this.link.client,
        ids.map((id) => (c) => c.get(decisionKey(id))),
      );
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

  /** Queues the credit script for the commit, which tells whether it counted or was a duplicate. */
  settle(d: Decision, event: FeedbackEvent, route: Route | undefined, nowMs: number): undefined {
    const window = windowMs(route);
    const halfLife = route?.spec.halfLifeSeconds;
    const markerTtl = Math.max(1000, d.createdMs + window - nowMs);
    const minId = `${Math.max(0, nowMs - Math.max(window, OUTCOME_RETENTION_MS))}-0`;
    const args: (string | number | Buffer)[] = [
      statsKey(d.route),
      settledKey(d.route, d.id),
      outcomesKey(d.route),
      d.id,
      d.arm,
      d.versionKey,
      event.reward,
      nowMs,
      halfLife === undefined ? 0 : halfLife * 1000,
      markerTtl,
      minId,
      d.model,
      d.version,
      d.propensity,
      d.createdMs,
      event.label === undefined ? '' : JSON.stringify(event.label),
    ];
    // Contextual routes: the decision's context, for the arm's linear sums and the stream entry.
    const x = route?.contextual && d.context;
    if (x && x.length === route.contextual.context.length) args.push(...contextArgs(x));
    this.credits.push(args);
    return undefined;
  }

  commit(then: Committed): void {
    const credits = this.credits;
    this.credits = [];
    this.credit(credits).then(
      (counted) => then.committed(counted),
      (e: unknown) => then.failed(e),
    );
  }

  private async credit(credits: readonly (string | number | Buffer)[][]): Promise<boolean[]> {
    const retry = 'retry (outcomes already counted will be reported as duplicates)';
    // With waitReplicas, a 2xx also needs the replicas' acknowledgement: an outcome only the
    // master holds is lost with it. A duplicate touches its marker, so WAIT covers it too.
    const wait = this.link.waitReplicas;
    const client = scripts(this.link.client);
    let results: (number | Error)[];
    let acked: boolean;
    try {
      ({ results, acked } =
        client instanceof Cluster
          ? await this.creditEach(client, credits, wait)
          : await this.creditAll(client, credits, wait));
    } catch (err) {
      this.link.failed(err);
      throw unavailable(`Redis did not take the outcomes; ${retry}`, err);
    }
    const failed = results.find((r) => r instanceof Error);
    if (failed) {
      this.link.failed(failed);
      throw unavailable(`Redis did not take every outcome; ${retry}`, failed);
    }
    if (!acked) {
      const err = new Error(`WAIT: fewer than ${wait} replicas acknowledged the outcomes`);
      this.link.failed(err);
      throw unavailable(`Redis replicas did not acknowledge the outcomes in time; ${retry}`, err);
    }
    this.link.wrote();
    // 0: a duplicate; 1: counted and credited; 2: counted, not credited (the arm serves another version).
    const counted = credits.map((_, j) => results[j] !== 0);
    // The shared statistics changed: re-read them at once rather than at the next refresh.
    if (results.some((r) => r === 1)) void this.stats.refresh();
    return counted;
  }

  /** One Redis: every credit script, then WAIT, in one pipeline. */
  private async creditAll(
    client: ReturnType<typeof scripts>,
    credits: readonly (string | number | Buffer)[][],
    wait: number,
  ): Promise<{ results: (number | Error)[]; acked: boolean }> {
    const commands: ((c: typeof client) => Promise<number>)[] = credits.map((args) => (c) => c.croupierCredit(...args));
    if (wait > 0) commands.push((c) => c.wait(wait, WAIT_TIMEOUT_MS));
    const results = await batch(client, commands);
    const acked = wait === 0 || (results.at(-1) as number) >= wait;
    return { results: results.slice(0, credits.length), acked };
  }

  /**
   * Cluster: the credit scripts of one route (their keys share a slot) in one pipeline with the
   * WAIT behind them, on the connection that ran them (acked.ts); the routes' pipelines at once.
   */
  private async creditEach(
    client: ReturnType<typeof scripts> & Cluster,
    credits: readonly (string | number | Buffer)[][],
    wait: number,
  ): Promise<{ results: (number | Error)[]; acked: boolean }> {
    const byRoute = new Map<string | number | Buffer, number[]>();
    credits.forEach((args, j) => {
      const at = byRoute.get(args[0]!);
      if (at) at.push(j);
      else byRoute.set(args[0]!, [j]);
    });
    const groups = [...byRoute.values()];
    const answers = await Promise.all(
      groups.map((js) =>
        writeAcked(
          client,
          js.map((j) => (c: typeof client) => c.croupierCredit(...credits[j]!)),
          wait,
        ),
      ),
    );
    const results: (number | Error)[] = new Array(credits.length);
    for (let g = 0; g < groups.length; g++) {
      const js = groups[g]!;
      for (let i = 0; i < js.length; i++) results[js[i]!] = answers[g]!.results[i]!;
    }
    return { results, acked: answers.every((a) => a.acked) };
  }

  get pending(): number {
    return this.decisions.pending;
  }

  get evicted(): number {
    return this.decisions.evicted;
  }

  /** Over the per-decision cap only: features in Redis are bounded in total by the decisions' TTL. */
  featuresDropped(): { readonly droppedTooLarge: number; readonly droppedOverBudget: number } {
    return { droppedTooLarge: this.decisions.featuresTooLarge, droppedOverBudget: 0 };
  }

  routeReset(route: string): void {
    this.stats.reset(route).catch((err: unknown) => {
      this.log.error({ route, err: (err as Error).message }, 'redis: route statistics reset not written');
    });
  }

  start(): void {
    this.stats.start();
  }

  /**
   * Stops the statistics timer and writes what waits for Redis, until `deadlineMs` (the drain's
   * deadline; at least CLOSE_MIN_MS from now); what is still held then is journaled in the state directory.
   */
  async close(deadlineMs: number): Promise<void> {
    this.stats.stop();
    await this.decisions.close(Math.max(deadlineMs, Date.now() + CLOSE_MIN_MS), this.journal);
  }
}

/** One request's decisions as Redis answered for them (`lines[i]`: the `i`th id's line, null if none). */
class RedisLookup implements DecisionLookup<Decision> {
  constructor(
    private readonly log: RedisDecisionLog,
    private readonly lines: readonly (string | null)[],
    /** The ids whose decisions this replica still held for Redis. */
    private readonly held: readonly number[],
  ) {}

  find(i: number): Decision | undefined {
    const line = this.lines[i];
    return line ? Decision.fromLine(JSON.parse(line) as Parameters<typeof Decision.fromLine>[0]) : undefined;
  }

  served(d: Decision): Served {
    return d;
  }

  score(d: Decision): number {
    return d.score;
  }

  joined(d: Decision): Decision {
    return d;
  }

  notYet(i: number, createdMs: number, nowMs: number): CroupierError | undefined {
    if (this.held.includes(i)) {
      return unavailable(
        'a decision of this batch is not in Redis yet (it was made while Redis was unreachable); ' + 'retry shortly',
      );
    }
    if (!this.lines[i] && this.log.mayBeCatchingUp(createdMs, nowMs)) {
      return unavailable(
        'a decision of this batch was made while Redis was unreachable and may not be written yet; ' + 'retry shortly',
      );
    }
    return undefined;
  }
}
