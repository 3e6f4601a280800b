/**
 * `croupier retrain MODEL --route R --dataset DIR`: trains a candidate on an export folder (the
 * built-in logistic regression, or --trainer CMD), validates it against the live version on the
 * most recent 20% of the rows, and registers it as the next version — never live. A person swaps.
 *
 * Exit codes: 0 registered; 1 the gateway refused a call; 2 usage, or the gateway unreachable;
 * 3 the dataset cannot be trained on; 4 the trainer failed, timed out or wrote an unusable model;
 * 5 the candidate is worse than live by more than --tolerance (not registered; --force registers it);
 * 124 out of time (--timeout).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRelease, packRelease } from '../admin/release.js';
import type { Manifest } from '../registry/manifest.js';
import { liveAndNext, withChallenger, writeVersionFolder, type RouteSpecJson } from '../retrain/candidate.js';
import { candidateManifest, readCandidate } from '../retrain/candidate-manifest.js';
import { trainBuiltin, type BuiltinFit } from '../retrain/train-builtin.js';
import { DatasetError, readDataset } from '../retrain/train-dataset.js';
import { examples, modelFeatures } from '../retrain/train-examples.js';
import { runTrainer, TrainerError } from '../retrain/train-external.js';
import { scoreExamples, validate, type Validation } from '../retrain/validate.js';
import { CliFailure } from './admin-client.js';
import type { Context } from './command.js';
import { packageVersion } from './help.js';
import { uploadRelease } from './release-commands.js';
import { validationTable } from './retrain-report.js';
import { datasetFolder, options, type Options } from './retrain-options.js';

export const RETRAIN_EXIT = { datasetUnusable: 3, trainerFailed: 4, worseThanLive: 5 } as const;

const failure = (code: number, e: unknown): CliFailure => new CliFailure(code, (e as Error).message);

/** The live version's manifest and model file, from its release archive. */
async function liveVersion(
  ctx: Context,
  model: string,
  version: string,
): Promise<{ manifest: Manifest; bytes: Buffer }> {
  const archive = await ctx
    .client()
    .download(
      `/admin/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/release`,
      `reading ${model} ${version} (the live version) from the gateway`,
    );
  const release = openRelease(archive);
  return { manifest: release.manifest, bytes: release.files.get(release.manifest.file)! };
}

async function train(
  ctx: Context,
  o: Options,
  datasetDir: string,
  outDir: string,
  ex: Parameters<typeof trainBuiltin>[0],
  live: Manifest,
): Promise<{ trainer: string; fit?: BuiltinFit; seconds: number }> {
  if (o.trainer === undefined) {
    const fit = trainBuiltin(ex, live, outDir, packageVersion());
    return { trainer: fit.trainer, fit, seconds: fit.seconds };
  }
  ctx.term.write(`running the trainer: ${o.trainer}\n`);
  ctx.deadline.doing = `waiting for the trainer "${o.trainer}"`;
  const run = await runTrainer(o.trainer, datasetDir, outDir, o.trainerTimeoutS, process.stderr, (stop) =>
    ctx.deadline.onExpiry(stop),
  ).catch((e: unknown) => {
    throw e instanceof TrainerError ? failure(RETRAIN_EXIT.trainerFailed, e) : e;
  });
  return { trainer: run.trainer, seconds: run.seconds };
}

