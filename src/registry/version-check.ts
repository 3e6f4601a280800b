/**
 * Checks a version folder (loadVersion: manifest, sha256, ONNX structure) on a thread of its own.
 * Reading, hashing and decoding a model of hundreds of megabytes takes seconds; on the main thread
 * that is seconds in which no request is answered. The start-up scan stays synchronous (nothing is
 * served yet); deploys and pushes come here. One short-lived thread per check: admin changes run
 * one at a time, and the thread's memory (the whole file, for the decode) is gone when it exits.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ModelVersion } from './repository.js';

/** The compiled checker; when the main thread runs from TypeScript sources (tests), the built one in dist/. */
function checkerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts')
    ? fileURLToPath(new URL('../../dist/registry/version-check-thread.js', import.meta.url))
    : fileURLToPath(new URL('./version-check-thread.js', import.meta.url));
  if (!existsSync(file)) throw new Error(`version checker ${file} is missing: run npm run build`);
  return file;
}

export interface CheckRequest {
  readonly modelsDir: string;
  readonly model: string;
  readonly version: string;
}

export type CheckAnswer = { ok: true; version: ModelVersion } | { ok: false; reason: string };

/** loadVersion, off the event loop; rejects with an Error whose message is the reason it is refused. */
export function checkVersion(modelsDir: string, model: string, version: string): Promise<ModelVersion> {
  return new Promise((resolve, reject) => {
    const workerData: CheckRequest = { modelsDir, model, version };
    const thread = new Worker(checkerFile(), { workerData });
    let answered = false;
    thread.once('message', (answer: CheckAnswer) => {
      answered = true;
      if (answer.ok) resolve(answer.version);
      else reject(new Error(answer.reason));
    });
    thread.once('error', (e) => {
      answered = true;
      reject(e);
    });
    thread.once('exit', (code) => {
      if (!answered) reject(new Error(`the version check stopped (exit code ${code})`));
    });
  });
}
