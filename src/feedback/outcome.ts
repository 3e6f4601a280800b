/** Journal records of the feedback loop other than decisions: outcomes and route resets. */

export type OutcomeResult = 'accepted' | 'duplicate' | 'unknown' | 'expired' | 'invalid';
export type Label = number | string | boolean;

export interface OutcomeLine {
  o: string;
  w: number;
  t: number;
  l?: Label;
}

/** An accepted outcome. Acknowledged before it is written, so it survives a journal rotation. */
export class Outcome {
  readonly decision: string;
  readonly reward: number;
  readonly label: Label | undefined;
  readonly atMs: number;

  constructor(decision: string, reward: number, label: Label | undefined, atMs: number) {
    this.decision = decision;
    this.reward = reward;
    this.label = label;
    this.atMs = atMs;
  }

  get keepOnRotate(): boolean {
    return true;
  }

  /** By hand, not through an object and JSON.stringify: ids are base64url and numbers finite, so only a label needs escaping. */
  line(): string {
    const label = this.label === undefined ? '' : `,"l":${JSON.stringify(this.label)}`;
    return `{"o":"${this.decision}","w":${this.reward},"t":${this.atMs}${label}}`;
  }

  static isLine(x: unknown): x is OutcomeLine {
    const l = x as OutcomeLine;
    return (
      typeof l === 'object'
      && l !== null
      && typeof l.o === 'string'
      && typeof l.w === 'number'
      && typeof l.t === 'number'
    );
  }
}

/** A route's statistics were forgotten (admin reset). */
export class RouteReset {
  readonly route: string;
  readonly atMs: number;

  constructor(route: string, atMs: number) {
    this.route = route;
    this.atMs = atMs;
  }

  get keepOnRotate(): boolean {
    return false;
  }

  line(): string {
    return JSON.stringify({ reset: this.route, t: this.atMs });
  }
}
