/**
 * Arm statistics shared by every replica, in one hash per route (`croupier:{route:R}:stats`,
 * fields `<arm>:version|pulls|rewards|n|sum|sumSq|atMs`). Every change is a Lua script run by Redis
 * (never read-modify-write from a client, the race Seldon's router warns about); every replica
 * re-reads the hashes every 200 ms (one pipelined HGETALL per route) and recomputes the weights
 * from them, so feedback to any replica moves every replica's allocation.
 */
import { ArmStats } from '../../routing/arm-stats.js';
import type { Route, Router } from '../../routing/router.js';
import type { Logger } from '../../log.js';
import type { Registry } from '../../registry/registry.js';
import type { RedisClient, RedisLink } from './connection.js';
import { batch } from './batch.js';
import { DECIDE } from './decide-script.js';
import { statsKey } from './keys.js';
import { applyLinear, LINEAR_CREDIT, LINEAR_SUFFIX, splitFields } from './linear.js';

export const STATS_REFRESH_MS = 200;
/** Outcomes stay in the stream at least this long, longer when the route's window is longer. */
export const OUTCOME_RETENTION_MS = 7 * 86_400_000;

/**
 * Counts `ARGV[3]` pulls of arm ARGV[1] serving version ARGV[2], once: KEYS[2] marks the count done
 * (for ARGV[4] ms), so sending it again after a timeout or a failover counts nothing twice (-1); that
 * repeat touches the marker, a write, so that the WAIT behind it covers the first count (acked.ts). An
 * arm that starts serving another version starts again from the prior (statistics belong to an arm
 * and its version), linear sums included. Cluster only: elsewhere DECIDE counts pulls with the decisions.
 */
const PULL = `
if not redis.call('SET', KEYS[2], '1', 'PX', ARGV[4], 'NX') then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  return -1
end
local arm = ARGV[1]
local v = redis.call('HGET', KEYS[1], arm .. ':version')
if v ~= ARGV[2] then
  redis.call('HSET', KEYS[1], arm .. ':version', ARGV[2], arm .. ':pulls', 0, arm .. ':rewards', 0,
    arm .. ':n', 0, arm .. ':sum', 0, arm .. ':sumSq', 0, arm .. ':atMs', 0)
  redis.call('HDEL', KEYS[1], arm .. '${LINEAR_SUFFIX}')
end
return redis.call('HINCRBY', KEYS[1], arm .. ':pulls', ARGV[3])
`;

/**
 * One accepted outcome, in one script so that it is counted exactly once:
 *   KEYS[1] the route's stats hash, KEYS[2] the decision's settled marker, KEYS[3] the outcomes stream
 *   ARGV: decision, arm, versionKey, reward, atMs, halfLifeMs, markerTtlMs, minId, model, version,
 *         propensity, decidedMs, label (JSON, '' for none); contextual routes add the decision's
 *         context, packed doubles then JSON (linear.ts): the arm's linear sums take it when
 *         credited, and the stream entry keeps it as `context` (what off-policy evaluation reads)
 * A duplicate touches its marker (a write, so that a WAIT after it covers the first count too).
 * Returns 0 for a duplicate, 1 when accepted and credited, 2 when accepted but not credited (the
 * arm serves another version by now). The discounting mirrors ArmStats.credit.
 */
const CREDIT = `
if not redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[7]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
  return 0
end
local arm = ARGV[2]
local reward = tonumber(ARGV[4])
local at = tonumber(ARGV[5])
local halfLife = tonumber(ARGV[6])
local v = redis.call('HGET', KEYS[1], arm .. ':version')
local credited = 2
if not v then
  redis.call('HSET', KEYS[1], arm .. ':version', ARGV[3])
  redis.call('HDEL', KEYS[1], arm .. '${LINEAR_SUFFIX}')
  v = ARGV[3]
end
if v == ARGV[3] then
  credited = 1
  local f = redis.call('HMGET', KEYS[1], arm .. ':rewards', arm .. ':n', arm .. ':sum', arm .. ':sumSq', arm .. ':atMs')
  local rewards = tonumber(f[1] or '0') + reward
  local n = tonumber(f[2] or '0')
  local sum = tonumber(f[3] or '0')
  local sumSq = tonumber(f[4] or '0')
  local atMs = tonumber(f[5] or '0')
  if halfLife > 0 and n > 0 and at < atMs then
    local w = math.pow(0.5, (atMs - at) / halfLife)
    n = n + w
    sum = sum + w * reward
    sumSq = sumSq + w * reward * reward
  else
    if halfLife > 0 and n > 0 and at > atMs then
      local d = math.pow(0.5, (at - atMs) / halfLife)
      n = n * d
      sum = sum * d
      sumSq = sumSq * d
    end
    if at > atMs then atMs = at end
    n = n + 1
    sum = sum + reward
    sumSq = sumSq + reward * reward
  end
  redis.call('HSET', KEYS[1], arm .. ':rewards', string.format('%.17g', rewards), arm .. ':n', string.format('%.17g', n),
    arm .. ':sum', string.format('%.17g', sum), arm .. ':sumSq', string.format('%.17g', sumSq), arm .. ':atMs', string.format('%d', atMs))
end
${LINEAR_CREDIT}
local fields = {'decision', ARGV[1], 'arm', arm, 'model', ARGV[9], 'version', ARGV[10], 'reward', ARGV[4],
  'propensity', ARGV[11], 'decidedMs', ARGV[12], 'credited', tostring(credited)}
if ARGV[13] ~= '' then
  fields[#fields + 1] = 'label'
  fields[#fields + 1] = ARGV[13]
end
if ARGV[15] and ARGV[15] ~= '' then
  fields[#fields + 1] = 'context'
  fields[#fields + 1] = ARGV[15]
end
redis.call('XADD', KEYS[3], 'MINID', '~', ARGV[8], '*', unpack(fields))
return credited
`;

