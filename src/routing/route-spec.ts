/** Routes as declared in the routes file (JSON or YAML) or through the admin API, validated once. */
import { isId } from '../registry/manifest.js';
import { GuardrailSpecError, parseGuardrails, type GuardrailSpec } from '../monitoring/guardrails/guardrail-spec.js';

export const POLICIES = ['fixed', 'epsilon-greedy', 'thompson', 'ucb1', 'linucb', 'linear-thompson'] as const;
export type PolicyName = (typeof POLICIES)[number];
/** The policies whose choice depends on the request's context (routing/contextual/). */
export const CONTEXTUAL_POLICIES: readonly PolicyName[] = ['linucb', 'linear-thompson'];
export type RewardKind = 'bernoulli' | 'gaussian';

export interface ArmSpec {
  readonly name: string;
  readonly model: string;
  /** A version id, or "live". */
  readonly version: string;
  readonly weight?: number;
  /**
   * A shadow arm: the share of the route's requests copied to it, in (0, 1]. It is no part of the
   * policy (no decision, no propensity, never returned); its scores are compared with the served one.
   */
  readonly shadow?: number;
}

export interface RouteSpec {
  readonly policy: PolicyName;
  readonly reward: RewardKind;
  readonly arms: readonly ArmSpec[];
  readonly epsilon: number;
  readonly prior: { readonly alpha: number; readonly beta: number };
  readonly burnIn: number;
  readonly floor: number;
  readonly halfLifeSeconds: number | undefined;
  readonly feedbackWindow: number;
  readonly logFeatures: boolean;
  /** Arms worse than the champion are disabled (monitoring/guardrails/); absent: none. */
  readonly guardrails?: GuardrailSpec;
  /** Contextual policies only: the context's feature names, in vector order (an intercept is added). */
  readonly context?: readonly string[];
  /** `linucb`: width of the confidence bonus (default 1). */
  readonly alpha?: number;
  /** `linear-thompson`: posterior scale (default 0.5). */
  readonly v?: number;
  /** Contextual policies: ridge regularisation (default 1). */
  readonly lambda?: number;
}

/** Whether the route's policy chooses on the request's context. */
export function isContextualSpec(spec: RouteSpec): boolean {
  return spec.context !== undefined;
}

/** Answers whether a model (and version, unless "live") exists. */
export type ModelLookup = (model: string, version: string) => 'ok' | 'no_model' | 'no_version';

const ROUTE_KEYS = new Set([
  'policy',
  'reward',
  'arms',
  'epsilon',
  'prior',
  'burnIn',
  'floor',
  'halfLifeSeconds',
  'feedbackWindow',
  'logFeatures',
  'guardrails',
  'context',
  'alpha',
  'v',
  'lambda',
]);
const ARM_KEYS = new Set(['name', 'model', 'version', 'weight', 'shadow']);

export class RouteSpecError extends Error {}

function num(v: unknown, where: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new RouteSpecError(`${where} must be a number in [${min}, ${max}]`);
  return v;
}

/** An over-long name is named as such, with the limit (names are never cut). */
const tooLong = (s: unknown): string | undefined =>
  typeof s === 'string' && s.length > 64 ? `is longer than 64 characters (${s.length})` : undefined;

