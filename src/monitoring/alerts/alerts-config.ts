/**
 * The alerts file (CROUPIER_ALERTS, JSON or YAML): channels, rules, events, the daily report.
 * Validated once at start like the routes file; every refusal is one line naming the rule or
 * channel and the field. Channel URLs come only from here, never from an API call.
 */
import { WINDOW_NAMES, type WindowName } from '../minute-window.js';

export interface WebhookChannel {
  readonly type: 'webhook';
  readonly url: string;
  readonly format: 'json' | 'slack';
}
export interface EmailChannel {
  readonly type: 'email';
  /** smtp:// or smtps:// URL (nodemailer's transport URL). */
  readonly smtp: string;
  readonly from: string;
  readonly to: readonly string[];
}
export type ChannelSpec = WebhookChannel | EmailChannel;

export const LABEL_METRICS = [
  'precision',
  'recall',
  'fpr',
  'predictedPositiveRate',
  'observedPositiveRate',
  'logLoss',
  'brier',
  'auc',
] as const;
export type LabelMetricName = (typeof LABEL_METRICS)[number];

interface RuleBase {
  readonly name: string;
  readonly window: WindowName;
  /** Where it notifies: its own `channels`, else the file's `defaultChannels`. */
  readonly channels: readonly string[];
}
export interface DriftRule extends RuleBase {
  readonly when: 'drift';
  readonly model: string;
  readonly threshold: number;
  readonly minRows: number;
}
export interface RewardDropRule extends RuleBase {
  readonly when: 'reward_drop';
  readonly route: string;
  readonly drop: number;
}
export interface LabelMetricRule extends RuleBase {
  readonly when: 'label_metric';
  readonly route: string;
  readonly metric: LabelMetricName;
  readonly below: number | undefined;
  readonly above: number | undefined;
  readonly minLabels: number;
}
export interface SrmRule extends RuleBase {
  readonly when: 'srm';
  readonly route: string;
}
export interface ErrorRateRule extends RuleBase {
  readonly when: 'error_rate';
  readonly route: string;
  readonly above: number;
}
export type Rule = DriftRule | RewardDropRule | LabelMetricRule | SrmRule | ErrorRateRule;

export interface DailyReportSpec {
  /** Hours and minutes of the day, in `timezone`. */
  readonly hour: number;
  readonly minute: number;
  /** An IANA zone; UTC unless given. */
  readonly timezone: string;
  readonly channels: readonly string[];
}

export interface AlertsConfig {
  readonly channels: ReadonlyMap<string, ChannelSpec>;
  readonly rules: readonly Rule[];
  readonly events: readonly string[];
  readonly dailyReport: DailyReportSpec | undefined;
}

/** What the file may name: models in the repository, routes configured at start. */
export interface KnownNames {
  hasModel(model: string): boolean;
  hasRoute(route: string): boolean;
}

export class AlertsConfigError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOP_KEYS = new Set(['channels', 'rules', 'events', 'dailyReport', 'defaultChannels']);
const RULE_KEYS: Record<Rule['when'], readonly string[]> = {
  drift: ['model', 'threshold', 'minRows'],
  reward_drop: ['route', 'drop'],
  label_metric: ['route', 'metric', 'below', 'above', 'minLabels'],
  srm: ['route'],
  error_rate: ['route', 'above'],
};
const COMMON_RULE_KEYS = ['name', 'when', 'window', 'channels'];

const fail = (where: string, message: string): never => {
  throw new AlertsConfigError(`${where}: ${message}`);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function onlyKeys(where: string, o: Record<string, unknown>, allowed: Iterable<string>): void {
  const set = new Set(allowed);
  for (const k of Object.keys(o)) if (!set.has(k)) fail(where, `unknown field "${k.slice(0, 64)}"`);
}

function text(where: string, o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '' || v.length > 2048) fail(`${where}.${key}`, 'must be a non-empty string');
  return v as string;
}

function number(where: string, o: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    fail(`${where}.${key}`, `must be a number from ${min} to ${max}`);
  return v as number;
}