/** Forgets a route's statistics (admin reset), keeping each arm's version; linear sums are removed. */
const RESET = `
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local f = all[i]
  if string.sub(f, -${LINEAR_SUFFIX.length}) == '${LINEAR_SUFFIX}' then redis.call('HDEL', KEYS[1], f)
  elseif string.sub(f, -8) ~= ':version' then redis.call('HSET', KEYS[1], f, 0) end
end
return #all / 2
`;

/**
 * Restarts arm ARGV[1]'s outcome statistics from the prior (pulls and version kept) if any is not a
 * finite number, or n or sumSq is negative: what a hash written before rewards were bounded may hold
 * (`inf`, `nan`), and what the credit script would otherwise keep for ever. Returns 1 if it did.
 */
const REPAIR = `
local arm = ARGV[1]
local f = redis.call('HMGET', KEYS[1], arm .. ':rewards', arm .. ':n', arm .. ':sum', arm .. ':sumSq', arm .. ':atMs')
local bad = false
for i = 1, 5 do
  local x = tonumber(f[i] or '0')
  if x == nil or x ~= x or x == math.huge or x == -math.huge or ((i == 2 or i == 4) and x < 0) then bad = true end
end
if not bad then return 0 end
redis.call('HSET', KEYS[1], arm .. ':rewards', 0, arm .. ':n', 0, arm .. ':sum', 0, arm .. ':sumSq', 0, arm .. ':atMs', 0)
return 1
`;

type ScriptClient = RedisClient & {
  croupierPull(
    key: string,
    marker: string,
    arm: string,
    versionKey: string,
    count: number,
    markerMs: number,
  ): Promise<number>;
  croupierCredit(...args: (string | number | Buffer)[]): Promise<number>;
  croupierReset(key: string): Promise<number>;
  croupierDecide(...args: (string | number)[]): Promise<number>;
  croupierRepair(key: string, arm: string): Promise<number>;
};

/** Registers the scripts, these and DECIDE, on the client (ioredis sends EVALSHA, and the script once on NOSCRIPT). */
export function scripts(client: RedisClient): ScriptClient {
  const c = client as ScriptClient;
  if (typeof c.croupierPull !== 'function') {
    client.defineCommand('croupierPull', { numberOfKeys: 2, lua: PULL });
    client.defineCommand('croupierCredit', { numberOfKeys: 3, lua: CREDIT });
    client.defineCommand('croupierReset', { numberOfKeys: 1, lua: RESET });
    client.defineCommand('croupierDecide', { lua: DECIDE });
    client.defineCommand('croupierRepair', { numberOfKeys: 1, lua: REPAIR });
  }
  return c;
}

/**
 * Copies an arm's shared statistics over the local ones, unless Redis has none for the version the
 * arm serves here (another replica may not have followed a deploy yet, or this one). Outcome
 * statistics that are not finite (`inf`, `nan`: Number() of them is NaN) are corrupt: they are taken
 * as the prior, pulls kept (ArmStats.isSound, as embedded mode does), and the answer says so.
 * `changed`: the outcome statistics the weights come from changed (pulls change with every
 * prediction; they matter only to burn-in, which the router's timer follows).
 */
function applyArm(
  stats: ArmStats,
  fields: Record<string, string>,
  arm: string,
  serving: string | undefined,
): { changed: boolean; corrupt: boolean } {
  const version = fields[`${arm}:version`];
  if (version === undefined || version !== serving) return { changed: false, corrupt: false };
  const pulls = Number(fields[`${arm}:pulls`] ?? 0);
  const read = {
    version,
    pulls: Number.isFinite(pulls) && pulls >= 0 ? pulls : 0,
    rewards: Number(fields[`${arm}:rewards`] ?? 0),
    n: Number(fields[`${arm}:n`] ?? 0),
    sum: Number(fields[`${arm}:sum`] ?? 0),
    sumSq: Number(fields[`${arm}:sumSq`] ?? 0),
    atMs: Number(fields[`${arm}:atMs`] ?? 0),
  };
  const corrupt = !ArmStats.isSound(read);
  const r = corrupt ? { ...read, rewards: 0, n: 0, sum: 0, sumSq: 0, atMs: 0 } : read;
  const changed =
    stats.versionKey !== version
    || stats.n !== r.n
    || stats.sum !== r.sum
    || stats.sumSq !== r.sumSq
    || stats.atMs !== r.atMs;
  stats.versionKey = version;
  stats.pulls = r.pulls;
  stats.rewardTotal = r.rewards;
  stats.n = r.n;
  stats.sum = r.sum;
  stats.sumSq = r.sumSq;
  stats.atMs = r.atMs;
  return { changed, corrupt };
}

