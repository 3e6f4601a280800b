// @ts-check
/**
 * The audit chain checked in the browser, as `croupier audit verify` checks it (src/state/
 * audit-chain.ts): each entry's `hash` is sha256(prev + canonical JSON of the entry without `hash`),
 * and each entry's `prev` is the hash of the one before (the first one's: 64 zeros).
 */
import { sha256Hex } from './sha256.js';

export const GENESIS = '0'.repeat(64);

/**
 * JSON with keys sorted at every level (undefined keys left out), as the server hashes it.
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = /** @type {Record<string, unknown>} */ (value);
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * @typedef {{ seq: number, prev: string, hash: string, [key: string]: unknown }} Entry
 * @typedef {{ ok: boolean, checked: number, from: number | null, to: number | null, fromGenesis: boolean,
 *   problem?: { seq: number, reason: string } }} Verdict
 */

/** @param {Entry} entry */
export function entryHash(entry) {
  const { hash: _hash, ...rest } = entry;
  return sha256Hex(entry.prev + canonicalJson(rest));
}

/**
 * Checks consecutive entries, oldest first: each hash against its content, each link against the
 * entry before; the first entry's link only when it is the chain's first (seq 1).
 * @param {Entry[]} entries
 * @returns {Verdict}
 */
export function verifyEntries(entries) {
  const first = entries[0];
  /** @type {Omit<Verdict, 'ok' | 'problem'>} */
  const verdict = {
    checked: 0,
    from: first ? first.seq : null,
    to: null,
    fromGenesis: first !== undefined && first.seq === 1,
  };
  /** @type {Entry | undefined} */
  let before;
  for (const entry of entries) {
    /** @param {string} reason */
    const fail = (reason) => ({ ...verdict, ok: false, problem: { seq: entry.seq, reason } });
    if (before === undefined) {
      if (entry.seq === 1 && entry.prev !== GENESIS)
        return fail('the first entry does not start from the genesis hash');
    } else {
      if (entry.seq !== before.seq + 1)
        return fail(`sequence jumps from ${before.seq} to ${entry.seq} (an entry was deleted or moved)`);
      if (entry.prev !== before.hash) return fail('prev does not match the hash of the entry before');
    }
    if (entryHash(entry) !== entry.hash) return fail('hash does not match the content (the entry was edited)');
    verdict.checked++;
    verdict.to = entry.seq;
    before = entry;
  }
  return { ...verdict, ok: true };
}
