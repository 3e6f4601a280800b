/**
 * Monitoring's minutes in Redis (the MonitorCounts port, monitoring/monitor-counts.ts): every
 * replica adds its deltas to the same hashes, so every replica reads the same windows. A series
 * keeps one hash per minute (`croupier:{route:R}:mon:<series>:m:<minute>`, fields the vector's
 * indexes) and one per hour (`…:h:<hour>`), both added to by one script call; a window is read as
 * its whole hours plus the minutes at either end (at most 59 + 24 + 59 hashes for 24 h, instead of
 * 1,440). Each hash expires once no window can reach it.
 */
import type { Delta, MonitorCounts, SeriesKey } from '../../monitoring/monitor-counts.js';
import { addInto, MINUTE_MS, RETAINED_MINUTES } from '../../monitoring/minute-window.js';
import { batch } from './batch.js';
import { modelKey, routeKey, type RedisClient, type RedisLink } from './connection.js';

/**
 * KEYS: the minute hash, the hour hash (one slot: one hash tag); ARGV: their expiry times (ms),
 * then index, amount pairs.
 */
const ADD = `
for i = 3, #ARGV, 2 do
  redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('HINCRBYFLOAT', KEYS[2], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
return 1
`;

type MonitorClient = RedisClient & {
  croupierMonitorAdd(minuteKey: string, hourKey: string, ...args: (string | number)[]): Promise<number>;
};

function withScript(client: RedisClient): MonitorClient {
  const c = client as MonitorClient;
  if (typeof c.croupierMonitorAdd !== 'function')
    client.defineCommand('croupierMonitorAdd', { numberOfKeys: 2, lua: ADD });
  return c;
}

function base(key: SeriesKey): string {
  const suffix = `mon:${key.series}`;
  return key.scope === 'route' ? routeKey(key.name, suffix) : modelKey(key.name, suffix);
}

/** The hashes that make up the minutes [first, last]: whole hours where they fit, minutes at the ends. */
function hashesOf(key: SeriesKey, first: number, last: number): string[] {
  const b = base(key);
  const out: string[] = [];
  const firstHour = Math.ceil(first / 60);
  const endHour = Math.floor((last + 1) / 60);
  if (firstHour >= endHour) {
    for (let m = first; m <= last; m++) out.push(`${b}:m:${m}`);
    return out;
  }
  for (let m = first; m < firstHour * 60; m++) out.push(`${b}:m:${m}`);
  for (let h = firstHour; h < endHour; h++) out.push(`${b}:h:${h}`);
  for (let m = endHour * 60; m <= last; m++) out.push(`${b}:m:${m}`);
  return out;
}

function vectorOf(hash: Record<string, string>, length: number): Float64Array {
  let size = length;
  for (const field of Object.keys(hash)) size = Math.max(size, Number(field) + 1);
  const v = new Float64Array(size);
  for (const [field, value] of Object.entries(hash)) v[Number(field)] = Number(value);
  return v;
}

export class RedisMonitorCounts implements MonitorCounts {
  constructor(private readonly link: RedisLink) {}

  async apply(deltas: readonly Delta[]): Promise<void> {
    const client = withScript(this.link.client);
    const commands = deltas.flatMap((d) => {
      const args: (string | number)[] = [];
      for (let i = 0; i < d.amounts.length; i++) if (d.amounts[i] !== 0) args.push(i, d.amounts[i]!);
      if (args.length === 0) return [];
      const b = base(d.key);
      const hour = Math.floor(d.minute / 60);
      // A minute is read while a window can reach it; an hour while a whole-hour read can.
      const minuteExpiry = (d.minute + RETAINED_MINUTES + 2) * MINUTE_MS;
      const hourExpiry = ((hour + 1) * 60 + RETAINED_MINUTES + 2) * MINUTE_MS;
      return [
        (c: MonitorClient) =>
          c.croupierMonitorAdd(`${b}:m:${d.minute}`, `${b}:h:${hour}`, minuteExpiry, hourExpiry, ...args),
      ];
    });
    if (commands.length === 0) return;
    const results = await batch(client, commands);
    const error = results.find((r) => r instanceof Error);
    if (error) throw error;
  }

  async sums(keys: readonly SeriesKey[], lastMinute: number, minutes: number, length: number): Promise<Float64Array[]> {
    const first = lastMinute - minutes + 1;
    const groups = keys.map((k) => hashesOf(k, first, lastMinute));
    const results = await batch(
      this.link.client,
      groups.flat().map((h) => (c: RedisClient) => c.hgetall(h)),
    );
    const error = results.find((r) => r instanceof Error);
    if (error) throw error;
    let at = 0;
    return groups.map((hashes) => {
      let sum: Float64Array = new Float64Array(length);
      for (let i = 0; i < hashes.length; i++) sum = addInto(sum, vectorOf(results[at++] as Record<string, string>, 0));
      return sum;
    });
  }

  async minutes(key: SeriesKey, first: number, last: number, length: number): Promise<[number, Float64Array][]> {
    const b = base(key);
    const span = Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);
    const results = await batch(
      this.link.client,
      span.map((m) => (c: RedisClient) => c.hgetall(`${b}:m:${m}`)),
    );
    const error = results.find((r) => r instanceof Error);
    if (error) throw error;
    const out: [number, Float64Array][] = [];
    span.forEach((m, i) => {
      const hash = results[i] as Record<string, string>;
      if (Object.keys(hash).length > 0) out.push([m, vectorOf(hash, length)]);
    });
    return out;
  }

  async close(): Promise<void> {
    // Nothing of its own: every delta applied is in Redis.
  }
}
