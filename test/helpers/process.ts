/** Runs the real `croupier` binary (dist/, built by pretest) as a child process. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './server.js';

export interface Child {
  proc: ChildProcessWithoutNullStreams;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
  /** Resolves with the port once the server logs that it is ready. */
  ready: Promise<number>;
}

export function spawnCroupier(args: string[], env: Record<string, string> = {}): Child {
  const stateDir = mkdtempSync(join(tmpdir(), 'croupier-proc-'));
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'croupier.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', CROUPIER_STATE_DIR: stateDir, CROUPIER_WORKERS: '1', ...env },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let resolveReady: (port: number) => void = () => {};
  let rejectReady: (e: Error) => void = () => {};
  const ready = new Promise<number>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => undefined);
  let buffer = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      stdout.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'croupier ready' && entry.port) resolveReady(entry.port);
      } catch {
        /* not JSON */
      }
    }
  });
  proc.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      rejectReady(new Error(`croupier exited (${code}) before ready: ${stderr.join('')}`));
      // The state directory is this helper's own (a caller's CROUPIER_STATE_DIR is the caller's).
      if (env.CROUPIER_STATE_DIR === undefined) rmSync(stateDir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  return { proc, stdout, stderr, exited, ready };
}
