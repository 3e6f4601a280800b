/**
 * Features kept with decisions in Redis mode (routes with `logFeatures`), bounded per decision like
 * embedded mode's (CROUPIER_FEATURES_MAX, issue 12-10): a decision whose features' JSON text is over
 * the cap keeps none — its prediction is answered as usual, and the drop is counted
 * (croupier_features_dropped_total{reason="too_large"}). In total, features in Redis are bounded by
 * the decisions' TTL (the route's feedback window); decisions held here during an outage, by
 * CROUPIER_DECISIONS_MAX times the cap.
 */
import { Decision, decisionLine } from '../../feedback/decision.js';

/** A decision with features: its line carries their JSON text, made once when they were measured. */
export class LoggedDecision extends Decision {
  private readonly featuresJson: string;

  constructor(
    id: string,
    createdMs: number,
    route: string,
    arm: string,
    model: string,
    version: string,
    versionKey: string,
    sha256: string,
    propensity: number,
    rows: number,
    featuresJson: string,
    score: number,
  ) {
    super(id, createdMs, route, arm, model, version, versionKey, sha256, propensity, rows, undefined, undefined, score);
    this.featuresJson = featuresJson;
  }

  override line(): string {
    const line = decisionLine(
      this.id,
      this.createdMs,
      this,
      this.propensity,
      this.rows,
      undefined,
      undefined,
      this.score,
    );
    return `${line.slice(0, -1)},"f":${this.featuresJson}}`;
  }
}
