/**
 * Decisions in Redis: each one is written (`SET croupier:decision:<id> <line> PX <window>`) before
 * its predict answer goes out, pipelined — one round trip for all the decisions of a turn (the
 * jobs one inference batch resolved), together with the turn's pull counts — so that feedback
 * posted to any replica finds it at once.
 * Nothing waits long on Redis: after WRITE_TIMEOUT_MS, or at once when Redis is known down, the
 * answers go out anyway and the decisions wait here (bounded) until Redis is back. Feedback for a
 * decision still held here answers 503 (it cannot be made durable yet).
 */
import { Decision } from '../feedback/decision.js';
import type { DecidedJob, DecisionSink } from '../gateway.js';
import type { Logger } from '../log.js';
import type { ModelVersion } from '../registry/repository.js';
import type { Pick, Route } from '../routing/router.js';
import { Cluster } from 'ioredis';
import { KEY_PREFIX, type RedisLink } from './connection.js';
import { batch, statsKey } from './stats.js';

/** How long an answer may wait for its decision to reach Redis. */
export const WRITE_TIMEOUT_MS = 100;
/** Decisions written per pipeline when catching up after an outage. */
const CATCH_UP_CHUNK = 1000;

/** Decision keys are not hash-tagged: feedback knows only the id, and they spread over the slots. */
export function decisionKey(id: string): string {
  return `${KEY_PREFIX}decision:${id}`;
}

/** Pull counts of one turn, per route, version and arm. */
type Pulls = Map<Route, Map<ModelVersion, Float64Array>>;

/** One turn's work: decisions to write, answers to send, pulls to count. */
class Turn {
  readonly decisions: Decision[] = [];
  readonly jobs: DecidedJob[] = [];
  readonly pulls: Pulls = new Map();
  answered = false;

  answer(): void {
    if (this.answered) return;
    this.answered = true;
    // Answers go out from a promise callback here: one that throws must not keep the others back.
    for (const job of this.jobs) {
      try {
        job.answer();
      } catch { /* that exchange is broken; the rest still get their answers */ }
    }
  }
}

export class RedisDecisions implements DecisionSink {
  /** Decisions Redis has not confirmed yet (outage), oldest first; bounded. */
  private readonly held = new Map<string, Decision>();
  /** Pull counts Redis has not taken yet. */
  private heldPulls: Pulls = new Map();
  /** Decisions dropped from `held` to keep it bounded. */
  evicted = 0;
  private turn = new Turn();
  private scheduled = false;
  private catchingUp: Promise<void> | undefined;
  private closed = false;
  /** A write outlived WRITE_TIMEOUT_MS and none has succeeded since. */
  private stalled = false;
  private readonly windowMs: (route: string) => number;

  constructor(private readonly link: RedisLink, private readonly log: Logger, private readonly max: number, windowMs: (route: string) => number) {
    this.windowMs = windowMs;
    link.onChange((up) => { if (up) void this.catchUp(); });
  }