function optionalNumber(
  where: string,
  o: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
  fallback: number,
): number {
  return o[key] === undefined ? fallback : number(where, o, key, min, max);
}

function channelNames(where: string, v: unknown, channels: ReadonlyMap<string, ChannelSpec>): string[] {
  if (!Array.isArray(v) || v.length > 64) return fail(where, 'must be a list of channel names');
  for (const name of v) {
    if (typeof name !== 'string') fail(where, 'must be a list of channel names');
    if (!channels.has(name as string)) fail(where, `no channel named "${String(name).slice(0, 64)}"`);
  }
  return [...new Set(v as string[])];
}

function parseUrl(where: string, raw: string, protocols: readonly string[]): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail(where, 'is not a URL');
  }
  if (!protocols.includes(url.protocol))
    fail(where, `must be a ${protocols.map((p) => p.slice(0, -1)).join(' or ')} URL`);
}

function parseChannel(name: string, raw: unknown): ChannelSpec {
  const where = `channel "${name}"`;
  if (!NAME.test(name)) fail(where, 'a channel name is letters, digits, ".", "_" or "-" (at most 64)');
  if (!isObject(raw)) return fail(where, 'must be an object');
  if (raw.type === 'webhook') {
    onlyKeys(where, raw, ['type', 'url', 'format']);
    const url = text(where, raw, 'url');
    parseUrl(`${where}.url`, url, ['http:', 'https:']);
    const format = raw.format ?? 'json';
    if (format !== 'json' && format !== 'slack') fail(`${where}.format`, 'must be "json" or "slack"');
    return { type: 'webhook', url, format: format as 'json' | 'slack' };
  }
  if (raw.type === 'email') {
    onlyKeys(where, raw, ['type', 'smtp', 'from', 'to']);
    const smtp = text(where, raw, 'smtp');
    parseUrl(`${where}.smtp`, smtp, ['smtp:', 'smtps:']);
    const from = text(where, raw, 'from');
    const to = raw.to;
    if (
      !Array.isArray(to)
      || to.length === 0
      || to.length > 100
      || !to.every((t) => typeof t === 'string' && t.includes('@'))
    )
      fail(`${where}.to`, 'must be a non-empty list of e-mail addresses');
    return { type: 'email', smtp, from, to: to as string[] };
  }
  return fail(`${where}.type`, 'must be "webhook" or "email"');
}

function parseRule(
  index: number,
  raw: unknown,
  channels: ReadonlyMap<string, ChannelSpec>,
  defaults: readonly string[],
  known: KnownNames,
): Rule {
  if (!isObject(raw)) return fail(`rules[${index}]`, 'must be an object');
  const name = raw.name;
  if (typeof name !== 'string' || !NAME.test(name))
    fail(`rules[${index}].name`, 'must be letters, digits, ".", "_" or "-" (at most 64)');
  const where = `rule "${name}"`;
  const when = raw.when as Rule['when'];
  if (typeof when !== 'string' || !Object.hasOwn(RULE_KEYS, when))
    fail(`${where}.when`, `must be one of ${Object.keys(RULE_KEYS).join(', ')}`);
  onlyKeys(where, raw, [...COMMON_RULE_KEYS, ...RULE_KEYS[when]]);
  const window = raw.window ?? '1h';
  if (!WINDOW_NAMES.includes(window as WindowName))
    fail(`${where}.window`, `must be one of ${WINDOW_NAMES.join(', ')}`);
  const ruleChannels =
    raw.channels === undefined ? defaults : channelNames(`${where}.channels`, raw.channels, channels);
  if (ruleChannels.length === 0) fail(where, 'has no channels (give it "channels" or set "defaultChannels")');
  const base = { name: name as string, window: window as WindowName, channels: ruleChannels };
  const route = (): string => {
    const r = text(where, raw, 'route');
    if (!known.hasRoute(r)) fail(`${where}.route`, `no route named "${r.slice(0, 64)}"`);
    return r;
  };
  switch (when) {
    case 'drift': {
      const model = text(where, raw, 'model');
      if (!known.hasModel(model)) fail(`${where}.model`, `no model named "${model.slice(0, 64)}"`);
      return {
        ...base,
        when,
        model,
        threshold: optionalNumber(where, raw, 'threshold', 0, 1e6, 0.2),
        minRows: optionalNumber(where, raw, 'minRows', 0, 1e12, 100),
      };
    }
    case 'reward_drop':
      return { ...base, when, route: route(), drop: number(where, raw, 'drop', 0, 1e12) };
    case 'label_metric': {
      const r = route();
      const metric = raw.metric as LabelMetricName;
      if (!LABEL_METRICS.includes(metric)) fail(`${where}.metric`, `must be one of ${LABEL_METRICS.join(', ')}`);
      const below = raw.below === undefined ? undefined : number(where, raw, 'below', -1e12, 1e12);
      const above = raw.above === undefined ? undefined : number(where, raw, 'above', -1e12, 1e12);
      if ((below === undefined) === (above === undefined)) fail(where, 'needs exactly one of "below" and "above"');
      return {
        ...base,
        when,
        route: r,
        metric,
        below,
        above,
        minLabels: optionalNumber(where, raw, 'minLabels', 0, 1e12, 1),
      };
    }
    case 'srm':
      return { ...base, when, route: route() };
    case 'error_rate':
      return { ...base, when, route: route(), above: number(where, raw, 'above', 0, 1) };
  }
}