export async function retrain(ctx: Context, args: readonly string[]): Promise<void> {
  const o = options(ctx, args);
  const client = ctx.client();
  const models = await client.request<Parameters<typeof liveAndNext>[0]>('GET', '/admin/models');
  const versions = liveAndNext(models, o.model);
  if (!versions) throw new CliFailure(1, `the gateway has no model "${o.model}"`);
  const live = await liveVersion(ctx, o.model, versions.live);
  const { dir: datasetDir, kept } = await datasetFolder(ctx, o);
  ctx.deadline.doing = `reading the dataset ${datasetDir}`;
  let dataset, ex;
  try {
    modelFeatures(live.manifest);
    dataset = readDataset(datasetDir);
    ex = examples(dataset, live.manifest);
  } catch (e) {
    throw e instanceof DatasetError ? failure(RETRAIN_EXIT.datasetUnusable, e) : e;
  }
  if (dataset.manifest.route !== o.route)
    throw new CliFailure(
      RETRAIN_EXIT.datasetUnusable,
      `the dataset ${datasetDir} is of route "${dataset.manifest.route}", not "${o.route}"`,
    );
  const work = mkdtempSync(join(tmpdir(), 'croupier-retrain-'));
  try {
    const outDir = join(work, 'output');
    mkdirSync(outDir);
    ctx.term.write(`training on ${ex.train.length} rows (${ex.holdout.length} held out, ${ex.skipped} skipped)\n`);
    const trained = await train(ctx, o, datasetDir, outDir, ex, live.manifest);
    ctx.deadline.doing = 'validating the candidate against the live version';
    let candidate;
    try {
      candidate = readCandidate(outDir, live.manifest);
    } catch (e) {
      throw e instanceof TrainerError ? failure(RETRAIN_EXIT.trainerFailed, e) : e;
    }
    let validation: Validation, trainScores: Float64Array;
    try {
      validation = await validate(ex, { bytes: candidate.bytes, manifest: live.manifest }, live, o.tolerance);
      trainScores = await scoreExamples(candidate.bytes, live.manifest, ex, ex.train);
    } catch (e) {
      throw new CliFailure(
        RETRAIN_EXIT.trainerFailed,
        `the candidate cannot score the holdout rows: ${(e as Error).message}`,
      );
    }
    const manifest = candidateManifest(
      live.manifest,
      candidate.bytes,
      candidate.partial,
      dataset,
      ex,
      trainScores,
      validation,
      {
        version: versions.next,
        trainer: trained.trainer,
        croupierVersion: packageVersion(),
        ...(trained.fit
          ? {
              fit: {
                iterations: trained.fit.iterations,
                converged: trained.fit.converged,
                lambda: trained.fit.lambda,
                tolerance: trained.fit.tolerance,
                seconds: Number(trained.fit.seconds.toFixed(3)),
              },
            }
          : {}),
      },
    );
    const registering = validation.passed || o.force;
    const summary: Record<string, unknown> = {
      model: o.model,
      route: o.route,
      version: versions.next,
      live: versions.live,
      registered: false,
      trainer: trained.trainer,
      trainSeconds: Number(trained.seconds.toFixed(3)),
      ...(trained.fit ? { fit: (manifest.source as { fit: unknown }).fit } : {}),
      rows: (manifest.source as { rows: unknown }).rows,
      dataset: { sha256: dataset.manifest.sha256, ...(kept ? { dir: datasetDir } : {}) },
      validation,
    };
    if (!ctx.out.json) ctx.out.print(validationTable(validation, `candidate (${versions.next})`));
    if (!registering) {
      if (ctx.out.json) ctx.out.print(JSON.stringify(summary, null, 2) + '\n');
      const diff = validation.aucDifference === null ? 'AUC undefined' : `AUC ${validation.aucDifference.toFixed(4)}`;
      throw new CliFailure(
        RETRAIN_EXIT.worseThanLive,
        `not registered: the candidate is worse than live ${versions.live} (${diff}, tolerance ${o.tolerance}); --force registers it anyway`,
      );
    }
    const dir = writeVersionFolder(join(work, 'release'), o.model, versions.next, candidate.bytes, manifest);
    const release = packRelease(dir);
    const pushed = await uploadRelease(
      ctx,
      release.archive,
      release,
      `${o.model}-${versions.next}.tgz`,
      `${o.model} ${versions.next}`,
    );
    summary.registered = true;
    summary.sha256 = pushed.sha256;
    if (o.challenger !== undefined) {
      const routes = await client.request<{ routes: Record<string, RouteSpecJson> }>('GET', '/admin/routes');
      const spec = routes.routes[o.route];
      if (!spec)
        throw new CliFailure(
          1,
          `registered ${o.model} ${versions.next}, but the gateway has no route "${o.route}" to put it on`,
        );
      const next = withChallenger(spec, o.challenger, o.model, versions.next);
      await client.request('PUT', `/admin/routes/${encodeURIComponent(o.route)}`, { json: next });
      summary.challenger = { route: o.route, arm: o.challenger, arms: next.arms };
    }
    if (ctx.out.json) return ctx.out.print(JSON.stringify(summary, null, 2) + '\n');
    ctx.out.print(
      `registered ${o.model} ${versions.next} (sha256 ${pushed.sha256.slice(0, 12)})${validation.passed ? '' : ' with --force, although worse than live'}; live is still ${pushed.live}\n`
        + (o.challenger !== undefined
          ? `route ${o.route}: arm ${o.challenger} now serves ${o.model} ${versions.next}\n`
          : '')
        + `put it live with: croupier deploy ${o.model} ${versions.next}\n`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