  decided(id: string, createdMs: number, pick: Pick, rows: number, features: unknown, job: DecidedJob): void {
    const { route, version } = pick;
    const turn = this.turn;
    turn.decisions.push(new Decision(id, createdMs, route.name, pick.arm.name, version.model, version.version, version.key,
      version.sha256, pick.propensity, rows, features));
    turn.jobs.push(job);
    count(turn.pulls, route, version, pick.arm.index, 1);
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

  private readonly flush = (): void => {
    this.scheduled = false;
    const turn = this.turn;
    this.turn = new Turn();
    if (!this.link.isUp() || this.stalled) {
      this.hold(turn.decisions, turn.pulls);
      turn.answer();
      return;
    }
    const timer = setTimeout(() => this.late(turn), WRITE_TIMEOUT_MS);
    this.write(turn.decisions, turn.pulls).then(() => {
      clearTimeout(timer);
      if (turn.answered) for (const d of turn.decisions) this.held.delete(d.id);
      turn.answer();
    }, () => {
      clearTimeout(timer);
      turn.answer();
    });
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
   * Writes decisions and pull counts in one round trip; what fails is held for later. Resolves
   * when Redis confirmed everything, rejects (after holding the rest) otherwise.
   */
  private async write(decisions: readonly Decision[], pulls: Pulls): Promise<void> {
    const now = Date.now();
    const commands: ((c: Parameters<Parameters<typeof batch>[1][number]>[0]) => Promise<unknown>)[] = [];
    const live: Decision[] = [];
    const keys: string[] = [];
    const values: (string | number)[] = [];
    const ttls: number[] = [];
    for (const d of decisions) {
      const ttl = d.createdMs + this.windowMs(d.route) - now;
      if (ttl <= 0) continue;
      live.push(d);
      keys.push(decisionKey(d.id));
      values.push(d.line());
      ttls.push(ttl);
    }
    // One script call sets the whole turn's decisions (far cheaper for the client than a command
    // each); on Cluster, where the keys of one call must share a slot, one SET each.
    const perKey = this.link.client instanceof Cluster;
    if (perKey) for (let i = 0; i < keys.length; i++) commands.push((c) => c.set(keys[i]!, values[i]!, 'PX', ttls[i]!));
    else if (keys.length > 0) commands.push((c) => c.croupierDecide(keys.length, ...keys, ...values, ...ttls));
    const decisionResults = commands.length;
    const pullList: [Route, ModelVersion, number, number][] = [];
    for (const [route, byVersion] of pulls) {
      for (const [version, counts] of byVersion) {
        for (let i = 0; i < counts.length; i++) {
          const n = counts[i]!;
          if (n === 0) continue;
          pullList.push([route, version, i, n]);
          commands.push((c) => c.croupierPull(statsKey(route.name), route.arms[i]!.name, version.key, n));
        }
      }
    }
    let results: unknown[];
    try {
      results = await batch(this.link.client, commands);
    } catch (err) {
      this.hold(live, pulls);
      throw err;
    }
    const failed = perKey ? live.filter((_, i) => results[i] instanceof Error) : (results[0] instanceof Error ? live : []);
    const failedPulls: Pulls = new Map();
    for (let j = 0; j < pullList.length; j++) {
      if (!(results[decisionResults + j] instanceof Error)) continue;
      const [route, version, arm, n] = pullList[j]!;
      count(failedPulls, route, version, arm, n);
    }
    if (failed.length > 0 || failedPulls.size > 0) {
      this.hold(failed, failedPulls);
      throw results.find((r) => r instanceof Error) as Error;
    }
    this.stalled = false;
  }

  private hold(decisions: readonly Decision[], pulls: Pulls): void {
    for (const d of decisions) {
      this.held.delete(d.id);
      this.held.set(d.id, d);
    }
    while (this.held.size > this.max) {
      this.held.delete(this.held.keys().next().value!);
      this.evicted++;
    }
    for (const [route, byVersion] of pulls) for (const [version, counts] of byVersion) counts.forEach((n, i) => count(this.heldPulls, route, version, i, n));
    if (decisions.length > 0 && this.link.isUp()) void this.catchUp();
  }

  /** At shutdown: one last attempt, for at most `timeoutMs`, to write what is held. */
  async close(timeoutMs: number): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([this.catchUp(), timer]);
    this.closed = true;
    if (this.held.size > 0) this.log.warn({ decisions: this.held.size }, 'redis: decisions made during the outage were never written (their feedback will be refused)');
  }

  /**
   * Writes what was held during an outage, in chunks, oldest first; one run at a time. The run is
   * stored before it can finish and forgotten only by itself: with nothing to write it completes
   * synchronously, and a settled run left stored would stop catch-up for good (issue 12, finding 1).
   */
  catchUp(): Promise<void> {
    if (this.catchingUp) return this.catchingUp;
    const run = this.writeHeld().finally(() => {
      if (this.catchingUp === run) this.catchingUp = undefined;
    });
    this.catchingUp = run;
    return run;
  }

  private async writeHeld(): Promise<void> {
    let written = 0;
    while ((this.held.size > 0 || this.heldPulls.size > 0) && this.link.isUp() && !this.closed) {
      const chunk: Decision[] = [];
      for (const d of this.held.values()) {
        chunk.push(d);
        if (chunk.length === CATCH_UP_CHUNK) break;
      }
      for (const d of chunk) this.held.delete(d.id);
      const pulls = this.heldPulls;
      this.heldPulls = new Map();
      try {
        await this.write(chunk, pulls);
        written += chunk.length;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, held: this.held.size }, 'redis: decisions held during the outage not written yet; will retry');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (written > 0) this.log.info({ decisions: written }, 'redis: decisions held during the outage written');
  }
}

function count(pulls: Pulls, route: Route, version: ModelVersion, arm: number, n: number): void {
  let byVersion = pulls.get(route);
  if (!byVersion) pulls.set(route, byVersion = new Map());
  let counts = byVersion.get(version);
  if (!counts) byVersion.set(version, counts = new Float64Array(route.arms.length));
  counts[arm]! += n;
}
