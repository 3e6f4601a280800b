/**
 * Redis mode's alerting state: the lease `croupier:{control}:alerts-leader` (SET NX PX; renewed
 * with PEXPIRE only while it still holds this replica's value) and the hash
 * `croupier:{control}:alerts` of rule -> last notified state, plus `alerts-claim:<key>` markers.
 */
import { randomBytes } from 'node:crypto';
import type { AlertState } from '../../monitoring/report.js';
import type { AlertStates, Leadership } from '../alert-state.js';
import { controlKey, type RedisClient } from './connection.js';

const LEAD = `
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if held then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const RESIGN = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class RedisLeadership implements Leadership {
  private readonly key = controlKey('alerts-leader');
  private readonly value: string;

  /** `leaseMs`: how long a leader that stops renewing (crashed, partitioned) keeps the lease. */
  constructor(
    private readonly client: RedisClient,
    replica: string,
    private readonly leaseMs: number,
  ) {
    this.value = `${replica} ${randomBytes(6).toString('hex')}`;
  }

  async lead(): Promise<boolean> {
    try {
      return (await this.client.eval(LEAD, 1, this.key, this.value, this.leaseMs)) === 1;
    } catch {
      return false;
    }
  }

  async resign(): Promise<void> {
    await this.client.eval(RESIGN, 1, this.key, this.value).catch(() => undefined);
  }
}

const CLAIM_TTL_S = 3 * 86_400;

export class RedisAlertStates implements AlertStates {
  private readonly key = controlKey('alerts');

  constructor(private readonly client: RedisClient) {}

  async all(): Promise<Map<string, AlertState>> {
    const raw = await this.client.hgetall(this.key);
    const out = new Map<string, AlertState>();
    for (const [rule, json] of Object.entries(raw)) {
      try {
        out.set(rule, JSON.parse(json) as AlertState);
      } catch {
        // A value this version cannot read counts as never notified.
      }
    }
    return out;
  }

  async put(state: AlertState): Promise<void> {
    await this.client.hset(this.key, state.rule, JSON.stringify(state));
  }

  async claim(key: string): Promise<boolean> {
    return (await this.client.set(controlKey(`alerts-claim:${key}`), '1', 'EX', CLAIM_TTL_S, 'NX')) === 'OK';
  }
}
