/** A growable byte buffer that lines are written into; reused from one write to the next. */
export class Bytes {
  buf: Buffer;
  length = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Makes room for `n` more bytes; returns the buffer to write them into, at `length`. */
  reserve(n: number): Buffer {
    if (this.length + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    return this.buf;
  }

  writeString(s: string): void {
    this.length += this.reserve(Buffer.byteLength(s)).write(s, this.length);
  }

  write(bytes: Buffer): void {
    this.reserve(bytes.length).set(bytes, this.length);
    this.length += bytes.length;
  }

  /** What has been written (a view: valid until the next write or clear). */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}
