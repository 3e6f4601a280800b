// Start Croupier for a benchmark: build if stale, spawn `bin/croupier.js serve` on a free port with
// its own state directory and extra environment, wait for /v2/health/ready; stop and clean up.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { logTail, spawnServer, stopServer, type Server } from './children.js';
import { freePort } from './port.js';

export interface CroupierProcess {
  server: Server;
  stateDir: string;
  /** http://127.0.0.1:port, no path. */
  base: string;
  pid: number;
  stop(): Promise<void>;
}

export interface CroupierStart {
  root: string;
  name: string;
  logDir: string;
  env?: Record<string, string>;
  modelsDir?: string;
  readyTimeoutMs?: number;
}

let built = false;

/** Same step as `npm start`'s prestart: bin/croupier.js runs dist/, which must be fresh. */
export function buildIfStale(root: string): void {
  if (built) return;
  const builder = join(root, 'scripts/build-if-stale.js');
  if (existsSync(builder)) execFileSync(process.execPath, [builder], { cwd: root, stdio: 'inherit', timeout: 180_000 });
  built = true;
}

export async function startCroupier(o: CroupierStart): Promise<CroupierProcess> {
  buildIfStale(o.root);
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'croupier-bench-'));
  const server = spawnServer({
    name: o.name,
    command: process.execPath,
    args: ['bin/croupier.js', 'serve', '--port', String(port), '--models', o.modelsDir ?? './models'],
    port,
    urlPath: '/',
    cwd: o.root,
    env: { ...process.env, NODE_ENV: 'production', CROUPIER_STATE_DIR: stateDir, CROUPIER_LOG_LEVEL: 'warn', ...o.env },
    logFile: join(o.logDir, `${o.name}.log`),
  });
  const base = `http://127.0.0.1:${port}`;
  let stopping = false;
  // Say in the log how it ended: on a shared machine a server can be killed from outside.
  server.child.once('exit', (code, signal) => {
    if (!stopping)
      appendFileSync(
        server.logFile,
        `\nbench: server exited unexpectedly (code ${String(code)}, signal ${String(signal)})\n`,
      );
  });
  const stop = async (): Promise<void> => {
    stopping = true;
    await stopServer(server);
    rmSync(stateDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      await stop();
      throw new Error(`${o.name} exited before it was ready:\n${logTail(server)}`);
    }
    try {
      if ((await fetch(`${base}/v2/health/ready`, { signal: AbortSignal.timeout(2000) })).status === 200) {
        return { server, stateDir, base, pid: server.child.pid ?? -1, stop };
      }
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  await stop();
  throw new Error(`${o.name} was not ready within ${o.readyTimeoutMs ?? 60_000} ms:\n${logTail(server)}`);
}

export function isAlive(p: CroupierProcess): boolean {
  return p.server.child.exitCode === null && p.server.child.signalCode === null;
}

/** How a dead server ended, for the report. */
export function exitReason(p: CroupierProcess): string {
  return p.server.child.signalCode !== null
    ? `signal ${p.server.child.signalCode}`
    : `exit code ${String(p.server.child.exitCode)}`;
}
