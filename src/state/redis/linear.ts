/**
 * Contextual routes in Redis mode: each arm's ridge-regression sums (`LinearStats`) shared exactly
 * by every replica. They live in the route's stats hash, field `<arm>:linear`, as little-endian
 * doubles `[n, xx's upper triangle row by row (dim·(dim+1)/2), xr (dim)]` — sums added by the credit
 * script in Redis, in the order Redis runs the credits, so every replica reads the same numbers and
 * fits the same θ. (Doubles, not text: 8 bytes a number, exact by construction. The triangle, not
 * the whole of Σ x xᵀ: it is symmetric bit for bit, and the script's cost is its packing, unpacking
 * and adding, half as much.) In the stats hash itself rather than a key of its own: every script
 * that restarts an arm's version (DECIDE, PULL, CREDIT) or resets the route clears it in the same
 * atomic step, and the 200 ms re-read gets it in the one HGETALL it already sends (as bytes, for
 * contextual routes only).
 */
import { LinearStats } from '../../routing/contextual/linear-stats.js';

/** The stats-hash field holding arm `arm`'s packed linear sums. */
export function linearField(arm: string): string {
  return `${arm}:linear`;
}

/** The field name's suffix (RESET and the re-read find linear fields by it). */
export const LINEAR_SUFFIX = ':linear';

/**
 * The part of the CREDIT script that adds one outcome to the arm's linear sums, run only when the
 * outcome was credited (same version). ARGV[14]: the decision's context, `features` packed
 * little-endian doubles (no intercept). A field of another length (the route's context changed) or
 * holding a non-finite number starts again from zero rather than adding to it. The adds mirror
 * `LinearStats.credit` term by term (1·xⱼ = xⱼ and xᵢxⱼ = xⱼxᵢ are exact), so the sums are bit-equal
 * to a LinearStats credited with the same outcomes in the same order.
 */
export const LINEAR_CREDIT = `
local xs = ARGV[14]
if credited == 1 and xs and xs ~= '' and #xs % 8 == 0 and #xs <= 512 then
  local d = #xs / 8 + 1
  local len = 1 + d * (d + 1) / 2 + d
  local x = {1}
  local p = 1
  for i = 2, d do x[i], p = struct.unpack('<d', xs, p) end
  local field = arm .. '${LINEAR_SUFFIX}'
  local s = redis.call('HGET', KEYS[1], field)
  local t = nil
  if s and #s == len * 8 then
    t = {struct.unpack('<' .. string.rep('d', len), s)}
    for i = 1, len do
      local v = t[i]
      if v ~= v or v == math.huge or v == -math.huge then t = nil break end
    end
  end
  if not t then
    t = {}
    for i = 1, len do t[i] = 0 end
  end
  t[1] = t[1] + 1
  local at = 1
  for i = 1, d do
    local xi = x[i]
    for j = i, d do
      at = at + 1
      t[at] = t[at] + xi * x[j]
    end
  end
  for i = 1, d do t[at + i] = t[at + i] + reward * x[i] end
  redis.call('HSET', KEYS[1], field, struct.pack('<' .. string.rep('d', len), unpack(t, 1, len)))
end
`;

/**
 * The credit script's two context arguments: the vector packed for the sums (ARGV[14]) and as JSON
 * text for the outcome stream's `context` field (ARGV[15], what the OPE reader parses: JavaScript's
 * shortest round-trip form, so it reads back as the same doubles).
 */
export function contextArgs(x: Float64Array): [Buffer, string] {
  const packed = Buffer.alloc(x.length * 8);
  for (let i = 0; i < x.length; i++) packed.writeDoubleLE(x[i]!, i * 8);
  return [packed, JSON.stringify(Array.from(x))];
}

/** A stats hash read as bytes (contextual routes): the text fields, and the linear fields by arm. */
export interface SplitFields {
  readonly fields: Record<string, string>;
  readonly linear: Map<string, Buffer>;
}

export function splitFields(raw: Record<string, Buffer>): SplitFields {
  const fields: Record<string, string> = {};
  const linear = new Map<string, Buffer>();
  for (const [name, value] of Object.entries(raw)) {
    if (name.endsWith(LINEAR_SUFFIX)) linear.set(name.slice(0, -LINEAR_SUFFIX.length), value);
    else fields[name] = value.toString('utf8');
  }
  return { fields, linear };
}

/** Doubles in the stored form for `features` context features: n, the triangle, xr. */
export function storedLength(features: number): number {
  const d = features + 1;
  return 1 + (d * (d + 1)) / 2 + d;
}

/** The stored form's doubles as `LinearStats.pack()` lays them out ([n, xx (dim²), xr]); undefined if it is not one. */
export function unpackStored(bytes: Buffer, features: number): Float64Array | undefined {
  if (bytes.length !== storedLength(features) * 8) return undefined;
  const d = features + 1;
  const out = new Float64Array(LinearStats.packedLength(features));
  out[0] = bytes.readDoubleLE(0);
  let at = 8;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++, at += 8) {
      const v = bytes.readDoubleLE(at);
      out[1 + i * d + j] = v;
      out[1 + j * d + i] = v;
    }
  }
  for (let i = 0; i < d; i++, at += 8) out[1 + d * d + i] = bytes.readDoubleLE(at);
  return out;
}

/**
 * Copies an arm's shared linear sums over the local ones. `changed`: they differ from what the
 * policy last saw (so its weights are recomputed). No field (no credit yet, a reset, a new version)
 * is empty sums; so is one of the wrong length or holding a non-finite number (`corrupt`), which
 * the next credit restarts in Redis.
 */
export function applyLinear(linear: LinearStats, bytes: Buffer | undefined): { changed: boolean; corrupt: boolean } {
  const packed = bytes && unpackStored(bytes, linear.features);
  const corrupt = bytes !== undefined && (packed === undefined || !packed.every(Number.isFinite) || packed[0]! < 0);
  if (packed === undefined || corrupt) {
    const empty = linear.n === 0 && linear.xx.every((v) => v === 0) && linear.xr.every((v) => v === 0);
    if (!empty) linear.restart();
    return { changed: !empty, corrupt };
  }
  let same = Object.is(linear.n, packed[0]);
  const xr = 1 + linear.xx.length;
  for (let i = 0; same && i < linear.xx.length; i++) same = Object.is(linear.xx[i], packed[1 + i]);
  for (let i = 0; same && i < linear.xr.length; i++) same = Object.is(linear.xr[i], packed[xr + i]);
  if (same) return { changed: false, corrupt: false };
  linear.unpack(packed);
  return { changed: true, corrupt: false };
}