const AT = /^([01]\d|2[0-3]):([0-5]\d)$/;

function parseDailyReport(raw: unknown, channels: ReadonlyMap<string, ChannelSpec>): DailyReportSpec {
  const where = 'dailyReport';
  if (!isObject(raw)) return fail(where, 'must be an object');
  onlyKeys(where, raw, ['at', 'timezone', 'channels']);
  const at = AT.exec(typeof raw.at === 'string' ? raw.at : '');
  if (!at) return fail(`${where}.at`, 'must be a time of day "HH:MM" (24 h)');
  let timezone = 'UTC';
  if (raw.timezone !== undefined) {
    timezone = text(where, raw, 'timezone');
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      fail(`${where}.timezone`, `"${timezone.slice(0, 64)}" is not an IANA time zone`);
    }
  }
  const list = channelNames(`${where}.channels`, raw.channels, channels);
  if (list.length === 0) fail(`${where}.channels`, 'must name at least one channel');
  return { hour: Number(at[1]), minute: Number(at[2]), timezone, channels: list };
}

/** The alerts document, validated against the names the gateway knows. Throws AlertsConfigError. */
export function parseAlertsDocument(raw: unknown, known: KnownNames): AlertsConfig {
  if (!isObject(raw)) return fail('alerts', 'must be an object');
  onlyKeys('alerts', raw, TOP_KEYS);
  const channels = new Map<string, ChannelSpec>();
  if (raw.channels !== undefined) {
    if (!isObject(raw.channels)) fail('channels', 'must be an object of named channels');
    for (const [name, spec] of Object.entries(raw.channels as Record<string, unknown>))
      channels.set(name, parseChannel(name, spec));
  }
  const defaults =
    raw.defaultChannels === undefined ? [] : channelNames('defaultChannels', raw.defaultChannels, channels);
  const rules: Rule[] = [];
  if (raw.rules !== undefined) {
    if (!Array.isArray(raw.rules) || raw.rules.length > 1000) fail('rules', 'must be a list (at most 1000)');
    const names = new Set<string>();
    for (const [i, r] of (raw.rules as unknown[]).entries()) {
      const rule = parseRule(i, r, channels, defaults, known);
      if (names.has(rule.name)) fail(`rule "${rule.name}"`, 'the name appears twice');
      names.add(rule.name);
      rules.push(rule);
    }
  }
  const events = raw.events === undefined ? [] : channelNames('events', raw.events, channels);
  const dailyReport = raw.dailyReport === undefined ? undefined : parseDailyReport(raw.dailyReport, channels);
  return { channels, rules, events, dailyReport };
}
