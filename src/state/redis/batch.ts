/** Many commands in one round trip: the decision, outcome and statistics paths all send theirs this way. */
import { Cluster } from 'ioredis';
import type { RedisClient } from './connection.js';

/**
 * A pipeline on a single Redis; on Cluster, where keys of a pipeline must share a slot, plain
 * commands (and a single command alone). `client` carries the scripts the commands call (stats.ts `scripts`): a pipeline has the
 * commands its client had defined when it was made. Each command's failure is its result.
 */
export async function batch<C extends RedisClient, T>(
  client: C,
  commands: ((c: C) => Promise<T>)[],
): Promise<(T | Error)[]> {
  const settle = (p: Promise<T>): Promise<T | Error> =>
    p.then(
      (v) => v,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
  // One command goes alone: a pipeline costs the client about 20 µs to build (ioredis copies the
  // client's scripts and commands into each), more than the command itself (the predict path sends
  // one per turn in Redis mode).
  if (client instanceof Cluster || commands.length === 1) return Promise.all(commands.map((f) => settle(f(client))));
  const pipeline = client.pipeline() as unknown as C;
  // On a pipeline each command queues and returns the pipeline, not a promise; exec() answers all.
  for (const f of commands) void f(pipeline);
  const results = await (pipeline as unknown as { exec(): Promise<[Error | null, unknown][] | null> }).exec();
  if (!results) throw new Error('pipeline discarded');
  return results.map(([err, value]) => err ?? (value as T));
}
