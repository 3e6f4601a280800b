// The three things we benchmark, and how to start each one.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TargetName } from './args.js';
import type { SpawnSpec } from './children.js';

export interface Target {
  name: TargetName;
  /** Returns a reason to skip this target, or null when it can be started. */
  prepare(): string | null;
  spec(port: number): Omit<SpawnSpec, 'urlPath' | 'logFile'>;
  cleanup(): void;
}

const NODE = process.execPath;

function tsServer(name: TargetName, script: string, root: string, needs: string[]): Target {
  return {
    name,
    prepare: () => {
      const missing = needs.filter((p) => !existsSync(join(root, p)));
      return missing.length > 0 ? `missing ${missing.join(', ')}` : null;
    },
    spec: (port) => ({
      name,
      command: NODE,
      args: ['--import', 'tsx', script, '--port', String(port)],
      port,
      cwd: root,
      env: { ...process.env, NODE_ENV: 'production' },
    }),
    cleanup: () => undefined,
  };
}

/** The first few `error TS…` lines (tsc prints them on stdout), else the tail of the output. */
function buildErrors(err: unknown): string {
  const e = err as { stdout?: Buffer | null; stderr?: Buffer | null; message?: string };
  const lines = `${e.stdout?.toString() ?? ''}\n${e.stderr?.toString() ?? ''}`
    .split('\n')
    .filter((l) => l.trim() !== '');
  const tsErrors = lines.filter((l) => l.includes('error TS'));
  const shown = tsErrors.length > 0 ? tsErrors.slice(0, 3) : lines.slice(-5);
  const more = tsErrors.length > 3 ? ` (+${tsErrors.length - 3} more)` : '';
  return shown.length > 0 ? `${shown.join(' | ')}${more}` : (e.message ?? String(err));
}

function croupier(root: string, name: TargetName = 'croupier'): Target {
  let stateDir: string | null = null;
  return {
    name,
    prepare: () => {
      for (const p of ['bin/croupier.js', 'models']) {
        if (!existsSync(join(root, p))) return `missing ${p}`;
      }
      const builder = join(root, 'scripts/build-if-stale.js');
      if (existsSync(builder)) {
        try {
          // Same step as `npm start`'s prestart: bin/croupier.js runs dist/, which must be fresh.
          execFileSync(NODE, [builder], { cwd: root, stdio: 'pipe', timeout: 180_000 });
        } catch (err) {
          return `build failed (node scripts/build-if-stale.js): ${buildErrors(err)}`;
        }
      }
      stateDir = mkdtempSync(join(tmpdir(), 'croupier-bench-'));
      return null;
    },
    spec: (port) => ({
      name,
      command: NODE,
      args: ['bin/croupier.js', 'serve', '--port', String(port), '--models', './models'],
      port,
      cwd: root,
      env: { ...process.env, NODE_ENV: 'production', CROUPIER_STATE_DIR: stateDir ?? tmpdir() },
    }),
    cleanup: () => {
      if (stateDir !== null) rmSync(stateDir, { recursive: true, force: true });
      stateDir = null;
    },
  };
}

export function makeTarget(name: TargetName, root: string, baselineRoot?: string): Target {
  switch (name) {
    case 'ceiling':
      return tsServer('ceiling', 'bench/ceiling.ts', root, ['bench/ceiling.ts']);
    case 'peer':
      return tsServer('peer', 'bench/peer-fastify.ts', root, ['bench/peer-fastify.ts', 'models/fraud/1/model.onnx']);
    case 'croupier':
      return croupier(root);
    case 'baseline':
      if (baselineRoot === undefined) throw new Error('baseline target without --baseline DIR');
      return croupier(baselineRoot, 'baseline');
  }
}
