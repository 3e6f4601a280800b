/**
 * The body of POST /admin/routes/{route}/ope, checked against the route it names: which fixed
 * policies to evaluate (`uniform`, `arm:NAME`, `current`, `mix` with weights by arm name), how far
 * back (`since`, the dataset endpoint's syntax) and with which estimators. Every refusal is a 400
 * naming the part of the body at fault; nothing is read before the whole body is understood.
 */
import { CroupierError } from '../../errors.js';
import type { EstimatorName } from './types.js';

/** A policy to evaluate, resolved on the route's served arms (in arm order). */
export type PolicyAsked =
  | { readonly name: string; readonly kind: 'fixed'; readonly weights: readonly number[] }
  | { readonly name: 'current'; readonly kind: 'current' };

export interface OpeRequest {
  readonly policies: readonly PolicyAsked[];
  readonly since: string;
  readonly estimators: readonly EstimatorName[];
}

export const ESTIMATORS: readonly EstimatorName[] = ['ips', 'snips', 'dr'];
/** Policies one call evaluates at most (each costs a pass over the log). */
export const POLICIES_MAX = 32;
const KEYS = new Set(['policies', 'since', 'estimators']);

const bad = (message: string): CroupierError => new CroupierError('invalid_request', message);
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const shown = (x: unknown): string => JSON.stringify(x)?.slice(0, 60) ?? String(x);

/** The request in `body`, for a route whose served arms are `arms` (names, in arm order). */
export function parseOpeRequest(body: unknown, arms: readonly string[]): OpeRequest {
  if (!isObject(body))
    throw bad(
      'the body must be a JSON object: {"policies": [{"name": "uniform"}, …], "since": "7d", "estimators": […]}',
    );
  for (const key of Object.keys(body))
    if (!KEYS.has(key)) throw bad(`unknown key "${key.slice(0, 40)}" (the body takes policies, since, estimators)`);
  const since = body.since ?? '7d';
  if (typeof since !== 'string') throw bad(`since must be a string like "7d", got ${shown(since)}`);
  return { policies: policiesOf(body.policies, arms), since, estimators: estimatorsOf(body.estimators) };
}

function policiesOf(raw: unknown, arms: readonly string[]): PolicyAsked[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw bad(
      'policies must be a non-empty array, e.g. [{"name": "uniform"}, {"name": "arm:NAME"}, {"name": "current"}]',
    );
  if (raw.length > POLICIES_MAX) throw bad(`at most ${POLICIES_MAX} policies per call, got ${raw.length}`);
  return raw.map((p, i) => policyOf(p, i, arms));
}

function policyOf(p: unknown, i: number, arms: readonly string[]): PolicyAsked {
  if (!isObject(p) || typeof p.name !== 'string')
    throw bad(`policies[${i}] must be an object with a "name" (uniform, arm:NAME, current or mix), got ${shown(p)}`);
  const { name } = p;
  for (const key of Object.keys(p))
    if (key !== 'name' && !(key === 'weights' && name === 'mix'))
      throw bad(`policies[${i}] (${name.slice(0, 40)}): unknown key "${key.slice(0, 40)}"`);
  if (name === 'uniform') return { name, kind: 'fixed', weights: arms.map(() => 1 / arms.length) };
  if (name === 'current') return { name, kind: 'current' };
  if (name === 'mix') return { name, kind: 'fixed', weights: mixOf(p.weights, i, arms) };
  if (name.startsWith('arm:')) {
    const arm = name.slice(4);
    const at = arms.indexOf(arm);
    if (at < 0) throw bad(`policies[${i}]: no arm "${arm.slice(0, 64)}" on this route (its arms: ${arms.join(', ')})`);
    return { name, kind: 'fixed', weights: arms.map((_, j) => (j === at ? 1 : 0)) };
  }
  throw bad(`policies[${i}]: unknown policy "${name.slice(0, 64)}" (uniform, arm:NAME, current or mix)`);
}

/** A mix's weights by arm name, made to sum to 1 (arms not named get 0). */
function mixOf(raw: unknown, i: number, arms: readonly string[]): number[] {
  if (!isObject(raw) || Object.keys(raw).length === 0)
    throw bad(`policies[${i}] (mix) needs "weights": an object of arm names to weights, e.g. {"${arms[0]}": 0.7}`);
  const weights = arms.map(() => 0);
  let sum = 0;
  for (const [arm, w] of Object.entries(raw)) {
    const at = arms.indexOf(arm);
    if (at < 0)
      throw bad(`policies[${i}] (mix): no arm "${arm.slice(0, 64)}" on this route (its arms: ${arms.join(', ')})`);
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0)
      throw bad(`policies[${i}] (mix): the weight of "${arm}" must be a finite number ≥ 0, got ${shown(w)}`);
    weights[at] = w;
    sum += w;
  }
  if (!(sum > 0) || !Number.isFinite(sum)) throw bad(`policies[${i}] (mix): the weights must not all be 0`);
  return weights.map((w) => w / sum);
}

function estimatorsOf(raw: unknown): EstimatorName[] {
  if (raw === undefined) return [...ESTIMATORS];
  if (!Array.isArray(raw) || raw.length === 0)
    throw bad('estimators must be a non-empty array of "ips", "snips", "dr"');
  const out: EstimatorName[] = [];
  for (const e of raw) {
    if (!ESTIMATORS.includes(e as EstimatorName)) throw bad(`unknown estimator ${shown(e)} (ips, snips or dr)`);
    if (!out.includes(e as EstimatorName)) out.push(e as EstimatorName);
  }
  return out;
}
