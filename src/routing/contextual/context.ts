/**
 * A request's context vector: the values of the route's `context` features, read from its named
 * features, or for arrays by the model's feature names (the manifest's `featureNames`); a request of
 * several rows is read from its first row (the row whose score the decision keeps). A feature that
 * is missing or not a finite number refuses the request with a 400 naming it.
 */
import { CroupierError } from '../../errors.js';
import { manifestNames } from '../../feedback/training-join.js';
import type { ModelVersion } from '../../registry/repository.js';

export class ContextReader {
  readonly names: readonly string[];
  /** Where each context feature sits in a version's rows, per version (arrays only). */
  private readonly positions = new WeakMap<ModelVersion, Int32Array>();

  constructor(names: readonly string[]) {
    this.names = names;
  }

  /**
   * The context of `features` (a request's, or a decision's as kept), written into `out` (a fresh
   * array when absent). `version` names the features of arrays. Throws a CroupierError
   * (`invalid_request`) naming the first feature that is missing or not a finite number.
   */
  read(features: unknown, version: ModelVersion | undefined, out = new Float64Array(this.names.length)): Float64Array {
    let row = features;
    if (Array.isArray(row) && row.length > 0 && typeof row[0] === 'object' && row[0] !== null) row = row[0];
    if (Array.isArray(row)) return this.fromArray(row, version, out);
    if (typeof row !== 'object' || row === null)
      throw new CroupierError(
        'invalid_request',
        `this route chooses on context features (${this.list()}): send features by name or as an array`,
      );
    const named = row as Record<string, unknown>;
    for (let i = 0; i < this.names.length; i++) out[i] = this.value(named[this.names[i]!], i);
    return out;
  }

  private fromArray(row: readonly unknown[], version: ModelVersion | undefined, out: Float64Array): Float64Array {
    const at = version ? this.positionsIn(version) : undefined;
    for (let i = 0; i < this.names.length; i++) {
      const p = at?.[i] ?? -1;
      if (p < 0 || p >= row.length)
        throw new CroupierError(
          'invalid_request',
          `context feature "${this.names[i]}" is missing: an array of features is read by the model's feature names, and ${version ? `model ${version.key} has none of that name` : 'no model names them'}`,
        );
      out[i] = this.value(row[p], i);
    }
    return out;
  }

  private positionsIn(version: ModelVersion): Int32Array {
    let at = this.positions.get(version);
    if (!at) {
      const names = manifestNames(version);
      at = Int32Array.from(this.names, (n) => names.indexOf(n));
      this.positions.set(version, at);
    }
    return at;
  }

  private value(v: unknown, i: number): number {
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    const name = this.names[i]!;
    throw new CroupierError(
      'invalid_request',
      v === undefined
        ? `context feature "${name}" is missing (this route chooses on ${this.list()})`
        : `context feature "${name}" must be a finite number, got ${typeof v === 'number' ? String(v) : typeof v}`,
    );
  }

  private list(): string {
    return this.names.length <= 8 ? this.names.join(', ') : `${this.names.slice(0, 8).join(', ')}, …`;
  }
}
