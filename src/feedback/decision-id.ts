/**
 * Decision ids: unguessable, and self-describing enough to refuse forged or expired ids without a
 * lookup. 24 bytes, base64url: 6 bytes creation time (ms), 10 random bytes, 8 bytes HMAC-SHA256
 * over the first 16 under a per-installation secret.
 */
import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const RANDOM_POOL = 4096;
const ID_BYTES = 24;
export const DECISION_ID_LENGTH = 32;

export class DecisionIds {
  private readonly secret: Buffer;
  private pool = Buffer.alloc(RANDOM_POOL);
  private poolAt = RANDOM_POOL;

  constructor(secret: Buffer) {
    if (secret.length < 32) throw new Error('decision secret must be at least 32 bytes');
    this.secret = secret;
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

  private mac(bytes: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(bytes.subarray(0, 16)).digest().subarray(0, 8);
  }

  mint(nowMs: number = Date.now()): string {
    const bytes = Buffer.allocUnsafe(ID_BYTES);
    bytes.writeUIntBE(nowMs, 0, 6);
    if (this.poolAt + 10 > RANDOM_POOL) {
      randomFillSync(this.pool);
      this.poolAt = 0;
    }
    this.pool.copy(bytes, 6, this.poolAt, this.poolAt + 10);
    this.poolAt += 10;
    this.mac(bytes).copy(bytes, 16);
    return bytes.toString('base64url');
  }

  /** The creation time (ms) of a genuine id; undefined for anything malformed or forged. */
  verify(id: unknown): number | undefined {
    if (typeof id !== 'string' || id.length !== DECISION_ID_LENGTH || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
    const bytes = Buffer.from(id, 'base64url');
    if (bytes.length !== ID_BYTES) return undefined;
    if (!timingSafeEqual(this.mac(bytes), bytes.subarray(16))) return undefined;
    return bytes.readUIntBE(0, 6);
  }
}