/** Hears whether each statistics re-read reached Redis (`sinceMs`: when it started). */
export interface HealthObserver {
  health(ok: boolean, sinceMs: number): void;
}

/**
 * Re-reads every route's shared statistics on a timer and recomputes the weights from them. While
 * Redis is down the last statistics read stay in force (predictions go on from the last known state).
 */
export class SharedStats {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Arms (`route\narm`) whose shared statistics were found corrupt, warned about once. */
  private readonly corrupt = new Set<string>();

  constructor(
    private readonly link: RedisLink,
    private readonly router: Router,
    private readonly registry: Registry,
    private readonly log: Logger,
    /** Told whether each refresh reached Redis, and when it started (the feedback side's outage view). */
    private readonly observer?: HealthObserver,
  ) {}

  start(intervalMs = STATS_REFRESH_MS): void {
    this.timer ??= setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pipelined HGETALL per route, then a recompute of each route whose outcome statistics changed. */
  async refresh(): Promise<void> {
    if (this.running || !this.link.isUp()) return;
    this.running = true;
    const startedMs = Date.now();
    let ok = false;
    try {
      const routes: Route[] = [...this.router.routes.values()];
      // Contextual routes read the hash as bytes, for their packed linear sums (linear.ts); the
      // others as text, as before: no more bytes, commands or round trips for them.
      const results = await batch<RedisClient, Record<string, string> | Record<string, Buffer>>(
        this.link.client,
        routes.map((r) =>
          r.contextReader ? (c) => c.hgetallBuffer(statsKey(r.name)) : (c) => c.hgetall(statsKey(r.name)),
        ),
      );
      for (let i = 0; i < routes.length; i++) {
        const route = routes[i]!;
        const read = results[i];
        if (read instanceof Error || !read) continue;
        // The route may have been replaced while the read was in flight: apply to the current one.
        if (this.router.get(route.name) !== route) continue;
        const split = route.contextReader ? splitFields(read as Record<string, Buffer>) : undefined;
        const fields = split ? split.fields : (read as Record<string, string>);
        let changed = false;
        for (const arm of route.arms) {
          const serving = this.registry.resolve(arm.model, arm.version)?.key;
          const stats = route.stats[arm.index]!;
          const applied = applyArm(stats, fields, arm.name, serving);
          changed = applied.changed || changed;
          if (applied.corrupt) this.repair(route.name, arm.name);
          else this.corrupt.delete(`${route.name}\n${arm.name}`);
          if (split && serving !== undefined && fields[`${arm.name}:version`] === serving) {
            changed = this.applyLinear(route, stats, arm.name, split.linear.get(arm.name)) || changed;
          }
        }
        // Through the router, so that recomputes keep to their share of the event loop.
        if (changed) this.router.touch(route);
      }
      const failed = results.find((r) => r instanceof Error);
      ok = failed === undefined;
      if (failed) this.link.failed(failed);
    } catch (err) {
      this.link.failed(err);
      this.log.debug({ err: (err as Error).message }, 'redis: statistics refresh failed');
    } finally {
      this.running = false;
      this.observer?.health(ok, startedMs);
    }
  }

  /** An arm's shared linear sums over its local ones (contextual routes); true when they changed. */
  private applyLinear(route: Route, stats: ArmStats, arm: string, bytes: Buffer | undefined): boolean {
    stats.useContext(route.contextReader!.names.length);
    const applied = applyLinear(stats.linear!, bytes);
    const what = `${route.name}\n${arm}\nlinear`;
    if (!applied.corrupt) this.corrupt.delete(what);
    else if (!this.corrupt.has(what)) {
      this.corrupt.add(what);
      this.log.warn(
        { route: route.name, arm, bytes: bytes?.length },
        'redis: arm linear statistics are not the packed sums of this context (another length, or not finite numbers); taken as empty until the next credit restarts them',
      );
    }
    return applied.changed;
  }

  /**
   * Restarts a corrupt arm's outcome statistics in Redis too (the script checks again: a replica
   * that repaired it first, or a credit since, is left alone); tried on each re-read until it holds.
   */
  private repair(route: string, arm: string): void {
    const what = `${route}\n${arm}`;
    if (!this.corrupt.has(what)) {
      this.corrupt.add(what);
      this.log.warn(
        { route, arm },
        'redis: arm statistics are not finite numbers (written before rewards were bounded); restarting them from the prior',
      );
    }
    scripts(this.link.client)
      .croupierRepair(statsKey(route), arm)
      .catch((err: unknown) =>
        this.log.debug({ route, arm, err: (err as Error).message }, 'redis: arm statistics repair not written'),
      );
  }

  /** Forgets a route's shared statistics (the admin reset, on the replica that ran it). */
  async reset(route: string): Promise<void> {
    await scripts(this.link.client).croupierReset(statsKey(route));
  }
}
