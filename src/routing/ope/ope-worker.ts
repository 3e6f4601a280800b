/**
 * The worker thread one off-policy evaluation runs in (ope-job.ts): takes one job, answers its
 * evaluations, and is ended by the main thread. Off the main thread, a million-outcome evaluation
 * stalls no request.
 */
import { parentPort } from 'node:worker_threads';
import { type OpeJob, runJob } from './ope-job.js';

parentPort!.once('message', (job: OpeJob) => parentPort!.postMessage(runJob(job)));
