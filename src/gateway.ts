/**
 * The scoring path without HTTP: validate -> route (pick arm, resolve version) -> batch/infer -> answer.
 * http/ calls this; it never sees a socket.
 */
import { CroupierError } from './errors.js';
import type { DecisionIds } from './feedback/decision-id.js';
import type { InferenceEngine } from './inference/engine.js';
import { featuresToRows, outputsJson, parsePredictBody } from './protocol/predict.js';
import { inferAnswer, parseInferRequest } from './protocol/v2.js';
import type { Registry } from './registry/registry.js';
import type { ModelVersion } from './registry/repository.js';
import type { Pick, Route, Router } from './routing/router.js';

/** What a scoring call answered with, and the labels its metrics take. */
export interface Scored {
  readonly json: string;
  readonly pick: Pick | undefined;
  readonly version: ModelVersion;
}

/** Receives every decision made (the feedback loop joins outcomes to these). */
export interface DecisionSink {
  decided(id: string, createdMs: number, pick: Pick, rows: number, features: unknown): void;
}

export class Gateway {
  readonly registry: Registry;
  readonly router: Router;
  readonly engine: InferenceEngine;
  private readonly ids: DecisionIds;
  private readonly maxRows: number;
  decisions: DecisionSink | undefined;

  constructor(registry: Registry, router: Router, engine: InferenceEngine, ids: DecisionIds, maxRows: number) {
    this.registry = registry;
    this.router = router;
    this.engine = engine;
    this.ids = ids;
    this.maxRows = maxRows;
  }

  private decide(pick: Pick, rows: number, features: unknown): string {
    const now = Date.now();
    const id = this.ids.mint(now);
    this.decisions?.decided(id, now, pick, rows, features);
    return id;
  }

  /** `POST /v1/predict/{route}`. */
  async predict(route: Route, body: unknown, deadline: number): Promise<Scored> {
    const request = parsePredictBody(body);
    const pick = this.router.pick(route, request.unit);
    const { rows, data } = featuresToRows(request.features, pick.version, this.maxRows);
    const slice = await this.engine.infer(pick.version, rows, [data], deadline);
    const decision = this.decide(pick, rows, request.features);
    const v = pick.version;
    const json = `{"decision":"${decision}","route":"${route.name}","arm":"${pick.arm.name}","model":"${v.model}","version":"${v.version}","propensity":${pick.propensity},"outputs":${outputsJson(v, slice)}}`;
    return { json, pick, version: v };
  }

  /** `POST /v2/models/{name}[/versions/{v}]/infer` on a model version. */
  async infer(version: ModelVersion, body: unknown, deadline: number): Promise<Scored> {
    const request = parseInferRequest(body, version, this.maxRows);
    const slice = await this.engine.infer(version, request.rows, request.inputs, deadline);
    return { json: JSON.stringify(inferAnswer(version, request, slice)), pick: undefined, version };
  }

  /** `POST /v2/models/{route}/infer`: the route's policy picks the arm; the decision id is a parameter. */
  async inferRoute(route: Route, body: unknown, deadline: number): Promise<Scored> {
    const pick = this.router.pick(route, undefined);
    const request = parseInferRequest(body, pick.version, this.maxRows);
    const slice = await this.engine.infer(pick.version, request.rows, request.inputs, deadline);
    const decision = this.decide(pick, request.rows, undefined);
    const answer = inferAnswer(pick.version, request, slice, { decision, route: route.name, arm: pick.arm.name, propensity: pick.propensity });
    return { json: JSON.stringify(answer), pick, version: pick.version };
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
