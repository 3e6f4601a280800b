/**
 * One off-policy evaluation as a job for a worker thread: the log as flat typed arrays (transferred,
 * not copied), the policies as weights or as per-decision probabilities, and what to estimate.
 * Evaluating a million outcomes takes seconds of CPU (~50–350 ms a pass, measured on a loaded
 * 2-core box); on the main thread it would stall every request meanwhile, so the admin endpoint
 * runs it in a worker of its own (`runInWorker`), and `runJob` is what that worker runs.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { evaluate, rewardModel } from './evaluate.js';
import {
  type EstimatorName,
  type Evaluation,
  fixedPolicy,
  type LoggedDecision,
  type RewardPredictions,
  type TargetPolicy,
} from './types.js';

/** A policy: fixed weights by arm index, or a contextual policy's probabilities, `served` per decision. */
export type JobPolicy =
  | { readonly weights: readonly number[] }
  | { readonly perDecision: Float64Array; readonly served: number };

export interface OpeJob {
  /** Arm indexes the log holds (the route's served arms first, then arms no longer on it). */
  readonly arms: number;
  readonly arm: Int32Array;
  readonly propensity: Float64Array;
  readonly reward: Float64Array;
  /** Context width (0: a context-free log); `context` holds n × width values. */
  readonly width: number;
  readonly context: Float64Array;
  readonly policies: readonly JobPolicy[];
  readonly estimators: readonly EstimatorName[];
  readonly lambda: number | undefined;
}

/** Evaluations in policy order, or the estimators' refusal of the log (a 400 for the caller). */
export type OpeJobResult = { readonly evaluations: Evaluation[] } | { readonly rangeError: string };

/** Evaluates every policy of `job` on its log, one reward model shared by all. */
export function runJob(job: OpeJob): OpeJobResult {
  const n = job.arm.length;
  const w = job.width;
  const log: LoggedDecision[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const arm = job.arm[i]!;
    const propensity = job.propensity[i]!;
    const reward = job.reward[i]!;
    log[i] =
      w > 0
        ? { arm, propensity, reward, context: job.context.subarray(i * w, (i + 1) * w) }
        : { arm, propensity, reward };
  }
  const options = { arms: job.arms, estimators: job.estimators, lambda: job.lambda };
  try {
    let predicted: RewardPredictions | undefined;
    const evaluations = job.policies.map((p) => {
      if (predicted === undefined && job.estimators.includes('dr') && n > 0)
        predicted = rewardModel(log, job.arms, job.lambda);
      return evaluate(log, targetOf(p), options, predicted);
    });
    return { evaluations };
  } catch (e) {
    if (e instanceof RangeError) return { rangeError: e.message };
    throw e;
  }
}

function targetOf(p: JobPolicy): TargetPolicy {
  if ('weights' in p) return fixedPolicy(p.weights);
  const { perDecision, served } = p;
  return (i, arm) => (arm < served ? perDecision[i * served + arm]! : 0);
}

/** The compiled worker; when the main thread runs from TypeScript sources (tests), the built one in dist/. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts')
    ? fileURLToPath(new URL('../../../dist/routing/ope/ope-worker.js', import.meta.url))
    : fileURLToPath(new URL('./ope-worker.js', import.meta.url));
  if (!existsSync(file)) throw new Error(`OPE worker ${file} is missing: run npm run build`);
  return file;
}

/** Runs `job` in a worker thread of its own (its arrays are transferred), then ends the worker. */
export function runInWorker(job: OpeJob): Promise<OpeJobResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile());
    let done = false;
    worker.once('message', (result: OpeJobResult) => {
      done = true;
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', (e) => {
      done = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!done) reject(new Error(`the OPE worker exited with code ${code} before answering`));
    });
    const buffers = [job.arm.buffer, job.propensity.buffer, job.reward.buffer, job.context.buffer];
    for (const p of job.policies) if ('perDecision' in p) buffers.push(p.perDecision.buffer);
    worker.postMessage(job, buffers as ArrayBuffer[]);
  });
}
