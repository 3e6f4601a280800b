/** The thread behind version-check.ts: one loadVersion, one answer, then it exits. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadVersion } from './repository.js';
import type { CheckAnswer, CheckRequest } from './version-check.js';

const { modelsDir, model, version } = workerData as CheckRequest;
let answer: CheckAnswer;
try {
  answer = { ok: true, version: loadVersion(modelsDir, model, version) };
} catch (e) {
  answer = { ok: false, reason: (e as Error).message };
}
parentPort!.postMessage(answer);