export function parseRouteSpec(name: string, raw: unknown, lookup: ModelLookup): RouteSpec {
  const at = `route "${name}"`;
  if (!isId(name)) throw new RouteSpecError(`${at}: a route name is letters, digits, . _ - (at most 64)`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new RouteSpecError(`${at} must be an object`);
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!ROUTE_KEYS.has(key)) throw new RouteSpecError(`${at}: unknown key "${key}"`);
  if (!POLICIES.includes(r.policy as PolicyName))
    throw new RouteSpecError(`${at}: policy must be one of ${POLICIES.join(', ')}`);
  const policy = r.policy as PolicyName;
  const reward = (r.reward ?? 'bernoulli') as RewardKind;
  if (reward !== 'bernoulli' && reward !== 'gaussian')
    throw new RouteSpecError(`${at}: reward must be "bernoulli" or "gaussian"`);
  if (!Array.isArray(r.arms) || r.arms.length === 0 || r.arms.length > 64)
    throw new RouteSpecError(`${at}: arms must list 1 to 64 arms`);
  const names = new Set<string>();
  const arms = r.arms.map((a: unknown, i: number): ArmSpec => {
    const where = `${at} arms[${i}]`;
    if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new RouteSpecError(`${where} must be an object`);
    const arm = a as Record<string, unknown>;
    for (const key of Object.keys(arm))
      if (!ARM_KEYS.has(key)) throw new RouteSpecError(`${where}: unknown key "${key}"`);
    if (!isId(arm.name)) throw new RouteSpecError(`${where}.name ${tooLong(arm.name) ?? 'must be an id'}`);
    if (names.has(arm.name)) throw new RouteSpecError(`${where}: arm name "${arm.name}" appears twice`);
    names.add(arm.name);
    if (!isId(arm.model)) throw new RouteSpecError(`${where}.model ${tooLong(arm.model) ?? 'must be a model name'}`);
    const version =
      arm.version === undefined ? 'live' : typeof arm.version === 'number' ? String(arm.version) : arm.version;
    if (!isId(version))
      throw new RouteSpecError(`${where}.version ${tooLong(version) ?? 'must be a version id or "live"'}`);
    const found = lookup(arm.model, version);
    if (found === 'no_model') throw new RouteSpecError(`${where}: unknown model "${arm.model}"`);
    if (found === 'no_version') throw new RouteSpecError(`${where}: model "${arm.model}" has no version "${version}"`);
    if (arm.weight !== undefined && policy !== 'fixed')
      throw new RouteSpecError(`${where}: weight applies to the fixed policy only`);
    const weight = arm.weight === undefined ? undefined : num(arm.weight, `${where}.weight`, 0, 1e9, 1);
    if (arm.shadow !== undefined) return shadowArm(where, arm, version, weight);
    return weight === undefined
      ? { name: arm.name, model: arm.model, version }
      : { name: arm.name, model: arm.model, version, weight };
  });
  const served = arms.filter((a) => a.shadow === undefined);
  if (served.length === 0)
    throw new RouteSpecError(`${at}: every arm is a shadow; a route needs at least one arm without "shadow" to answer`);
  if (
    policy === 'fixed'
    && served.every((a) => a.weight !== undefined)
    && served.reduce((s, a) => s + a.weight!, 0) <= 0
  ) {
    throw new RouteSpecError(`${at}: the arms' weights add up to 0`);
  }
  let prior = { alpha: 1, beta: 1 };
  if (r.prior !== undefined) {
    const p = r.prior as Record<string, unknown>;
    if (typeof p !== 'object' || p === null) throw new RouteSpecError(`${at}: prior must be {"alpha": a, "beta": b}`);
    prior = {
      alpha: num(p.alpha, `${at} prior.alpha`, 1e-6, 1e9, 1),
      beta: num(p.beta, `${at} prior.beta`, 1e-6, 1e9, 1),
    };
  }
  const halfLife =
    r.halfLifeSeconds === undefined ? undefined : num(r.halfLifeSeconds, `${at}: halfLifeSeconds`, 1e-3, 1e10, 1);
  const floor = num(r.floor, `${at}: floor`, 0, 1, 0.01);
  if (floor * served.length > 1) throw new RouteSpecError(`${at}: floor × arms must not exceed 1`);
  if (r.logFeatures !== undefined && typeof r.logFeatures !== 'boolean')
    throw new RouteSpecError(`${at}: logFeatures must be true or false`);
  const burnIn = num(r.burnIn, `${at}: burnIn`, 0, 1e9, 0);
  if (!Number.isInteger(burnIn)) throw new RouteSpecError(`${at}: burnIn must be a whole number`);
  let guardrails: GuardrailSpec | undefined;
  try {
    if (r.guardrails !== undefined)
      // The champion and the judged arms are served arms: a shadow answers no one.
      guardrails = parseGuardrails(
        r.guardrails,
        served.map((a) => a.name),
        `${at}:`,
      );
  } catch (e) {
    if (e instanceof GuardrailSpecError) throw new RouteSpecError(e.message);
    throw e;
  }
  return {
    ...contextual(at, policy, r),
    policy,
    reward,
    arms,
    epsilon: num(r.epsilon, `${at}: epsilon`, 0, 1, 0.1),
    prior,
    burnIn,
    floor,
    halfLifeSeconds: halfLife,
    feedbackWindow: num(r.feedbackWindow, `${at}: feedbackWindow`, 1, 365 * 86400, 86400),
    logFeatures: r.logFeatures === true,
    ...(guardrails ? { guardrails } : {}),
  };
}

