// Child server processes: spawn with output to a log file, wait until they answer, stop them
// (SIGTERM, then SIGKILL), and make sure none survive the orchestrator.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Server {
  name: string;
  port: number;
  url: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<void>;
}

export interface SpawnSpec {
  name: string;
  command: string;
  args: string[];
  port: number;
  urlPath: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
}

const live = new Set<ChildProcess>();

/** Children run in their own process group, so a signal also reaches anything they spawned. */
function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch (err) {
    // ESRCH: the group is already empty. Anything else: fall back to the leader alone.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH' && child.exitCode === null) child.kill(sig);
  }
}

function killAllNow(): void {
  for (const child of live) signalGroup(child, 'SIGKILL');
}
process.on('exit', killAllNow);

export function spawnServer(spec: SpawnSpec): Server {
  const fd = openSync(spec.logFile, 'w');
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
    child.once('error', () => {
      live.delete(child);
      resolve();
    });
  });
  return {
    name: spec.name,
    port: spec.port,
    url: `http://127.0.0.1:${spec.port}${spec.urlPath}`,
    child,
    logFile: spec.logFile,
    exited,
  };
}

export function logTail(server: Server, lines = 15): string {
  try {
    return readFileSync(server.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface Probe {
  status: number;
  body: string;
}

/**
 * POST the body until the server answers 2xx. A server that keeps answering non-2xx for
 * `non2xxGraceMs` after its first answer (e.g. 404 for an unknown route) is an error.
 */
export async function waitUntilReady(
  server: Server,
  body: string,
  timeoutMs: number,
  non2xxGraceMs = 5000,
): Promise<Probe> {
  let deadline = Date.now() + timeoutMs;
  let exited = false;
  let last: Probe | null = null;
  void server.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${server.name} exited (code ${String(server.child.exitCode)}):\n${logTail(server)}`);
    try {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(2000),
      });
      last = { status: res.status, body: (await res.text()).slice(0, 300) };
      if (res.ok) return last;
      deadline = Math.min(deadline, Date.now() + non2xxGraceMs);
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  if (last !== null) {
    throw new Error(`${server.name} answers ${last.status} on ${server.url}: ${last.body}`);
  }
  throw new Error(`${server.name} did not answer within ${timeoutMs} ms:\n${logTail(server)}`);
}

export async function stopServer(server: Server, graceMs = 3000): Promise<void> {
  const { child } = server;
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup(child, 'SIGTERM');
    await Promise.race([server.exited, sleep(graceMs)]);
  }
  // SIGKILL whatever is left: a leader that ignored SIGTERM, or stragglers in its group.
  signalGroup(child, 'SIGKILL');
  await server.exited;
}

/** On Ctrl-C / kill: stop children, then exit with the conventional code. */
export function installSignalCleanup(stopAll: () => Promise<void>): void {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`\nbench: ${sig}, stopping servers\n`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}
