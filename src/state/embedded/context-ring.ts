/**
 * The contexts of the decisions of contextual routes (embedded mode), by decision slot: doubles in
 * one typed array, `width` per slot, the width growing to the longest context seen. A context kept
 * as an object or as JSON text per decision cost about 3 µs a request (a Map entry, a string, and
 * the garbage collector marking a million of them); here it is a copy of a few doubles. The array
 * takes capacity × width × 8 bytes (64 MB for a million decisions of 8 features), at most
 * `budgetBytes`: a context that would need more is not kept (its outcome then credits no
 * regression), and counted.
 */

export class ContextRing {
  /** Contexts not kept: the ring would have outgrown its budget. */
  dropped = 0;
  private values: Float64Array | undefined;
  private lengths: Uint8Array | undefined;
  private width = 0;

  constructor(
    private readonly capacity: number,
    private readonly budgetBytes: number,
  ) {}

  /** Bytes the ring holds (0 until a contextual decision is kept). */
  get bytes(): number {
    return (this.values?.byteLength ?? 0) + (this.lengths?.byteLength ?? 0);
  }

  /** Keeps `x` (at most 255 values) for the decision in `slot`. */
  put(slot: number, x: ArrayLike<number>): void {
    if (x.length > this.width && !this.widen(x.length)) {
      this.dropped++;
      if (this.lengths) this.lengths[slot] = 0;
      return;
    }
    const values = this.values!;
    const at = slot * this.width;
    for (let i = 0; i < x.length; i++) values[at + i] = x[i]!;
    this.lengths![slot] = x.length;
  }

  /** Forgets the context of `slot`. */
  clear(slot: number): void {
    if (this.lengths) this.lengths[slot] = 0;
  }

  /** The context of `slot` (a copy), if one is kept. */
  get(slot: number): Float64Array | undefined {
    const n = this.lengths?.[slot] ?? 0;
    if (n === 0) return undefined;
    const at = slot * this.width;
    return this.values!.slice(at, at + n);
  }

  /** The context of `slot` as a JSON array (the journal's and snapshot's `x`), if one is kept. */
  json(slot: number): string | undefined {
    const n = this.lengths?.[slot] ?? 0;
    if (n === 0) return undefined;
    const values = this.values!;
    const at = slot * this.width;
    let s = `[${values[at]}`;
    for (let i = 1; i < n; i++) s += `,${values[at + i]}`;
    return `${s}]`;
  }

  private widen(width: number): boolean {
    if (width > 255 || this.capacity * width * 8 > this.budgetBytes) return false;
    const values = new Float64Array(this.capacity * width);
    const old = this.values;
    if (old)
      for (let slot = 0; slot < this.capacity; slot++) {
        const n = this.lengths![slot]!;
        for (let i = 0; i < n; i++) values[slot * width + i] = old[slot * this.width + i]!;
      }
    this.values = values;
    this.lengths ??= new Uint8Array(this.capacity);
    this.width = width;
    return true;
  }
}
