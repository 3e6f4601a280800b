/**
 * The scoring path without HTTP: validate -> route (pick arm, resolve version) -> batch/infer -> answer.
 * http/ calls this with a Responder; it never sees a socket. Each request becomes one Job object
 * that the batcher resolves directly: no promise or closure per request on this path.
 */
import { CroupierError } from '../errors.js';
import type { DecisionIds } from '../feedback/decision-id.js';
import type { DecidedJob, DecisionSink } from '../feedback/decision-log.js';
import type { RowSlice } from '../inference/batcher.js';
import type { InferenceEngine } from '../inference/engine.js';
import type { TensorValues } from '../protocol/datatypes.js';
import { featuresToRows, outputsJson, parsePredictBody } from '../protocol/predict.js';
import { inferAnswer, parseInferRequest, type InferRequest } from '../protocol/v2.js';
import type { Registry } from '../registry/registry.js';
import type { ModelVersion } from '../registry/repository.js';
import type { Arm, ArmChoice, Route, Router } from '../routing/router.js';
import { scoreOf, type ShadowJob, type Shadows } from './shadow.js';

/** Where a scoring answer goes (the HTTP exchange). */
export interface Responder {
  /** The answer, and the labels of what served it. */
  scored(json: string, version: ModelVersion, arm: string): void;
  /** A binary-tensor answer: a JSON header of `headerLength` bytes, then the tensors. */
  scoredBinary(bytes: Buffer, headerLength: number, version: ModelVersion, arm: string): void;
  failed(error: unknown): void;
  /** performance.now() when the request arrived. */
  readonly started: number;
}

/** What an arm's answers hold between the decision id and the outputs, while its version and propensity stay. */
interface Middle {
  version: ModelVersion;
  propensity: number;
  text: string;
}
const middles = new WeakMap<Arm, Middle>();

/** `","route":…,"propensity":p,"outputs":` for `pick`: the same for every answer of an arm until its weight changes. */
function answerMiddle(pick: ArmChoice): string {
  const { arm, version, propensity } = pick;
  let m = middles.get(arm);
  if (m === undefined || m.version !== version || m.propensity !== propensity) {
    m = {
      version,
      propensity,
      text: `","route":"${pick.route.name}","arm":"${arm.name}","model":"${version.model}","version":"${version.version}","propensity":${propensity},"outputs":`,
    };
    middles.set(arm, m);
  }
  return m.text;
}

/**
 * Told each decision made (the monitoring windows: pulls and propensities; the arm's health: its
 * latency, from the request's arrival to its batch's outputs) and each failure after an arm was
 * picked (its health: errors).
 */
export interface DecisionMonitor {
  decided(pick: ArmChoice, latencyMs: number): void;
  failed(pick: ArmChoice, error: unknown): void;
}

abstract class ScoringJob {
  readonly rows: number;
  readonly inputs: TensorValues[];
  readonly deadline: number;
  protected readonly responder: Responder;

  constructor(responder: Responder, rows: number, inputs: TensorValues[], deadline: number) {
    this.responder = responder;
    this.rows = rows;
    this.inputs = inputs;
    this.deadline = deadline;
  }

  /** When the request arrived (the batcher's statistics): the responder's, not a copy per job. */
  get started(): number {
    return this.responder.started;
  }

  abstract resolve(slice: RowSlice): void;

  reject(error: Error): void {
    this.responder.failed(error);
  }
}

class PredictJob extends ScoringJob implements DecidedJob {
  private json = '';
  /** Copies for the route's shadow arms, sent once the served answer is made (scoring/shadow.ts). */
  copies: ShadowJob[] | undefined = undefined;

  constructor(
    private readonly gateway: Gateway,
    responder: Responder,
    private readonly pick: ArmChoice,
    rows: number,
    inputs: TensorValues[],
    deadline: number,
    private readonly features: unknown,
  ) {
    super(responder, rows, inputs, deadline);
  }

