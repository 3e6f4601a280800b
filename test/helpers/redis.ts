/**
 * A real `redis-server` for integration tests, on a free port with its own directory (AOF on,
 * fsync always), killed at the end. When redis-server is not installed the Redis tests skip with a
 * reason — except under CI=true, where a skip would let CI pass without testing: there they fail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'vitest';

export interface TestRedis {
  url: string;
  port: number;
  /** SIGTERM, wait for exit, remove the data directory. */
  stop(): Promise<void>;
  /** SIGKILL, no wait: a crash. */
  kill(): void;
  /** Any other signal to the server (SIGSTOP / SIGCONT: a Redis that hangs with its sockets open). */
  signal(sig: NodeJS.Signals): void;
  /**
   * Start again on the same port and directory (the AOF is replayed), or with `empty`, after
   * deleting the data (a Redis that comes back with nothing); resolves once it answers.
   */
  restart(options?: { empty?: boolean }): Promise<void>;
}

const BINARY = 'redis-server';

export function redisAvailable(binary = BINARY): boolean {
  const r = spawnSync(binary, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** What a Redis test file does: run, skip (with a reason), or fail (CI must never pass by skipping). */
export function redisPlan(available: boolean, ci: boolean): 'run' | 'skip' | 'fail' {
  if (available) return 'run';
  return ci ? 'fail' : 'skip';
}

const MISSING = `${BINARY} is not installed (apt-get install redis-server)`;

/** `describe` for tests that need a real Redis: skips with a reason, or fails under CI=true. */
export function describeRedis(name: string, fn: () => void): void {
  const plan = redisPlan(redisAvailable(), process.env.CI === 'true');
  if (plan === 'run') describe(name, fn);
  else if (plan === 'skip') describe.skip(`${name} — skipped: ${MISSING}`, fn);
  else
    describe(name, () => {
      it('needs redis-server (CI=true: Redis tests fail instead of skipping)', () => {
        throw new Error(`${MISSING}; under CI=true Redis tests must run`);
      });
    });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * `INFO server` over a raw socket until the server on `port` answers as process `pid`, so the helper
 * needs no client library, and a port taken meanwhile by another test's redis-server (the port was
 * free when chosen, not when bound) is never mistaken for ours. False once `exited`.
 */
async function waitForOwnRedis(port: number, pid: number, exited: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited()) {
    const answered = await new Promise<number | undefined>((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port });
      let data = '';
      sock.setTimeout(500, () => {
        sock.destroy();
        resolve(undefined);
      });
      sock.once('connect', () => sock.write('INFO server\r\n'));
      sock.on('data', (d) => {
        data += d.toString();
        const m = /process_id:(\d+)/.exec(data);
        if (m) {
          sock.destroy();
          resolve(Number(m[1]));
        }
      });
      sock.once('error', () => resolve(undefined));
    });
    if (answered === pid) return true;
    await sleep(25);
  }
  return false;
}

export async function startRedis(): Promise<TestRedis> {
  if (!redisAvailable()) throw new Error(MISSING);
  const dir = mkdtempSync(join(tmpdir(), 'croupier-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async (): Promise<boolean> => {
    const proc = spawn(
      BINARY,
      [
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    );
    child = proc;
    let gone = false;
    exited = new Promise((resolve) =>
      proc.once('exit', () => {
        gone = true;
        resolve();
      }),
    );
    return waitForOwnRedis(port, proc.pid!, () => gone, 10_000);
  };
  // A port another process bound first makes our redis-server exit: try another.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    if (await launch()) break;
    child?.kill('SIGKILL');
    await exited;
    if (attempt === 4) throw new Error(`redis-server did not start on a free port (last tried ${port})`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill() {
      child?.kill('SIGKILL');
    },
    signal(sig) {
      child?.kill(sig);
    },
    async restart(options) {
      await exited;
      if (options?.empty) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
      }
      if (!(await launch())) throw new Error(`redis-server did not restart on port ${port}`);
    },
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `croupier_redis_up` as a server's /metrics says it now. */
export async function redisUp(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^croupier_redis_up (\S+)$/m.exec(text)?.[1]);
}

/** Polls `check` every 50 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * One redis-server of a set a test breaks on purpose (Sentinel, Cluster): on `port`, in `dir`, AOF
 * on, with `extra` arguments; it can be signalled, killed, and started again as it was.
 */
export interface RedisNode {
  readonly port: number;
  alive(): boolean;
  signal(sig: NodeJS.Signals): void;
  /** Starts the node again (same port, directory and arguments) once it has exited. */
  restart(): Promise<void>;
  /** Kills it (woken first, if it was stopped) and waits for it to exit. */
  kill(): Promise<void>;
}

export function redisNode(dir: string, port: number, extra: string[]): RedisNode {
  mkdirSync(dir, { recursive: true });
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    ...extra,
  ];
  let proc = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = (): Promise<unknown> => new Promise((r) => proc.once('exit', r));
  const node: RedisNode = {
    port,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    signal(sig) {
      if (node.alive()) proc.kill(sig);
    },
    async restart() {
      if (node.alive()) await exited();
      proc = spawn('redis-server', args, { stdio: 'ignore' });
    },
    async kill() {
      if (!node.alive()) return;
      const gone = exited();
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
      await gone;
    },
  };
  return node;
}