/** The keys of a contextual policy (`context`, `alpha`, `v`, `lambda`), refused on the others. */
function contextual(at: string, policy: PolicyName, r: Record<string, unknown>): Partial<RouteSpec> {
  const only = (key: string, policies: string): never => {
    throw new RouteSpecError(`${at}: ${key} applies to ${policies} only`);
  };
  if (!CONTEXTUAL_POLICIES.includes(policy)) {
    for (const key of ['context', 'alpha', 'v', 'lambda'])
      if (r[key] !== undefined)
        only(key, key === 'alpha' ? 'linucb' : key === 'v' ? 'linear-thompson' : 'linucb and linear-thompson');
    return {};
  }
  if (r.alpha !== undefined && policy !== 'linucb') only('alpha', 'linucb');
  if (r.v !== undefined && policy !== 'linear-thompson') only('v', 'linear-thompson');
  // burnIn 0 is the default a parsed spec carries: a saved route parses again.
  for (const key of ['halfLifeSeconds', 'burnIn'])
    if (r[key] !== undefined && !(key === 'burnIn' && r[key] === 0))
      throw new RouteSpecError(
        `${at}: ${key} does not apply to ${policy} (its arms learn from every outcome, undiscounted)`,
      );
  const names = r.context;
  if (!Array.isArray(names) || names.length === 0 || names.length > 64)
    throw new RouteSpecError(`${at}: ${policy} needs "context": a list of 1 to 64 feature names`);
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    if (typeof name !== 'string' || name.length === 0 || name.length > 128)
      throw new RouteSpecError(`${at}: context[${i}] must be a feature name (1 to 128 characters)`);
    if (seen.has(name)) throw new RouteSpecError(`${at}: context names "${name}" twice`);
    seen.add(name);
  }
  return {
    context: names as string[],
    lambda: num(r.lambda, `${at}: lambda`, 1e-9, 1e9, 1),
    ...(policy === 'linucb'
      ? { alpha: num(r.alpha, `${at}: alpha`, 0, 1e3, 1) }
      : { v: num(r.v, `${at}: v`, 1e-9, 1e3, 0.5) }),
  };
}

/** An arm with `shadow`: a share in (0, 1], and no weight (it is never chosen). */
function shadowArm(where: string, arm: Record<string, unknown>, version: string, weight: number | undefined): ArmSpec {
  const share = arm.shadow;
  if (typeof share !== 'number' || !Number.isFinite(share) || share <= 0 || share > 1)
    throw new RouteSpecError(
      `${where}.shadow must be a number in (0, 1]: the share of the route's requests copied to it`,
    );
  if (weight !== undefined) throw new RouteSpecError(`${where}: a shadow arm takes no weight (it is never chosen)`);
  return { name: arm.name as string, model: arm.model as string, version, shadow: share };
}

/** A whole routes file: `{"routes": {name: route, ...}}`. */
export function parseRoutesDocument(raw: unknown, lookup: ModelLookup): Map<string, RouteSpec> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new RouteSpecError('the routes file must be an object with a "routes" key');
  const doc = raw as Record<string, unknown>;
  const routes = doc.routes;
  if (typeof routes !== 'object' || routes === null || Array.isArray(routes))
    throw new RouteSpecError('"routes" must be an object of route name -> route');
  const out = new Map<string, RouteSpec>();
  for (const [name, spec] of Object.entries(routes as Record<string, unknown>))
    out.set(name, parseRouteSpec(name, spec, lookup));
  return out;
}
