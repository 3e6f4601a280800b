/**
 * The request features kept with decisions, for routes with `logFeatures`, bounded in bytes: the
 * decision ring bounds how many decisions are held, not how large their features are (100 requests
 * of 1 MB once took 150 MB of memory and 88 MB of journal). Features are held as their JSON text, which
 * is what the journal and the snapshot write and what the bounds count (UTF-8 bytes). A decision
 * whose features are over `maxBytes`, or would take the total over `budgetBytes`, keeps none: its
 * prediction is answered as usual, and the drop is counted.
 */

export interface FeatureLimits {
  /** The most bytes of features one decision keeps (CROUPIER_FEATURES_MAX). */
  readonly maxBytes: number;
  /** The most bytes of features all decisions held keep together (CROUPIER_FEATURES_BUDGET). */
  readonly budgetBytes: number;
}

/**
 * The JSON text of `features` when it is at most `maxBytes` UTF-8 bytes, else undefined. Measured
 * in bytes only when the text's length cannot tell (a UTF-16 unit is 1 to 3 bytes). Both modes cap
 * a decision's features with it.
 */
export function featuresWithin(features: unknown, maxBytes: number): string | undefined {
  const json = JSON.stringify(features);
  if (json === undefined || json.length > maxBytes) return undefined;
  if (json.length * 3 <= maxBytes || Buffer.byteLength(json) <= maxBytes) return json;
  return undefined;
}

export const DEFAULT_FEATURE_LIMITS: FeatureLimits = { maxBytes: 64 * 1024, budgetBytes: 256 * 1024 * 1024 };

export class LoggedFeatures {
  /** Bytes held now. */
  bytes = 0;
  /** Decisions that kept no features because theirs were over `maxBytes`. */
  droppedTooLarge = 0;
  /** Decisions that kept no features because the budget was full. */
  droppedOverBudget = 0;
  private readonly limits: FeatureLimits;
  /** JSON text by decision slot. */
  private readonly bySlot = new Map<number, string>();

  constructor(limits: FeatureLimits = DEFAULT_FEATURE_LIMITS) {
    this.limits = limits;
  }

  /** Keeps `features` for the decision in `slot`, if they fit (the slot holds none now). */
  keep(slot: number, features: unknown): void {
    const json = featuresWithin(features, this.limits.maxBytes);
    if (json === undefined) {
      this.droppedTooLarge++;
      return;
    }
    const size = Buffer.byteLength(json);
    if (this.bytes + size > this.limits.budgetBytes) {
      this.droppedOverBudget++;
      return;
    }
    this.bySlot.set(slot, json);
    this.bytes += size;
  }

  /** The JSON text of the features kept for `slot`. */
  get(slot: number): string | undefined {
    return this.bySlot.get(slot);
  }

  /** Forgets the features of `slot` (its decision left the store). */
  drop(slot: number): void {
    const json = this.bySlot.get(slot);
    if (json === undefined) return;
    this.bySlot.delete(slot);
    this.bytes -= Buffer.byteLength(json);
  }
}