  resolve(slice: RowSlice): void {
    const { pick } = this;
    const decision = this.gateway.mint();
    this.json = `{"decision":"${decision}${answerMiddle(pick)}${outputsJson(pick.version, slice)}}`;
    const score = scoreOf(pick.version, slice);
    this.gateway.decide(decision, pick, this.rows, this.features, this, score, slice.doneAt);
    if (this.copies !== undefined) this.gateway.shadows!.send(this.copies, pick.version, score);
  }

  override reject(error: Error): void {
    // The served request failed: there is nothing to compare its copies with, and they were never queued.
    this.copies = undefined;
    this.gateway.failed(this.pick, error);
    super.reject(error);
  }

  answer(): void {
    this.responder.scored(this.json, this.pick.version, this.pick.arm.name);
  }
}

class InferJob extends ScoringJob implements DecidedJob {
  private result: ReturnType<typeof inferAnswer> | undefined;

  constructor(
    private readonly gateway: Gateway,
    responder: Responder,
    private readonly version: ModelVersion,
    private readonly request: InferRequest,
    deadline: number,
    private readonly pick?: ArmChoice,
  ) {
    super(responder, request.rows, request.inputs, deadline);
  }

  resolve(slice: RowSlice): void {
    const { pick } = this;
    if (!pick) {
      this.result = inferAnswer(this.version, this.request, slice, undefined);
      this.answer();
      return;
    }
    const decision = this.gateway.mint();
    this.result = inferAnswer(this.version, this.request, slice, {
      decision,
      route: pick.route.name,
      arm: pick.arm.name,
      propensity: pick.propensity,
    });
    this.gateway.decide(decision, pick, this.rows, undefined, this, scoreOf(pick.version, slice), slice.doneAt);
  }

  override reject(error: Error): void {
    if (this.pick) this.gateway.failed(this.pick, error);
    super.reject(error);
  }

  answer(): void {
    const answer = this.result!;
    if ('json' in answer) this.responder.scored(answer.json, this.version, this.pick?.arm.name ?? '');
    else this.responder.scoredBinary(answer.bytes, answer.header, this.version, this.pick?.arm.name ?? '');
  }
}

export class Gateway {
  readonly registry: Registry;
  readonly router: Router;
  readonly engine: InferenceEngine;
  private readonly ids: DecisionIds;
  private readonly maxRows: number;
  /** Where decisions go (the feedback loop's store); without one, a job is answered at once. */
  private readonly decisions: DecisionSink | undefined;
  /** Told each decision (the monitoring windows). */
  private readonly monitor: DecisionMonitor | undefined;
  /** Copies requests to the routes' shadow arms; without it, shadow arms get nothing. */
  readonly shadows: Shadows | undefined;

  constructor(
    registry: Registry,
    router: Router,
    engine: InferenceEngine,
    ids: DecisionIds,
    maxRows: number,
    decisions?: DecisionSink,
    monitor?: DecisionMonitor,
    shadows?: Shadows,
  ) {
    this.shadows = shadows;
    this.registry = registry;
    this.decisions = decisions;
    this.monitor = monitor;
    this.router = router;
    this.engine = engine;
    this.ids = ids;
    this.maxRows = maxRows;
  }

  /** A fresh decision id. */
  mint(): string {
    return this.ids.mint();
  }

  /** Hands the decision (id from `mint`) to the feedback loop, which has `job` answer. */
  decide(
    id: string,
    pick: ArmChoice,
    rows: number,
    features: unknown,
    job: DecidedJob & { readonly started: number },
    score = NaN,
    doneAt?: number,
  ): void {
    this.monitor?.decided(pick, (doneAt ?? performance.now()) - job.started);
    const sink = this.decisions;
    if (sink) sink.decided(id, this.ids.mintedAtMs, pick, rows, features, job, score);
    else job.answer();
  }

  /** A job of `pick` failed (after its arm was chosen): the arm's health counts it. */
  failed(pick: ArmChoice, error: unknown): void {
    this.monitor?.failed(pick, error);
  }

