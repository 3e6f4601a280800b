/** `croupier status | deploy | rollback | routes`: what is served, and changing it. */
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { MAY_STILL_FINISH, showingWait, table, type Context, type Output } from './command.js';

interface ModelsAnswer {
  models: {
    name: string;
    live: string;
    history: string[];
    versions: {
      version: string;
      sha256: string;
      created: string;
      live: boolean;
      runs?: 'inline' | 'workers';
      workers: { loaded: number; of: number };
      replicas?: { replica: string; loaded: number; of: number }[];
    }[];
    /** Redis mode: the version each live replica serves. */
    replicas?: { replica: string; live: string | null }[];
  }[];
  refused: { model: string; version: string; reason: string }[];
}

interface SwapAnswer {
  model: string;
  live: string;
  previous: string;
  changed: boolean;
  sha256: string;
  history: string[];
  /** A watched deploy: until when. */
  watch?: { until: string };
}

type RouteAnswer = {
  policy: string;
  context?: string[];
  arms: { name: string; model: string; version: string; weight?: number; shadow?: number }[];
};

/** An arm as `croupier routes` lists it: its weight, or its shadow share (a shadow arm serves no one). */
const armCell = (a: RouteAnswer['arms'][number]): string =>
  `${a.name}=${a.model}@${a.version}${a.shadow !== undefined ? `(shadow ${a.shadow})` : a.weight !== undefined ? `(${a.weight})` : ''}`;

export async function status(ctx: Context, args: readonly string[]): Promise<void> {
  if (args.length) throw new UsageError('usage: croupier status');
  const { out } = ctx;
  const answer = await ctx.client().request<ModelsAnswer>('GET', '/admin/models');
  if (out.json) return out.print(JSON.stringify(answer, null, 2) + '\n');
  // Redis mode adds a column: on how many live replicas every worker has the version loaded.
  const shared = answer.models.some((m) => m.replicas);
  const rows = [['MODEL', 'VERSION', 'LIVE', 'WORKERS', ...(shared ? ['REPLICAS'] : []), 'SHA256', 'CREATED']];
  for (const m of answer.models) {
    for (const v of m.versions) {
      const replicas = v.replicas
        ? [`${v.replicas.filter((r) => r.of > 0 && r.loaded === r.of).length}/${v.replicas.length}`]
        : shared
          ? ['-']
          : [];
      rows.push([
        m.name,
        v.version,
        v.live ? 'live' : '',
        v.runs === 'inline' ? 'inline' : `${v.workers.loaded}/${v.workers.of}`,
        ...replicas,
        v.sha256.slice(0, 12),
        v.created,
      ]);
    }
  }
  let text = table(rows);
  for (const m of answer.models)
    if (m.history.length)
      text += `${m.name}: rollback would return to ${m.history.at(-1)} (history ${m.history.join(' -> ')})\n`;
  for (const m of answer.models) {
    for (const r of m.replicas ?? [])
      if (r.live !== m.live) text += `${m.name}: replica ${r.replica} serves ${r.live ?? 'nothing'}, not ${m.live}\n`;
  }
  for (const r of answer.refused) text += `refused: ${r.model}/${r.version}: ${r.reason}\n`;
  out.print(text);
}

function printSwap(out: Output, answer: SwapAnswer, verb: string): void {
  if (out.json) return out.print(JSON.stringify(answer, null, 2) + '\n');
  if (!answer.changed) return out.print(`${answer.model}: version ${answer.live} is already live; nothing changed\n`);
  out.print(`${answer.model}: ${verb} ${answer.previous} -> ${answer.live} (sha256 ${answer.sha256.slice(0, 12)})\n`);
}

