/**
 * The daily report: the top numbers of every route and model, drift, and the alerts of the day,
 * as text (e-mail, Slack) and as details (the webhook's JSON). Sent at `dailyReport.at` in its time
 * zone (Intl.DateTimeFormat; UTC unless named), once a day across a fleet, or at once by
 * `POST /admin/report`.
 */
import type { AlertState, MonitorReport } from '../report.js';
import type { DailyReportSpec } from './alerts-config.js';
import type { Notice } from './notice.js';

const DAY_MS = 86_400_000;
/** The contract's default: a PSI of 0.2 or more is drift (a rule may set its own threshold). */
const DRIFT_PSI = 0.2;

/** The local date ("YYYY-MM-DD") and minute of the day of `now` in `timezone`. */
export function localTime(now: number, timezone: string): { date: string; minuteOfDay: number } {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(now));
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '00';
  return {
    date: `${get('year')}-${get('month')}-${get('day')}`,
    minuteOfDay: Number(get('hour')) * 60 + Number(get('minute')),
  };
}

/** The local date whose report is due at `now` (its time has come), or undefined before it. */
export function reportDue(spec: DailyReportSpec, now: number): string | undefined {
  const local = localTime(now, spec.timezone);
  return local.minuteOfDay >= spec.hour * 60 + spec.minute ? local.date : undefined;
}

const fmt = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : String(Math.round(x * 10 ** digits) / 10 ** digits);

export function dailyReport(
  report: MonitorReport,
  states: readonly AlertState[],
  now: number,
  timezone: string,
): Notice {
  const lines: string[] = [];
  const routes: Record<string, unknown> = {};
  lines.push('Routes (24h)');
  for (const [name, route] of Object.entries(report.routes)) {
    const srm = route.srm['24h'];
    lines.push(`  ${name}${srm?.srm ? `  SAMPLE-RATIO MISMATCH p=${srm.pValue.toExponential(2)}` : ''}`);
    const arms: Record<string, unknown> = {};
    for (const [armName, arm] of Object.entries(route.arms)) {
      const w = arm.windows['24h'];
      const l = w?.labels;
      const labels = l
        ? `  precision ${fmt(l.precision)} recall ${fmt(l.recall)} auc ${fmt(l.auc)} (${l.n} labels)`
        : '';
      lines.push(
        `    ${armName}${arm.disabled ? ' (disabled)' : ''}  ${arm.model} v${arm.version}  pulls ${w?.pulls ?? 0}  outcomes ${w?.outcomes ?? 0}  mean reward ${fmt(w?.meanReward)}${labels}`,
      );
      arms[armName] = {
        model: arm.model,
        version: arm.version,
        disabled: arm.disabled,
        pulls: w?.pulls ?? 0,
        outcomes: w?.outcomes ?? 0,
        meanReward: w?.meanReward ?? null,
        ...(l ? { labels: { n: l.n, precision: l.precision, recall: l.recall, auc: l.auc } } : {}),
      };
    }
    routes[name] = { srm: srm ?? null, arms };
  }
  lines.push('', 'Drift (24h, largest PSI per version)');
  const models: Record<string, Record<string, unknown>> = {};
  for (const [model, versions] of Object.entries(report.models)) {
    for (const [version, { drift }] of Object.entries(versions)) {
      const w = drift['24h'];
      if (!w) continue;
      let worst: [string, number] | undefined;
      for (const [f, psi] of [...Object.entries(w.features), ['prediction', w.prediction] as const])
        if (psi !== null && Number.isFinite(psi) && (!worst || psi > worst[1])) worst = [f, psi];
      lines.push(
        `  ${model} v${version}: ${worst ? `${fmt(worst[1])} (${worst[0]})${worst[1] >= DRIFT_PSI ? ' DRIFT' : ''}` : 'no rows'}, rows ${w.rows}`,
      );
      models[model] ??= {};
      models[model][version] = {
        rows: w.rows,
        largestPsi: worst ? { feature: worst[0], psi: worst[1] } : null,
      };
    }
  }
  const today = states.filter((s) => s.state === 'firing' || Date.parse(s.since) >= now - DAY_MS);
  lines.push('', 'Alerts of the day');
  if (today.length === 0) lines.push('  none');
  for (const s of today)
    lines.push(`  ${s.state === 'firing' ? 'FIRING  ' : 'resolved'} ${s.rule} since ${s.since}: ${s.summary}`);
  const firing = today.filter((s) => s.state === 'firing').length;
  const date = localTime(now, timezone).date;
  return {
    kind: 'report',
    summary: `Croupier daily report ${date} (${timezone}): ${Object.keys(report.routes).length} routes, ${firing} alerts firing`,
    details: { date, timezone, routes, models, alerts: today },
    at: new Date(now).toISOString(),
    text: lines.join('\n'),
  };
}
