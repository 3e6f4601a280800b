/**
 * Shadow arms: an arm with `"shadow": s` gets a copy of a share s of its route's predict requests.
 * The copy is drawn with the request and handed on only once the served answer is made, to the
 * shadow lane (inference/shadow-lane.ts: a worker of its own, never a served worker or the main
 * thread); it is scored there when the lane can take it at once, else dropped and counted, and at
 * most MAX_SHADOW_ROWS rows of copies wait or run in the whole process.
 * Its score is compared with the served one (monitoring/shadow-counts.ts); its answer goes nowhere.
 * A route without shadow arms pays one length check per request.
 */
import type { Job, RowSlice } from '../inference/batcher.js';
import type { InferenceEngine } from '../inference/engine.js';
import type { ShadowLane } from '../inference/shadow-lane.js';
import type { ShadowShedReason } from '../monitoring/shadow-counts.js';
import type { NumericArray, TensorValues } from '../protocol/datatypes.js';
import { featuresToRows } from '../protocol/predict.js';
import type { Registry } from '../registry/registry.js';
import type { ModelVersion } from '../registry/repository.js';
import type { Route, ShadowArm } from '../routing/router.js';

/**
 * Rows of shadow copies queued or running at once, in all. Enough for a shadow at share 1 on a
 * busy route on a quiet machine; past it copies are shed (reason "bound"), so a shadow model slower
 * than the served one costs a bounded amount of memory and worker time, never a growing backlog.
 */
export const MAX_SHADOW_ROWS = 256;

/** A shadow arm's counts (monitoring/shadow-counts.ts ShadowSeries). */
export interface ShadowTally {
  compared(served: number, shadow: number, threshold: number, latencyMs: number): void;
  shed(reason: ShadowShedReason): void;
  failed(): void;
}

/** Where a shadow arm's counts go (the monitor). */
export interface ShadowCounter {
  shadowSeries(route: string, arm: string): ShadowTally;
}

/** The monitored score of a slice's first row; NaN when the version has no `monitor` (as gateway.ts reads it). */
export function scoreOf(version: ModelVersion, slice: RowSlice): number {
  const o = version.scoreOutput ?? -1;
  if (o < 0) return NaN;
  const data = slice.result.outputs[o]!.data as NumericArray;
  return Number(data[slice.offset * version.outputRowSizes[o]!]);
}

/** A copy of a request's rows for one shadow arm. */
export class ShadowJob implements Job {
  readonly shadow = true as const;
  readonly deadline = 0;
  started = 0;
  servedScore = NaN;
  threshold = NaN;

  constructor(
    private readonly owner: Shadows,
    readonly tally: ShadowTally,
    readonly version: ModelVersion,
    readonly rows: number,
    readonly inputs: TensorValues[],
  ) {}

  resolve(slice: RowSlice): void {
    this.owner.done(this.rows);
    // The batch's inference time: what the shadow model costs, not how long the copy waited in the lane.
    this.tally.compared(this.servedScore, scoreOf(this.version, slice), this.threshold, slice.result.seconds * 1000);
  }

  reject(): void {
    this.owner.done(this.rows);
    this.tally.failed();
  }
}

/** The inputs' layout of a version, to know when a copy can share the served request's tensors. */
const layouts = new WeakMap<ModelVersion, string>();
function layoutOf(v: ModelVersion): string {
  let l = layouts.get(v);
  if (l === undefined)
    layouts.set(v, (l = JSON.stringify(v.manifest.inputs.map((t) => [t.name, t.datatype, t.shape, t.featureNames]))));
  return l;
}

export class Shadows {
  /** Rows of copies queued or running now. */
  private rows = 0;
  private readonly tallies = new WeakMap<ShadowArm, ShadowTally>();
  /** The version each shadow arm resolved to last. */
  private readonly lastVersion = new WeakMap<ShadowArm, ModelVersion>();

