/** The command line of `croupier retrain`, read once: flags checked before anything is sent. */
import { UsageError } from './args.js';
import type { Context } from './command.js';
import { DEFAULT_TOLERANCE_AUC } from '../retrain/validate-metrics.js';

export const DEFAULT_TRAINER_TIMEOUT_S = 3600;

export const USAGE =
  'usage: croupier retrain <model> --route R --dataset DIR [--trainer CMD] [--challenger ARM] [--tolerance 0.005] [--force]';

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

/** The export folder to train on. (Where a later change exports first when --dataset is not given.) */
export async function datasetFolder(ctx: Context, _o: Options): Promise<string> {
  const dir = ctx.line.values.get('dataset');
  if (typeof dir !== 'string')
    throw new UsageError('--dataset DIR is required: an export folder (see croupier retrain --help)');
  return dir;
}