/** A deploy's `watch` from the --watch-* flags (the gateway validates it; a bad one is its 400). */
function watchOf(ctx: Context): Record<string, unknown> | undefined {
  const v = ctx.line.values;
  const minutes = v.get('watch-minutes');
  const checks = v.get('watch-checks');
  const minSamples = v.get('watch-min-samples');
  if (minutes === undefined) {
    if (checks !== undefined || minSamples !== undefined)
      throw new UsageError('--watch-checks and --watch-min-samples need --watch-minutes');
    return undefined;
  }
  const whole = (flag: string, s: string | true): number => {
    if (typeof s !== 'string' || !/^\d{1,9}$/.test(s)) throw new UsageError(`${flag} must be a whole number`);
    return Number(s);
  };
  return {
    minutes: whole('--watch-minutes', minutes),
    ...(typeof checks === 'string' ? { checks: checks.split(',').map((c) => c.trim()) } : {}),
    ...(minSamples !== undefined ? { minSamples: whole('--watch-min-samples', minSamples) } : {}),
  };
}

export async function deploy(ctx: Context, args: readonly string[]): Promise<void> {
  const [model, version] = args;
  if (!model || !version || args.length > 2) throw new UsageError('usage: croupier deploy <model> <version>');
  const watch = watchOf(ctx);
  const answer = ctx
    .client()
    .request<SwapAnswer>(
      'POST',
      `/admin/models/${encodeURIComponent(model)}/deploy`,
      { json: watch ? { version, watch } : { version } },
      `waiting for the gateway to load and warm ${model} ${version} in every worker and put it live${MAY_STILL_FINISH}`,
    );
  const swapped = await showingWait(ctx, `loading and warming ${model} ${version} in every worker`, answer);
  printSwap(ctx.out, swapped, 'deployed');
  if (!ctx.out.json && swapped.watch)
    ctx.out.print(`${model}: watched until ${swapped.watch.until}; rolled back by itself if it does worse\n`);
}

export async function rollback(ctx: Context, args: readonly string[]): Promise<void> {
  const [model] = args;
  if (!model || args.length > 1) throw new UsageError('usage: croupier rollback <model>');
  const answer = ctx
    .client()
    .request<SwapAnswer>(
      'POST',
      `/admin/models/${encodeURIComponent(model)}/rollback`,
      undefined,
      `waiting for the gateway to load and warm the earlier version of ${model} and put it live${MAY_STILL_FINISH}`,
    );
  printSwap(
    ctx.out,
    await showingWait(ctx, `loading and warming the earlier version of ${model} in every worker`, answer),
    'rolled back',
  );
}

/** `croupier routes` lists; `routes set <name> <file.json|->` replaces one; `routes reset <name>` forgets its statistics. */
export async function routes(ctx: Context, args: readonly string[]): Promise<void> {
  const { out } = ctx;
  const client = ctx.client();
  const [sub, name, file, ...extra] = args;
  if (extra.length) throw new UsageError('usage: croupier routes [set <route> <file> | reset <route>]');
  if (sub === 'set') {
    if (!name || !file) throw new UsageError('usage: croupier routes set <route> <route.json | ->');
    let spec: unknown;
    try {
      spec = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8'));
    } catch (e) {
      throw new UsageError(`cannot read a JSON route from ${file}: ${(e as Error).message}`);
    }
    const answer = await client.request<unknown>('PUT', `/admin/routes/${encodeURIComponent(name)}`, { json: spec });
    return out.print(out.json ? JSON.stringify(answer, null, 2) + '\n' : `route ${name} replaced\n`);
  }
  if (sub === 'reset') {
    if (!name || file !== undefined) throw new UsageError('usage: croupier routes reset <route>');
    const answer = await client.request<unknown>('POST', `/admin/routes/${encodeURIComponent(name)}/reset`);
    return out.print(out.json ? JSON.stringify(answer, null, 2) + '\n' : `route ${name}: statistics reset\n`);
  }
  if (sub !== undefined) throw new UsageError('usage: croupier routes [set <route> <file> | reset <route>]');
  const answer = await client.request<{ routes: Record<string, RouteAnswer> }>('GET', '/admin/routes');
  if (out.json) return out.print(JSON.stringify(answer, null, 2) + '\n');
  const rows = [['ROUTE', 'POLICY', 'ARMS']];
  for (const [routeName, r] of Object.entries(answer.routes)) {
    // A contextual policy names the features it chooses on.
    rows.push([routeName, r.context ? `${r.policy}(${r.context.join(',')})` : r.policy, r.arms.map(armCell).join(' ')]);
  }
  out.print(table(rows));
}
