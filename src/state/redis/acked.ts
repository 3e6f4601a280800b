/**
 * Writes and their `WAIT`, on Redis Cluster: each group of writes (keys of one slot) goes in one
 * pipeline with its `WAIT` last, so the WAIT leaves on the very connection, right behind the writes
 * it must cover. `WAIT` counts only what its own connection wrote; sent in a second round trip, it
 * could go out on another connection than the writes — one ioredis made anew meanwhile (a node that
 * closed the old one: a demoted master closes its clients blocked in WAIT; a pipeline retried after
 * "Connection is closed"), or the node an ASK or MOVED named — and acknowledge at once, on a
 * connection that wrote nothing, writes no replica had.
 *
 * A write that finds its work already done (a retry of one that ran, its answer lost) must still
 * write something (the scripts touch their marker, a decision is SET again), or the WAIT behind it
 * covers nothing on a new connection.
 */
import { Cluster } from 'ioredis';
import { COMMAND_TIMEOUT_MS, WAIT_TIMEOUT_MS, type RedisClient } from './connection.js';

/**
 * How long one group's writes may take, answer or not. Every command has its own timeout, but a
 * pipeline that ioredis retries (all its commands failed alike: "Connection is closed." when a
 * demoted master closes its clients) waits for a slot-map refresh with no timeout of its own, and
 * once stayed unanswered for 43 s after a CLUSTER FAILOVER: the catch-up loop waiting on it held
 * its decisions that long (feedback answered 503, then 404 on the other replica). Past this the
 * write counts as failed and is sent again; the late one, if it runs, writes the same thing.
 */
export const WRITE_DEADLINE_MS = 4 * COMMAND_TIMEOUT_MS;

/** What one group's pipeline answered: each write's result, and whether `replicas` acknowledged them all. */
export interface Acked<T> {
  readonly results: (T | Error)[];
  readonly acked: boolean;
  /** The first error (a write's, or why the WAIT fell short). */
  readonly error: Error | undefined;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * Sends `writes` (all of one slot on Cluster) in one pipeline, with `WAIT replicas` last; with no
 * replicas to wait for, as plain commands. A MOVED answer refreshes the client's slot map: ioredis
 * follows a pipeline's redirect only when every command in it got the same one, never here (the
 * WAIT answers), so the next try must find the new node by itself.
 */
export function writeAcked<C extends RedisClient, T>(
  client: C,
  writes: readonly ((c: C) => Promise<T>)[],
  replicas: number,
): Promise<Acked<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Acked<T>>((resolve) => {
    timer = setTimeout(() => {
      const error = new Error(`write not answered within ${WRITE_DEADLINE_MS} ms`);
      resolve({ results: new Array<Error>(writes.length).fill(error), acked: false, error });
    }, WRITE_DEADLINE_MS);
  });
  return Promise.race([send(client, writes, replicas), deadline]).finally(() => clearTimeout(timer));
}

async function send<C extends RedisClient, T>(
  client: C,
  writes: readonly ((c: C) => Promise<T>)[],
  replicas: number,
): Promise<Acked<T>> {
  const n = writes.length;
  let answers: [Error | null, unknown][] | null;
  if (replicas === 0) {
    answers = await Promise.all(
      writes.map((f) =>
        f(client).then(
          (v): [null, unknown] => [null, v],
          (e: unknown): [Error, unknown] => [asError(e), undefined],
        ),
      ),
    );
  } else {
    const pipeline = client.pipeline();
    // On a pipeline each command queues and returns the pipeline, not a promise; exec() answers all.
    for (const f of writes) void f(pipeline as unknown as C);
    pipeline.wait(replicas, WAIT_TIMEOUT_MS);
    try {
      answers = await pipeline.exec();
    } catch (e) {
      const error = asError(e);
      return { results: new Array<Error>(n).fill(error), acked: false, error };
    }
  }
  if (!answers) {
    const error = new Error('pipeline discarded');
    return { results: new Array<Error>(n).fill(error), acked: false, error };
  }
  const results: (T | Error)[] = new Array(n);
  let error: Error | undefined;
  for (let i = 0; i < n; i++) {
    const [err, value] = answers[i]!;
    results[i] = err ?? (value as T);
    error ??= err ?? undefined;
  }
  if (error?.message.startsWith('MOVED') && client instanceof Cluster) client.refreshSlotsCache();
  if (error === undefined && replicas > 0) {
    const [err, count] = answers[n]!;
    if (err) error = err;
    else if ((count as number) < replicas)
      error = new Error(`WAIT: ${count as number} of ${replicas} replicas acknowledged the write`);
  }
  return { results, acked: error === undefined, error };
}
