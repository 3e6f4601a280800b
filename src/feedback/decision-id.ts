/**
 * Decision ids: unguessable, and self-describing enough to refuse forged or expired ids without a
 * lookup. 24 bytes, base64url: 6 bytes creation time (ms), a 5-byte sequence number, 5 random bytes,
 * and an 8-byte tag = AES-256 of those 16 bytes under a per-installation secret (a PRF on a
 * fixed-length block is a MAC). The sequence number names the decision's slot in the store, so a
 * lookup needs no hash map; the random bytes keep ids of replicas that share a secret apart. Ids
 * are minted in blocks — one cipher call for many ids — because minting is on the
 * request path; a block is used for at most 50 ms, so an id's time is its decision's time.
 */
import { createCipheriv, type Cipher, randomBytes, randomFillSync } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const ID_BYTES = 24;
const SEQ_AT = 6;
const SEQ_BYTES = 5;
const SEQ_LIMIT = 2 ** (8 * SEQ_BYTES);
const BLOCK = 256;
const BLOCK_MAX_AGE_MS = 50;
export const DECISION_ID_LENGTH = 32;

export class DecisionIds {
  private readonly secret: Buffer;
  private readonly plain = Buffer.alloc(BLOCK * 16);
  private readonly ids = Buffer.alloc(BLOCK * ID_BYTES);
  private next = BLOCK;
  private blockMs = 0;
  /** The sequence number of the next id handed out. */
  private seq = 0;

  constructor(secret: Buffer) {
    if (secret.length < 32) throw new Error('decision secret must be at least 32 bytes');
    this.secret = secret.subarray(0, 32);
    this.cipher = createCipheriv('aes-256-ecb', this.secret, null).setAutoPadding(false);
  }

  /** Reads the secret from `file`, creating it (mode 0600) on first start. */
  static fromFile(file: string): DecisionIds {
    let secret: Buffer;
    try {
      secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    } catch {
      secret = randomBytes(32);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, secret.toString('hex') + '\n', { mode: 0o600 });
      chmodSync(file, 0o600);
    }
    return new DecisionIds(secret);
  }

  /**
   * One cipher for the life of the minter: ECB carries no state from block to block, so `update`
   * on whole blocks encrypts each independently (and `final` is never needed).
   */
  private readonly cipher: Cipher;

  private encrypt(blocks: Buffer): Buffer {
    return this.cipher.update(blocks);
  }

  private refill(nowMs: number): void {
    randomFillSync(this.plain);
    for (let i = 0; i < BLOCK; i++) {
      this.plain.writeUIntBE(nowMs, i * 16, 6);
      // Numbered from the next unused one: ids of an abandoned block were never handed out.
      this.plain.writeUIntBE((this.seq + i) % SEQ_LIMIT, i * 16 + SEQ_AT, SEQ_BYTES);
    }
    const tags = this.encrypt(this.plain);
    // Byte loops, not Buffer#copy: 2 x 256 calls into C++ for 24 bytes each cost more than the copying.
    const { plain, ids } = this;
    for (let i = 0; i < BLOCK; i++) {
      const from = i * 16;
      const to = i * ID_BYTES;
      for (let j = 0; j < 16; j++) ids[to + j] = plain[from + j]!;
      for (let j = 0; j < 8; j++) ids[to + 16 + j] = tags[from + j]!;
    }
    this.next = 0;
    this.blockMs = nowMs;
  }

  /** New ids continue after sequence number `seq` (the highest a restored store holds). */
  continueAfter(seq: number): void {
    this.seq = (seq + 1) % SEQ_LIMIT;
    this.next = BLOCK;
  }

  /** The creation time of the id `mint` returned last. */
  get mintedAtMs(): number {
    return this.blockMs;
  }

  /** A fresh id; `nowMs` forces a new block at that time (tests mint old ids this way). */
  mint(nowMs?: number): string {
    const now = nowMs ?? Date.now();
    if (this.next === BLOCK || nowMs !== undefined || now - this.blockMs > BLOCK_MAX_AGE_MS || now < this.blockMs)
      this.refill(now);
    const at = this.next++ * ID_BYTES;
    this.lastSeq = this.seq;
    this.seq = (this.seq + 1) % SEQ_LIMIT;
    this.lastAt = at;
    return (this.lastId = this.ids.toString('base64url', at, at + ID_BYTES));
  }

  /**
   * The id `mint` returned last, its sequence number, and where its bytes are in `idBytes`: the
   * decision store copies them from here rather than decoding the id again.
   */
  lastId = '';
  lastSeq = -1;
  lastAt = 0;
  get idBytes(): Buffer {
    return this.ids;
  }

  /** The creation time (ms) of a genuine id; undefined for anything malformed or forged. */
  verify(id: unknown): number | undefined {
    return this.verifyAll([id]).createdMs[0];
  }

  /**
   * `verify` for many ids with one cipher call: a call costs ~1.3 µs, each block in it ~20 ns, and
   * the feedback path verifies the outcomes of a whole turn at once. Also gives the ids' bytes (id
   * `i` at `i * ID_BYTES`), so that the decision store finds them without decoding them again. Per
   * id, byte loops instead of Buffer calls: each call into C++ costs more than its 24 bytes.
   */
  verifyAll(ids: readonly unknown[]): { createdMs: (number | undefined)[]; bytes: Buffer } {
    const bytes = Buffer.alloc(ids.length * ID_BYTES);
    const plain = Buffer.alloc(ids.length * 16);
    const wellFormed = ids.map(
      (id, i) =>
        typeof id === 'string'
        && id.length === DECISION_ID_LENGTH
        && /^[A-Za-z0-9_-]+$/.test(id)
        && bytes.write(id, i * ID_BYTES, 'base64url') === ID_BYTES,
    );
    for (let i = 0; i < ids.length; i++) for (let j = 0; j < 16; j++) plain[i * 16 + j] = bytes[i * ID_BYTES + j]!;
    const tags = this.encrypt(plain);
    const createdMs = wellFormed.map((ok, i) => {
      const at = i * ID_BYTES;
      // Constant time in the tag's contents: every byte is compared, whatever the first mismatch.
      let diff = 0;
      for (let j = 0; j < 8; j++) diff |= tags[i * 16 + j]! ^ bytes[at + 16 + j]!;
      return ok && diff === 0 ? bytes.readUIntBE(at, 6) : undefined;
    });
    return { createdMs, bytes };
  }
}

/** The sequence number of the id whose bytes are at `at` (not verified). */
export function sequenceOf(bytes: Buffer, at = 0): number {
  let seq = 0;
  for (let j = at + SEQ_AT; j < at + SEQ_AT + SEQ_BYTES; j++) seq = seq * 256 + bytes[j]!;
  return seq;
}