  /** `POST /v1/predict/{route}`. */
  predict(route: Route, body: unknown, deadline: number, responder: Responder): void {
    try {
      const request = parsePredictBody(body);
      // A contextual route chooses on the request's context (a 400 names a missing feature).
      const context = route.contextReader && this.router.contextOf(route, request.features);
      const pick = this.router.pick(route, request.unit, context);
      const { rows, inputs } = featuresToRows(request.features, pick.version, this.maxRows);
      // The parsed features are kept (until the decision) only for a route that logs them: a queued
      // job holding a 64-row body's arrays would carry them through every garbage collection. (A
      // contextual route's decision keeps its context through the pick.)
      const logged = route.spec.logFeatures ? request.features : undefined;
      const job = new PredictJob(this, responder, pick, rows, inputs, deadline, logged);
      this.engine.submit(pick.version, job);
      if (route.shadows.length > 0 && this.shadows !== undefined)
        job.copies = this.shadows.draw(route, pick.version, request.features, rows, inputs, this.maxRows);
    } catch (e) {
      responder.failed(e);
    }
  }

  /** `POST /v2/models/{name}[/versions/{v}]/infer` on a model version. */
  infer(version: ModelVersion, body: unknown, deadline: number, responder: Responder, binary?: Buffer): void {
    try {
      const request = parseInferRequest(body, version, this.maxRows, binary);
      this.engine.submit(version, new InferJob(this, responder, version, request, deadline));
    } catch (e) {
      responder.failed(e);
    }
  }

  /** `POST /v2/models/{route}/infer`: the route's policy picks the arm; the decision id is a parameter. */
  inferRoute(route: Route, body: unknown, deadline: number, responder: Responder, binary?: Buffer): void {
    try {
      // A contextual route reads its context from the request's first row, named by the first
      // arm's model (parsed once more only if the arm drawn serves another version).
      let first: ModelVersion | undefined;
      let parsed: InferRequest | undefined;
      let context: Float64Array | undefined;
      const reader = route.contextReader;
      if (reader) {
        const arm = route.arms[0]!;
        first = this.registry.resolve(arm.model, arm.version);
        if (!first) throw new CroupierError('not_ready', `model ${arm.model}@${arm.version} is not served`);
        parsed = parseInferRequest(body, first, this.maxRows, binary);
        context = reader.read(firstRow(parsed), first);
      }
      const pick = this.router.pick(route, undefined, context);
      const request =
        parsed && pick.version === first ? parsed : parseInferRequest(body, pick.version, this.maxRows, binary);
      this.engine.submit(pick.version, new InferJob(this, responder, pick.version, request, deadline, pick));
    } catch (e) {
      responder.failed(e);
    }
  }

  /**
   * The refusal (503 queue_full, counted as shed) of new work for `route` while every arm's version
   * is saturated, so that its body is not even read; undefined when some arm could take it.
   */
  routeRefusal(route: Route): CroupierError | undefined {
    if (!this.engine.saturation.any) return undefined;
    let first: ModelVersion | undefined;
    for (const arm of route.arms) {
      const v = this.registry.resolve(arm.model, arm.version);
      if (!v || !this.engine.isSaturated(v)) return undefined;
      first ??= v;
    }
    return first && this.engine.refusal(first);
  }

  /** A model version by name; `version` undefined means the live one. */
  version(model: string, version: string | undefined): ModelVersion {
    const m = this.registry.model(model);
    if (!m) throw new CroupierError('model_not_found', `no model named "${model}"`);
    if (version === undefined) return m.live;
    const v = m.versions.get(version);
    if (!v) throw new CroupierError('version_not_found', `model "${model}" has no version "${version}"`);
    return v;
  }
}

/** The first row of a parsed infer request, its inputs' values one after another (manifest order). */
function firstRow(request: InferRequest): unknown[] {
  const row: unknown[] = [];
  for (const values of request.inputs) {
    const size = request.rows > 0 ? values.length / request.rows : 0;
    for (let i = 0; i < size; i++) row.push(typeof values[i] === 'bigint' ? Number(values[i]) : values[i]);
  }
  return row;
}
