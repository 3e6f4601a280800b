/**
 * Closing the pool (shutdown) while ONNX Runtime creates or warms a session in a worker: the pool
 * waits for that work and has each worker release its sessions before it ends them. Terminating
 * the thread in the middle made onnxruntime-node throw into a dead thread and abort the whole
 * process (exit 134), before any later step of the shutdown could run.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('a pool closed while a version loads in its workers ends cleanly, every time', () => {
  const script = fileURLToPath(new URL('../helpers/close-during-load.ts', import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
  expect(run.stderr).not.toContain('Napi::Error');
  expect({ status: run.status, signal: run.signal, stdout: run.stdout.trim() }).toEqual({
    status: 0,
    signal: null,
    stdout: 'closed 3',
  });
});
