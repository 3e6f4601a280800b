/** The command line of `croupier retrain`, read once: flags checked before anything is sent. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './args.js';
import type { Context } from './command.js';
import { exportDataset } from './export-command.js';
import { DEFAULT_TOLERANCE_AUC } from '../retrain/validate-metrics.js';

export const DEFAULT_TRAINER_TIMEOUT_S = 3600;

export const USAGE =
  'usage: croupier retrain <model> --route R [--since 7d] [--dataset DIR | -o DIR] [--trainer CMD] [--challenger ARM] [--tolerance 0.005] [--force]';

export interface Options {
  model: string;
  route: string;
  trainer: string | undefined;
  challenger: string | undefined;
  tolerance: number;
  force: boolean;
  trainerTimeoutS: number;
}

export function options(ctx: Context, args: readonly string[]): Options {
  const v = ctx.line.values;
  const [model, ...extra] = args;
  if (!model || extra.length) throw new UsageError(USAGE);
  const route = v.get('route');
  if (typeof route !== 'string')
    throw new UsageError('--route R is required: the route whose rows train the model (see croupier retrain --help)');
  const raw = v.get('tolerance');
  const tolerance = raw === undefined ? DEFAULT_TOLERANCE_AUC : Number(raw);
  if (typeof raw === 'string' && !(/^\d+(\.\d+)?$/.test(raw) && tolerance <= 1))
    throw new UsageError(`--tolerance takes an AUC difference from 0 to 1, got "${String(raw)}"`);
  const rawTimeout = v.get('trainer-timeout');
  const trainerTimeoutS = rawTimeout === undefined ? DEFAULT_TRAINER_TIMEOUT_S : Number(rawTimeout);
  if (!(trainerTimeoutS > 0))
    throw new UsageError(`--trainer-timeout takes seconds above 0, got "${String(rawTimeout)}"`);
  // --since and -o shape the export retrain makes itself; with --dataset they would be ignored.
  if (v.get('dataset') !== undefined)
    for (const flag of ['since', 'output'] as const)
      if (v.get(flag) !== undefined)
        throw new UsageError(
          `--${flag} is for the export croupier retrain makes without --dataset; --dataset DIR is an export already`,
        );
  const trainer = v.get('trainer');
  const challenger = v.get('challenger');
  return {
    model,
    route,
    trainer: typeof trainer === 'string' ? trainer : undefined,
    challenger: typeof challenger === 'string' ? challenger : undefined,
    tolerance,
    force: v.get('force') === true,
    trainerTimeoutS,
  };
}

/**
 * The export folder to train on: `--dataset DIR` as it is; otherwise the route's rows since
 * `--since` (default 7d) exported first, into `-o DIR` (kept) or a temporary folder removed when
 * the command ends (`kept` false: the folder is gone once the command has printed its answer).
 */
export async function datasetFolder(ctx: Context, o: Options): Promise<{ dir: string; kept: boolean }> {
  const v = ctx.line.values;
  const given = v.get('dataset');
  if (typeof given === 'string') return { dir: given, kept: true };
  const out = v.get('output');
  const dir = typeof out === 'string' ? out : mkdtempSync(join(tmpdir(), 'croupier-retrain-'));
  if (typeof out !== 'string') process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const since = String(v.get('since') ?? '7d');
  await exportDataset(ctx.client(), { route: o.route, since, dir, format: 'arrow' }, ctx.term, ctx.deadline);
  return { dir, kept: typeof out === 'string' };
}