  constructor(
    private readonly registry: Registry,
    /** The served engine: a shadow version must be one it loaded (checked, refused or unloaded otherwise). */
    private readonly engine: InferenceEngine,
    private readonly lane: ShadowLane,
    private readonly counter: ShadowCounter,
    /** The routes now (the router's): their shadow versions are the ones the lane keeps. */
    private readonly routes: () => Iterable<Route>,
    private readonly maxRows = MAX_SHADOW_ROWS,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * The copies of one request that the route's shadow arms draw (undefined: none): the served
   * request's tensors when the shadow's model takes the same inputs, else its features read again
   * for that model (a copy they do not fit counts as failed).
   */
  draw(
    route: Route,
    served: ModelVersion,
    features: unknown,
    rows: number,
    inputs: TensorValues[],
    maxRows: number,
  ): ShadowJob[] | undefined {
    let copies: ShadowJob[] | undefined;
    for (const arm of route.shadows) {
      if (this.random() >= arm.shadow) continue;
      const tally = this.tallyOf(route, arm);
      // Under overload (some served queue refusing work) copies are the first thing to go.
      if (this.engine.saturation.any) {
        tally.shed('overload');
        continue;
      }
      const version = this.registry.resolve(arm.model, arm.version);
      if (version === undefined || !this.engine.isLoaded(version.key)) {
        tally.failed();
        continue;
      }
      // A shadow arm at "live" after a deploy: the lane loads the new version and frees the old.
      if (this.lastVersion.get(arm) !== version) {
        this.lastVersion.set(arm, version);
        this.prepare().catch(() => undefined);
      }
      let copied = inputs;
      if (version !== served && layoutOf(version) !== layoutOf(served)) {
        try {
          copied = featuresToRows(features as Parameters<typeof featuresToRows>[0], version, maxRows).inputs;
        } catch {
          tally.failed();
          continue;
        }
      }
      (copies ??= []).push(new ShadowJob(this, tally, version, rows, copied));
    }
    return copies;
  }

  /** After the served answer: each copy to its version's queue if it can take it now, else shed. */
  send(copies: readonly ShadowJob[], served: ModelVersion, servedScore: number): void {
    const threshold = served.manifest.monitor?.threshold ?? NaN;
    for (const job of copies) {
      if (this.lane.refused(job.version.key) !== undefined) {
        job.tally.failed();
        continue;
      }
      if (this.rows + job.rows > this.maxRows) {
        job.tally.shed('bound');
        continue;
      }
      job.servedScore = servedScore;
      job.threshold = threshold;
      job.started = performance.now();
      this.rows += job.rows;
      if (!this.lane.offer(job.version, job)) {
        this.rows -= job.rows;
        job.tally.shed('busy');
      }
    }
  }

  /** Rows of copies queued or running now. */
  get inFlightRows(): number {
    return this.rows;
  }

  done(rows: number): void {
    this.rows -= rows;
  }

  /**
   * Loads and warms every shadow version of the routes in the lane and frees the others: at start,
   * before the server listens, and when a shadow arm resolves to a version it did not before (a
   * route changed, or a deploy moved "live"); copies drawn meanwhile are shed as busy.
   */
  async prepare(): Promise<void> {
    const wanted = new Set<string>();
    const loads: Promise<void>[] = [];
    for (const route of this.routes())
      for (const arm of route.shadows) {
        const version = this.registry.resolve(arm.model, arm.version);
        if (version === undefined || !this.engine.isLoaded(version.key)) continue;
        wanted.add(version.key);
        // A version the lane cannot load fails its copies (counted); the served routes go on.
        loads.push(this.lane.load(version).catch(() => undefined));
      }
    await Promise.all(loads);
    await this.lane.retain((key) => wanted.has(key));
  }

  close(): Promise<void> {
    return this.lane.close();
  }

  private tallyOf(route: Route, arm: ShadowArm): ShadowTally {
    let t = this.tallies.get(arm);
    if (t === undefined) this.tallies.set(arm, (t = this.counter.shadowSeries(route.name, arm.name)));
    return t;
  }
}
