/**
 * `croupier ope ROUTE [--since 7d] [--policy P]… [--estimator E]… [--json]`: asks the gateway what
 * fixed policies would have earned on the route's logged decisions (POST /admin/routes/{route}/ope)
 * and prints a table — per policy and estimator the value, its 95% interval and the effective
 * sample size — or the gateway's JSON. Policies: uniform, current, arm:NAME, mix:a=0.7,b=0.3.
 */
import { UsageError } from './args.js';
import { table, type Context } from './command.js';

const USAGE =
  'usage: croupier ope ROUTE [--since 7d] [--policy uniform|current|arm:NAME|mix:A=0.7,B=0.3]… [--estimator ips|snips|dr]…';

interface EstimateJson {
  value: number | null;
  ci95: [number, number] | null;
  n: number;
  effectiveSampleSize: number;
}

interface OpeAnswer {
  route: string;
  n: number;
  logged: { observedMean: number | null; n: number };
  policies: { name: string; estimates?: Record<string, EstimateJson>; notEvaluable?: string }[];
  withoutContext?: number;
  rowLimitReached?: true;
}

/** One --policy as the endpoint takes it. */
export function policyOf(text: string): Record<string, unknown> {
  if (!text.startsWith('mix:')) return { name: text };
  const weights: Record<string, number> = {};
  for (const part of text.slice(4).split(',')) {
    const m = /^([^=]+)=(.+)$/.exec(part.trim());
    const w = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(w))
      throw new UsageError(`--policy ${text}: a mix is mix:ARM=WEIGHT,ARM=WEIGHT (e.g. mix:a=0.7,b=0.3)`);
    weights[m[1]!] = w;
  }
  return { name: 'mix', weights };
}

const num = (v: number | null): string => (v === null ? '-' : v.toFixed(4));

/** The answer as a person reads it: a line about the log, then a row per policy and estimator. */
export function opeReport(answer: OpeAnswer, labels: readonly string[], since: string): string {
  const mean = answer.logged.observedMean === null ? '' : `, observed mean reward ${num(answer.logged.observedMean)}`;
  let text = `route ${answer.route}: ${answer.n} logged outcomes since ${since}${mean}\n`;
  if (answer.withoutContext) text += `(${answer.withoutContext} outcomes logged without a context were left out)\n`;
  if (answer.rowLimitReached) text += '(the row limit was reached: only the oldest outcomes were evaluated)\n';
  const rows = [['POLICY', 'ESTIMATOR', 'VALUE', '95% CI', 'ESS']];
  const notes: string[] = [];
  answer.policies.forEach((p, i) => {
    const label = labels[i] ?? p.name;
    if (p.notEvaluable !== undefined) {
      notes.push(`${label}: not evaluable: ${p.notEvaluable}`);
      return;
    }
    for (const [name, e] of Object.entries(p.estimates ?? {})) {
      const ci = e.ci95 === null ? '-' : `[${num(e.ci95[0])}, ${num(e.ci95[1])}]`;
      rows.push([label, name, num(e.value), ci, e.effectiveSampleSize.toFixed(1)]);
    }
  });
  if (rows.length > 1) text += table(rows);
  for (const n of notes) text += `${n}\n`;
  return text;
}

export async function opeCommand(ctx: Context, args: readonly string[]): Promise<void> {
  const [route] = args;
  if (args.length !== 1 || !route) throw new UsageError(USAGE);
  const since = ctx.line.values.get('since');
  if (since === true) throw new UsageError('--since needs a value');
  const labels = ctx.line.lists.get('policy') ?? ['uniform', 'current'];
  const estimators = (ctx.line.lists.get('estimator') ?? []).flatMap((e) => e.split(',').map((s) => s.trim()));
  const body = {
    policies: labels.map(policyOf),
    since: since ?? '7d',
    ...(estimators.length > 0 ? { estimators } : {}),
  };
  const answer = await ctx
    .client()
    .request<OpeAnswer>('POST', `/admin/routes/${encodeURIComponent(route)}/ope`, { json: body });
  if (ctx.out.json) return ctx.out.print(`${JSON.stringify(answer, null, 2)}\n`);
  ctx.out.print(opeReport(answer, labels, body.since));
}
