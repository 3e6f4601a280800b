/**
 * Loads versions into the inference workers one worker at a time. ONNX Runtime creates a session
 * synchronously (seconds for a big model), and a worker runs no batch meanwhile: loading in every
 * worker at once held every route the workers serve. Here a version goes to one worker, which the
 * pool's balancer gives no new batch from the moment its turn comes; the load is posted once its
 * batches in flight are done, and when it answers, the next worker's turn comes. Loads take turns
 * in the order asked; a load's timeout counts from when it was asked.
 *
 * With only one worker started nobody else can serve: it loads between batches, without being set
 * apart, as it always did. A worker that starts later gets every version through `sync` first.
 */
import type { Piscina } from 'piscina';
import type { ChannelMessage, LoadSpec, LoadTiming } from './messages.js';

type Balancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;
/** A worker as piscina's balancer sees it: `id` is its threadId, `currentUsage` its tasks in flight. */
export type PiscinaWorker = Parameters<Balancer>[1][number];

/** What the rollout needs from the pool. */
export interface RolloutHost {
  /** Every worker, started or starting. */
  threadIds(): number[];
  post(msg: ChannelMessage): void;
  /** A worker is back from loading: batches waiting for capacity may go. */
  released(): void;
  /** A load failed or timed out: free the version wherever it got to. */
  abandoned(key: string): void;
}

type Outcome = { error: string } | { timing: LoadTiming };

interface PendingLoad {
  requestId: number;
  spec: LoadSpec;
  probeRows: number;
  /** Workers still to load it; its turn comes to the first. */
  targets: number[];
  errors: string[];
  /** The fastest worker's figures. */
  timing: LoadTiming | undefined;
  resolve: (timing: LoadTiming | undefined) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** The one worker loading now, or waiting for its batches to finish first. */
interface Turn {
  load: PendingLoad;
  threadId: number;
  /** Set when it is kept from batches; undefined when it loads between them (it is alone). */
  worker: PiscinaWorker | undefined;
  posted: boolean;
}

function fastest(a: LoadTiming | undefined, b: LoadTiming): LoadTiming {
  if (!a) return b;
  const batchUs =
    a.batchUs === undefined || b.batchUs === undefined ? (a.batchUs ?? b.batchUs) : Math.min(a.batchUs, b.batchUs);
  return batchUs === undefined
    ? { loadMs: Math.min(a.loadMs, b.loadMs) }
    : { loadMs: Math.min(a.loadMs, b.loadMs), batchUs };
}

export class LoadRollout {
  /** The threadId of the worker kept from batches (-1: none); read by the balancer for every task. */
  setApart = -1;
  /** That worker, for its count of batches in flight. */
  setApartWorker: PiscinaWorker | undefined;
  private readonly host: RolloutHost;
  private readonly timeoutMs: number;
  /** Workers piscina has started and may give tasks to, by threadId. */
  private readonly ready = new Map<number, PiscinaWorker>();
  /** Oldest first: turns go in that order. */
  private readonly loads = new Map<number, PendingLoad>();
  private turn: Turn | undefined;
  private nextRequestId = 1;

  constructor(host: RolloutHost, timeoutMs: number) {
    this.host = host;
    this.timeoutMs = timeoutMs;
  }

  workerReady(worker: PiscinaWorker): void {
    this.ready.set(worker.id, worker);
  }

  /** A worker exited (piscina has dropped it): it loads nothing more; a replacement gets every version through `sync`. */
  workerGone(): void {
    const live = new Set(this.host.threadIds());
    for (const id of this.ready.keys()) if (!live.has(id)) this.ready.delete(id);
    if (this.turn && !live.has(this.turn.threadId)) this.endTurn();
    this.next();
  }

