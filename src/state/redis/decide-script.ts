/**
 * The DECIDE script, which writes a turn's decisions (decisions.ts), and its arguments for one
 * write: built once per turn on the predict path, without a map or a string key per decision.
 */
import type { Decision } from '../../feedback/decision.js';
import { decisionKey, statsKey } from './keys.js';

/**
 * Writes a turn's decisions and counts the pulls of those that were new, so that a write sent
 * twice (a timed-out pipeline that ran after all, retried by catch-up) counts each pull once.
 *   KEYS: the n decision keys, then the stats keys of their routes
 *   ARGV: n; the n lines; the n TTLs (ms); the n pull groups (1-based); then per group its stats
 *         key (1-based among the stats keys), arm and version key
 * The version check mirrors PULL (stats.ts), the arm's linear sums (linear.ts) cleared with the rest.
 * Returns how many decisions were new.
 */
export const DECIDE = `
local n = tonumber(ARGV[1])
local counts = {}
local new = 0
for i = 1, n do
  if redis.call('SET', KEYS[i], ARGV[1 + i], 'PX', ARGV[1 + n + i], 'NX') then
    local g = tonumber(ARGV[1 + 2 * n + i])
    counts[g] = (counts[g] or 0) + 1
    new = new + 1
  end
end
local base = 1 + 3 * n
for g, c in pairs(counts) do
  local at = base + (g - 1) * 3
  local key = KEYS[n + tonumber(ARGV[at + 1])]
  local arm = ARGV[at + 2]
  local v = redis.call('HGET', key, arm .. ':version')
  if v ~= ARGV[at + 3] then
    redis.call('HSET', key, arm .. ':version', ARGV[at + 3], arm .. ':pulls', 0, arm .. ':rewards', 0,
      arm .. ':n', 0, arm .. ':sum', 0, arm .. ':sumSq', 0, arm .. ':atMs', 0)
    redis.call('HDEL', key, arm .. ':linear')
  end
  redis.call('HINCRBY', key, arm .. ':pulls', c)
end
return new
`;

/**
 * The DECIDE script's arguments: numkeys, the decision keys then the stats keys; the decisions'
 * lines, TTLs and pull groups; per group its stats key's index, arm and version key. The decisions
 * of one turn share one group or a few (one inference batch serves one version), so the group of
 * the previous decision is tried first.
 */
export function decideArgs(live: readonly Decision[], ttls: readonly number[]): (string | number)[] {
  const n = live.length;
  const keys: string[] = new Array(n);
  const lines: string[] = new Array(n);
  const groupOf: number[] = new Array(n);
  const groups: Decision[] = [];
  const statsKeys: string[] = [];
  const statsIndex: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = live[i]!;
    keys[i] = decisionKey(d.id);
    lines[i] = d.line();
    let g = groups.length - 1;
    const last = groups[g];
    if (!last || last.route !== d.route || last.arm !== d.arm || last.versionKey !== d.versionKey) {
      g = groups.findIndex((x) => x.route === d.route && x.arm === d.arm && x.versionKey === d.versionKey);
      if (g < 0) {
        g = groups.push(d) - 1;
        const key = statsKey(d.route);
        let k = statsKeys.indexOf(key);
        if (k < 0) k = statsKeys.push(key) - 1;
        statsIndex.push(k + 1);
      }
    }
    groupOf[i] = g + 1;
  }
  const args: (string | number)[] = [n + statsKeys.length, ...keys, ...statsKeys, n, ...lines, ...ttls, ...groupOf];
  for (let g = 0; g < groups.length; g++) args.push(statsIndex[g]!, groups[g]!.arm, groups[g]!.versionKey);
  return args;
}
