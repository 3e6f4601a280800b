/**
 * Redis mode's guardrail state (the GuardState port, state/guard-state.ts): the hash
 * `croupier:{control}:guard-arms` (field `route/arm` → the arm's record, JSON) and the hash
 * `croupier:{control}:guard-watches` (field model → its watch, JSON). A disable, an enable and the
 * end of a watch are scripts that check and write in one step, so two replicas never both act.
 */
import { armField, type ArmGuard, type DeployWatch, type GuardState } from '../guard-state.js';
import { controlKey, type RedisClient } from './connection.js';

/** KEYS[1] the hash; ARGV: field, record, wanted current state ("1": must be disabled, "0": must not be). */
const SWITCH = `
local held = redis.call('HGET', KEYS[1], ARGV[1])
local disabled = held and cjson.decode(held).disabled == true
if (ARGV[3] == '1') ~= disabled then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

const END_WATCH = `
local held = redis.call('HGET', KEYS[1], ARGV[1])
if not held or cjson.decode(held).version ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`;

function parsed<T>(raw: Record<string, string>): T[] {
  const out: T[] = [];
  for (const json of Object.values(raw)) {
    try {
      out.push(JSON.parse(json) as T);
    } catch {
      // A value this version cannot read is skipped.
    }
  }
  return out;
}

export class RedisGuardState implements GuardState {
  private readonly armsKey = controlKey('guard-arms');
  private readonly watchesKey = controlKey('guard-watches');

  constructor(private readonly client: RedisClient) {}

  async arms(): Promise<ArmGuard[]> {
    return parsed<ArmGuard>(await this.client.hgetall(this.armsKey));
  }

  async disable(route: string, arm: string, reason: string, atMs: number): Promise<boolean> {
    const record: ArmGuard = { route, arm, disabled: true, reason, atMs };
    const field = armField(route, arm);
    return (await this.client.eval(SWITCH, 1, this.armsKey, field, JSON.stringify(record), '0')) === 1;
  }

  async enable(route: string, arm: string, by: string, atMs: number, offset?: readonly number[]): Promise<boolean> {
    const record: ArmGuard = {
      route,
      arm,
      disabled: false,
      reason: by,
      atMs,
      ...(offset ? { offset: [...offset] } : {}),
    };
    const field = armField(route, arm);
    return (await this.client.eval(SWITCH, 1, this.armsKey, field, JSON.stringify(record), '1')) === 1;
  }

  async watches(): Promise<DeployWatch[]> {
    return parsed<DeployWatch>(await this.client.hgetall(this.watchesKey));
  }

  async watch(watch: DeployWatch): Promise<void> {
    await this.client.hset(this.watchesKey, watch.model, JSON.stringify(watch));
  }

  async endWatch(model: string, version: string): Promise<boolean> {
    return (await this.client.eval(END_WATCH, 1, this.watchesKey, model, version)) === 1;
  }
}
