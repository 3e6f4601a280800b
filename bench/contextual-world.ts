/**
 * A seeded synthetic world for contextual routing (issue 19), in which the best arm depends on the
 * request: four arms, three context features of the demo fraud model (card_present,
 * is_international: independent fair coins; amount: uniform in [0, 1), thousands), each arm best
 * in one (card_present, is_international) segment. Every arm's expected reward is linear in the
 * context, so a linear contextual policy can represent the best choice exactly:
 *
 *   μ_k(x) = a_k + b_k·card_present + c_k·is_international + β_k·(amount − 0.5)
 *
 * The arm best in its segment earns 0.65 there, the two neighbours 0.50 and the opposite one 0.35;
 * amount tilts each arm by ±0.05 at most without ever changing which arm is best. So every
 * context-free arm (and therefore every context-free policy) earns 0.50, while choosing on the
 * context earns 0.65: `exactValues()` computes both by integration rather than trusting this text.
 * Rewards are Bernoulli(μ). A library for bench/contextual.ts and the HTTP test.
 */
import { seededRng, type Rng } from '../src/routing/sampling.js';

/** The context features the world decides on, in the order routes name them. */
export const WORLD_CONTEXT = ['card_present', 'is_international', 'amount'] as const;
export const ARM_NAMES = ['a0', 'a1', 'a2', 'a3'] as const;

/** Per arm: [a, b (card_present), c (is_international), β (amount − 0.5)]. */
const COEF: readonly (readonly [number, number, number, number])[] = [
  [0.65, -0.15, -0.15, 0.1], // best when neither
  [0.5, 0.15, -0.15, -0.1], // best card-present, domestic
  [0.5, -0.15, 0.15, 0.1], // best card-not-present, international
  [0.35, 0.15, 0.15, -0.1], // best card-present, international
];

/** The demo fraud model's 32 feature names (manifest order); the world sets three, the rest are fixed. */
export const FRAUD_FEATURES = [
  'amount',
  'account_age_days',
  'txn_count_24h',
  'avg_amount_30d',
  'distinct_merchants_7d',
  'card_present',
  'is_international',
  'hour_of_day',
  'day_of_week',
  'merchant_risk_score',
  'device_age_days',
  'is_new_device',
  'ip_distance_km',
  'failed_logins_24h',
  'txn_count_1h',
  'amount_to_avg_ratio',
  'days_since_last_txn',
  'chargebacks_90d',
  'email_domain_risk',
  'billing_shipping_match',
  'cvv_match',
  'avs_match',
  'card_age_days',
  'cards_on_account',
  'is_high_risk_mcc',
  'amount_sum_24h',
  'distinct_countries_30d',
  'is_prepaid_card',
  'customer_age_years',
  'session_duration_sec',
  'password_reset_7d',
  'is_vpn_or_proxy',
] as const;

export interface WorldContext {
  readonly cardPresent: number;
  readonly international: number;
  readonly amount: number;
}

/** Expected reward of arm `k` in context `x`. */
export function meanReward(k: number, x: WorldContext): number {
  const [a, b, c, beta] = COEF[k]!;
  return a + b * x.cardPresent + c * x.international + beta * (x.amount - 0.5);
}

/** The best arm's expected reward in context `x`. */
export function bestReward(x: WorldContext): number {
  let best = -Infinity;
  for (let k = 0; k < COEF.length; k++) best = Math.max(best, meanReward(k, x));
  return best;
}

/**
 * The two numbers the world is designed for, computed by integration (4 segments × a midpoint
 * rule over amount; μ is linear in amount, so the rule is exact up to rounding): the best
 * context-free arm's value max_k E[μ_k] and the best contextual policy's E[max_k μ_k].
 */
export function exactValues(steps = 10_000): {
  contextFree: number;
  contextual: number;
  perArm: number[];
  /** E[Σ_k (max μ − μ_k)]: a floor f on every arm costs f times this per request. */
  gapSum: number;
} {
  const perArm = COEF.map(() => 0);
  let contextual = 0;
  let gapSum = 0;
  for (const cardPresent of [0, 1])
    for (const international of [0, 1])
      for (let i = 0; i < steps; i++) {
        const x = { cardPresent, international, amount: (i + 0.5) / steps };
        const w = 0.25 / steps;
        const best = bestReward(x);
        for (let k = 0; k < COEF.length; k++) {
          perArm[k]! += w * meanReward(k, x);
          gapSum += w * (best - meanReward(k, x));
        }
        contextual += w * best;
      }
  return { contextFree: Math.max(...perArm), contextual, perArm, gapSum };
}

/** The seeded stream of contexts and Bernoulli rewards; the server's own arm draws are not seeded. */
export class ContextualWorld {
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = seededRng(seed);
  }

  next(): WorldContext {
    return {
      cardPresent: this.rng() < 0.5 ? 1 : 0,
      international: this.rng() < 0.5 ? 1 : 0,
      amount: this.rng(),
    };
  }

  /** A Bernoulli reward for arm `k` in `x`. */
  reward(k: number, x: WorldContext): number {
    return this.rng() < meanReward(k, x) ? 1 : 0;
  }
}

const BASE = FRAUD_FEATURES.map((_, i) => ((i * 7 + 13) % 10) / 10);

/** A predict body with all 32 named features, the world's three set from `x`. */
export function predictBody(x: WorldContext): string {
  const features: Record<string, number> = {};
  FRAUD_FEATURES.forEach((name, i) => {
    features[name] = BASE[i]!;
  });
  features.card_present = x.cardPresent;
  features.is_international = x.international;
  features.amount = x.amount;
  return JSON.stringify({ features });
}

/** The named context the OPE policies are evaluated on (what a contextual decision keeps). */
export function namedContext(x: WorldContext): Record<string, number> {
  return { card_present: x.cardPresent, is_international: x.international, amount: x.amount };
}

/** Contextual route settings per policy name; `thompson` and `uniform` (fixed, equal) ignore the context. */
export const WORLD_POLICIES: Record<string, Record<string, unknown>> = {
  uniform: { policy: 'fixed' },
  thompson: { policy: 'thompson' },
  linucb: { policy: 'linucb', context: [...WORLD_CONTEXT] },
  'linear-thompson': { policy: 'linear-thompson', context: [...WORLD_CONTEXT] },
};

/** A routes file: one route per policy (named after it, prefixed), all on the world's four arms. */
export function worldRoutes(policies: readonly string[], prefix = 'world-'): { routes: Record<string, unknown> } {
  const arms = ARM_NAMES.map((name, i) => ({ name, model: 'fraud', version: String(1 + (i % 2)) }));
  const routes: Record<string, unknown> = {};
  for (const p of policies) {
    const spec = WORLD_POLICIES[p];
    if (!spec) throw new Error(`no world route for policy ${p}`);
    routes[`${prefix}${p}`] = { reward: 'bernoulli', ...spec, arms };
  }
  return { routes };
}
