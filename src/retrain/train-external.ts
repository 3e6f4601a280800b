/**
 * `--trainer CMD`: any program (Python, R, a shell script) trains instead of the built-in trainer.
 * It runs through the shell with CROUPIER_DATASET (the export folder) and CROUPIER_OUTPUT (an empty
 * folder where it must write model.onnx, and may write a partial model.json) in its environment,
 * its output streamed to ours, and is stopped (SIGTERM, then SIGKILL) when out of time.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The trainer failed, timed out, or wrote no usable model: the CLI's exit 4. */
export class TrainerError extends Error {}

const KILL_GRACE_MS = 5000;

/** Ours, less the admin token: a trainer reads data and writes a model, it never calls the gateway. */
function trainerEnv(datasetDir: string, outDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CROUPIER_DATASET: datasetDir, CROUPIER_OUTPUT: outDir };
  delete env.CROUPIER_ADMIN_TOKEN;
  return env;
}

export interface ExternalRun {
  readonly trainer: string;
  readonly seconds: number;
}

export function runTrainer(
  command: string,
  datasetDir: string,
  outDir: string,
  timeoutS: number,
  stream: NodeJS.WritableStream,
  /** Gets a function that stops the trainer at once (the CLI calls it when its own --timeout runs out). */
  onStart?: (stop: () => void) => void,
): Promise<ExternalRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, {
      shell: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: trainerEnv(datasetDir, outDir),
      // Its own process group, so a timeout stops the shell and everything it started.
      detached: process.platform !== 'win32',
    });
    child.stdout.pipe(stream, { end: false });
    child.stderr.pipe(stream, { end: false });
    let timedOut = false;
    const signal = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        /* already gone */
      }
    };
    onStart?.(() => signal('SIGKILL'));
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      signal('SIGTERM');
      killer = setTimeout(() => signal('SIGKILL'), KILL_GRACE_MS);
    }, timeoutS * 1000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new TrainerError(`cannot run the trainer "${command}": ${e.message}`));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      clearTimeout(killer);
      if (timedOut)
        return reject(new TrainerError(`the trainer "${command}" did not finish within ${timeoutS} s and was stopped`));
      if (code !== 0)
        return reject(
          new TrainerError(`the trainer "${command}" failed (${sig ? `killed by ${sig}` : `exit code ${code}`})`),
        );
      if (!existsSync(join(outDir, 'model.onnx')))
        return reject(new TrainerError(`the trainer "${command}" exited 0 but wrote no model.onnx in CROUPIER_OUTPUT`));
      resolve({ trainer: command, seconds: (performance.now() - started) / 1000 });
    });
  });
}