  /** Resolves once every worker has the version, with the fastest worker's timing; rejects on the first failure. */
  load(spec: LoadSpec, probeRows: number): Promise<LoadTiming | undefined> {
    const requestId = this.nextRequestId++;
    return new Promise<LoadTiming | undefined>((resolve, reject) => {
      const timer = setTimeout(() => this.timedOut(requestId), this.timeoutMs);
      this.loads.set(requestId, {
        requestId,
        spec,
        probeRows,
        targets: this.host.threadIds(),
        errors: [],
        timing: undefined,
        resolve,
        reject,
        timer,
      });
      this.next();
    });
  }

  /** A worker answered a load: its own turn, or one it was not reached by (it had not started). */
  loaded(requestId: number, threadId: number, outcome: Outcome): void {
    const load = this.loads.get(requestId);
    if (load) this.credit(load, threadId, outcome);
    this.next();
  }

  /** A worker that started meanwhile loaded every version through `sync`. */
  synced(threadId: number, results: Record<string, Outcome>): void {
    for (const load of [...this.loads.values()]) {
      const outcome = results[load.spec.key];
      if (outcome) this.credit(load, threadId, outcome);
    }
    this.next();
  }

  /** Rows of the batch to time for a version still loading (a worker that starts meanwhile times it too). */
  probeRows(key: string): number {
    for (const load of this.loads.values()) if (load.spec.key === key) return load.probeRows;
    return 0;
  }

  /** Called after every batch: the worker set apart may have finished its last one. */
  batchDone(): void {
    if (this.turn !== undefined && !this.turn.posted) this.postIfIdle(this.turn);
  }

  close(): void {
    for (const load of this.loads.values()) {
      clearTimeout(load.timer);
      load.reject(new Error('pool closed'));
    }
    this.loads.clear();
    this.endTurn();
  }

  private next(): void {
    if (this.turn) return;
    const live = new Set(this.host.threadIds());
    for (const load of this.loads.values()) {
      load.targets = load.targets.filter((id) => live.has(id));
      if (load.targets.length === 0) {
        this.settle(load);
        continue;
      }
      const threadId = load.targets[0]!;
      const worker = this.ready.size >= 2 ? this.ready.get(threadId) : undefined;
      this.turn = { load, threadId, worker, posted: false };
      if (worker) {
        this.setApart = threadId;
        this.setApartWorker = worker;
      }
      this.postIfIdle(this.turn);
      return;
    }
  }

  private postIfIdle(turn: Turn): void {
    if (turn.worker !== undefined && turn.worker.currentUsage > 0) return;
    turn.posted = true;
    const { requestId, spec, probeRows } = turn.load;
    this.host.post({ op: 'load', requestId, threadId: turn.threadId, spec, probeRows });
  }

  private credit(load: PendingLoad, threadId: number, outcome: Outcome): void {
    const at = load.targets.indexOf(threadId);
    if (at < 0) return;
    load.targets.splice(at, 1);
    if ('error' in outcome) load.errors.push(outcome.error);
    else load.timing = fastest(load.timing, outcome.timing);
    if (this.turn?.load === load && this.turn.threadId === threadId) this.endTurn();
    if (load.errors.length > 0 || load.targets.length === 0) this.settle(load);
  }

  private settle(load: PendingLoad): void {
    clearTimeout(load.timer);
    this.loads.delete(load.requestId);
    if (this.turn?.load === load) this.endTurn();
    if (load.errors.length > 0) {
      this.host.abandoned(load.spec.key);
      load.reject(new Error(load.errors[0]));
    } else {
      load.resolve(load.timing);
    }
  }

  private timedOut(requestId: number): void {
    const load = this.loads.get(requestId);
    if (!load) return;
    load.errors.push(`loading ${load.spec.key} timed out after ${this.timeoutMs} ms`);
    this.settle(load);
    this.next();
  }

  private endTurn(): void {
    const wasApart = this.setApart !== -1;
    this.turn = undefined;
    this.setApart = -1;
    this.setApartWorker = undefined;
    if (wasApart) this.host.released();
  }
}
