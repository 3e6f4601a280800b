/** Routes at run time: pick an arm by its policy, resolve the version behind it, learn from outcomes. */
import type { ModelVersion } from '../registry/repository.js';
import type { Registry } from '../registry/registry.js';
import { ArmStats } from './arm-stats.js';
import { ContextReader } from './contextual/context.js';
import { isContextual, type ContextualPolicy } from './contextual/contextual-policy.js';
import { createContextualPolicy } from './contextual/create.js';
import { EpsilonGreedyPolicy } from './epsilon-greedy.js';
import { FixedPolicy } from './fixed.js';
import { GuardedPolicy } from './guarded-policy.js';
import type { Policy } from './policy.js';
import type { ArmSpec, RouteSpec } from './route-spec.js';
import type { Rng } from './sampling.js';
import { ThompsonPolicy } from './thompson.js';
import { Ucb1Policy } from './ucb1.js';

export interface Arm extends ArmSpec {
  readonly index: number;
}

/** An arm with `shadow`: copied a share of the requests, never chosen (scoring/shadow.ts). */
export interface ShadowArm extends ArmSpec {
  readonly shadow: number;
}

/** The spec the policy sees: the served arms only (the spec itself when there is no shadow arm). */
export function servedSpec(spec: RouteSpec): RouteSpec {
  return spec.arms.some((a) => a.shadow !== undefined)
    ? { ...spec, arms: spec.arms.filter((a) => a.shadow === undefined) }
    : spec;
}

export class Route {
  readonly name: string;
  /** As declared (shadow arms included): what is saved and shown. */
  readonly spec: RouteSpec;
  /** The served arms, which the policy chooses among. */
  readonly arms: readonly Arm[];
  /** The shadow arms; empty for most routes. */
  readonly shadows: readonly ShadowArm[];
  readonly policy: GuardedPolicy;
  /** What the route has learned, per arm (same order as `arms`). */
  readonly stats: readonly ArmStats[];
  /** Contextual routes (`linucb`, `linear-thompson`): the policy, which chooses on each request's context. */
  readonly contextual: ContextualPolicy | undefined;
  /** Contextual routes: reads a request's (or a kept decision's) context vector. */
  readonly contextReader: ContextReader | undefined;

  constructor(name: string, spec: RouteSpec, policy: Policy, stats: readonly ArmStats[], rng?: Rng) {
    this.name = name;
    this.spec = spec;
    this.contextual = isContextual(policy) ? policy : undefined;
    this.contextReader = spec.context ? new ContextReader(spec.context) : undefined;
    this.arms = servedSpec(spec).arms.map((a, index) => ({ ...a, index }));
    this.shadows = spec.arms.filter((a): a is ShadowArm => a.shadow !== undefined);
    this.policy = new GuardedPolicy(policy, name, spec.policy === 'fixed', rng);
    this.stats = stats;
  }

  /** The index of the arm named `name`, or -1. */
  armIndex(name: string): number {
    for (const arm of this.arms) if (arm.name === name) return arm.index;
    return -1;
  }
}

export interface ArmChoice {
  readonly route: Route;
  readonly arm: Arm;
  readonly version: ModelVersion;
  readonly propensity: number;
  /**
   * Every arm's probability in this decision (`propensity` is the chosen one's): the route's weights
   * in force, or on a contextual route this request's own (a copy: the next request overwrites them).
   */
  readonly weights: Float64Array;
  /** A contextual route's context of this request, which the decision keeps for its outcome. */
  readonly context?: Float64Array | undefined;
}

export interface PolicyOptions {
  /** Uniform random source; seed it for reproducible runs. Default Math.random. */
  readonly rng?: Rng;
  /** Posterior draws per Thompson recompute. */
  readonly draws?: number;
}

export function createPolicy(
  name: string,
  spec: RouteSpec,
  stats: readonly ArmStats[],
  options: PolicyOptions = {},
): Policy {
  const rng = options.rng ?? Math.random;
  switch (spec.policy) {
    case 'fixed':
      return new FixedPolicy(name, spec, rng);
    case 'epsilon-greedy':
      return new EpsilonGreedyPolicy(spec, stats, rng);
    case 'thompson':
      return new ThompsonPolicy(spec, stats, rng, options.draws);
    case 'ucb1':
      return new Ucb1Policy(spec, stats, rng);
    case 'linucb':
    case 'linear-thompson':
      return createContextualPolicy(spec, stats, rng, options.draws);
  }
}

/** Told when learned statistics are thrown away (the state layer journals it; admin audits it). */
export interface RouterObserver {
  /** An arm started serving another version: its statistics restarted from the prior. */
  armRestarted?(route: string, arm: string, from: string, to: string): void;
  /** `Router.reset` forgot a route's statistics. */
  routeReset?(route: string): void;
}

/**
 * Routes whose weights change with time alone (discounting, the end of burn-in) are recomputed this
 * often. The others only after outcomes: a Thompson recompute of unchanged statistics takes about
 * a millisecond to draw the same shares again, which with many routes added up to a steady load.
 */
export const RECOMPUTE_MS = 250;
/**
 * And at most this often after outcomes: a Thompson recompute draws from every arm's posterior
 * thousands of times, and at thousands of outcomes a second, once per event-loop turn was most of
 * the feedback path's CPU.
 */
export const RECOMPUTE_GAP_MS = 10;
/**
 * The most of the event loop's time that recomputes after outcomes may take: the gap after one is
 * at least its own duration divided by this. A two-arm Thompson recompute takes about 1 ms, so
 * every 10 ms it was a tenth of the loop under steady feedback, and with ten busy routes all of it;
 * now weights lag outcomes by 50 ms a route at most (the routes that outcomes touched).
 */
export const RECOMPUTE_SHARE = 0.02;

export class Router {
  readonly routes = new Map<string, Route>();
  readonly observers: RouterObserver[] = [];
  private readonly registry: Registry;
  private readonly options: PolicyOptions;
  private readonly dirty = new Set<Route>();
  /** Arms a guardrail disabled, per route (monitoring/guardrails/): they get propensity 0. */
  private readonly disabledArms = new Map<string, ReadonlySet<string>>();
  private scheduled = false;
  /** When the next recompute after outcomes may start (Date.now() ms). */
  private nextRecomputeMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(registry: Registry, specs: ReadonlyMap<string, RouteSpec>, options: PolicyOptions = {}) {
    this.registry = registry;
    this.options = options;
    for (const [name, spec] of specs) this.set(name, spec);
  }

  /**
   * Adds or replaces a route. Arms whose name, model and version are unchanged keep what they have
   * learned (even across a change of policy); the others start from the prior.
   */
  set(name: string, spec: RouteSpec): Route {
    const old = this.routes.get(name);
    const served = servedSpec(spec);
    const stats = served.arms.map((a) => {
      const i = old
        ? old.arms.findIndex((o) => o.name === a.name && o.model === a.model && o.version === a.version)
        : -1;
      const kept = i >= 0 ? old!.stats[i]! : new ArmStats();
      kept.useContext(served.context?.length);
      return kept;
    });
    const route = new Route(name, spec, createPolicy(name, served, stats, this.options), stats, this.options.rng);
    this.guard(route);
    route.policy.recompute(Date.now());
    this.routes.set(name, route);
    if (old) this.dirty.delete(old);
    return route;
  }

  /**
   * The arms of each route that guardrails disabled (the whole set: routes not named have none).
   * Weights follow at once; the champion is never in it (the guardrails never disable it).
   */
  setDisabled(byRoute: ReadonlyMap<string, ReadonlySet<string>>): void {
    const changed = new Set([...this.disabledArms.keys(), ...byRoute.keys()]);
    this.disabledArms.clear();
    for (const [route, arms] of byRoute) if (arms.size > 0) this.disabledArms.set(route, arms);
    for (const name of changed) {
      const route = this.routes.get(name);
      if (route) this.guard(route);
    }
  }

  /** Whether a guardrail disabled the arm. */
  isDisabled(route: string, arm: string): boolean {
    return this.disabledArms.get(route)?.has(arm) === true;
  }

  private guard(route: Route): void {
    const arms = this.disabledArms.get(route.name);
    route.policy.setDisabled(route.arms.map((a) => arms?.has(a.name) === true));
  }

  /** Removes a route; false when there was none. */
  delete(name: string): boolean {
    const old = this.routes.get(name);
    if (old) this.dirty.delete(old);
    return this.routes.delete(name);
  }

  /** Forgets a route's learned statistics (every arm back to its prior); false for an unknown route. */
  reset(name: string): boolean {
    const route = this.routes.get(name);
    if (!route) return false;
    for (const s of route.stats) s.restart(s.versionKey);
    route.policy.recompute(Date.now());
    for (const o of this.observers) o.routeReset?.(name);
    return true;
  }

  get(name: string): Route | undefined {
    return this.routes.get(name);
  }

  /**
   * Chooses an arm and resolves its version now: that version is the one that serves. A contextual
   * route chooses on `context` (the request's, from `contextOf`), which it then requires.
   */
  pick(route: Route, unit: string | undefined, context?: Float64Array): ArmChoice {
    const contextual = route.contextual;
    let index: number;
    let weights: Float64Array;
    if (contextual) {
      if (!context) throw new Error(`route ${route.name} chooses on a context, and none was given`);
      index = contextual.chooseFor(context);
      weights = contextual.weights.slice();
    } else {
      index = route.policy.choose(unit);
      weights = route.policy.weights;
    }
    const arm = route.arms[index]!;
    const version = this.registry.resolve(arm.model, arm.version);
    if (!version)
      throw new Error(`route ${route.name}: arm ${arm.name} names ${arm.model}@${arm.version}, which is not served`);
    this.pulled(route, index, version.key);
    // One shape for every choice (context undefined on other routes): the sites reading it stay monomorphic.
    return { route, arm, version, propensity: weights[index]!, weights, context };
  }

  /**
   * A contextual route's context of a request's `features` (arrays are read by the feature names of
   * the first arm's model); throws a 400 naming a missing or non-numeric feature. Undefined on
   * other routes.
   */
  contextOf(route: Route, features: unknown): Float64Array | undefined {
    const reader = route.contextReader;
    if (!reader) return undefined;
    // Only an array needs the model's feature names: named features skip the lookup.
    const first = route.arms[0]!;
    return reader.read(
      features,
      Array.isArray(features) ? this.registry.resolve(first.model, first.version) : undefined,
    );
  }

  /** Counts a pull of arm `index` serving `versionKey` (live, and when decisions are replayed). */
  pulled(route: Route, index: number, versionKey: string): void {
    const stats = route.stats[index]!;
    if (stats.versionKey !== versionKey) {
      const from = stats.versionKey;
      stats.restart(versionKey);
      if (from !== undefined) {
        this.touch(route);
        for (const o of this.observers) o.armRestarted?.(route.name, route.arms[index]!.name, from, versionKey);
      }
    }
    stats.pulls++;
  }

  /**
   * Credits an outcome to the arm, if the arm still serves the version that made the decision
   * (statistics belong to an arm and its version). Weights follow on the next turn of the loop.
   */
  credit(
    route: Route,
    index: number,
    versionKey: string,
    reward: number,
    atMs: number,
    context?: ArrayLike<number>,
  ): boolean {
    const stats = route.stats[index];
    if (!stats || stats.versionKey !== versionKey) return false;
    const halfLife = route.spec.halfLifeSeconds;
    stats.credit(reward, atMs, halfLife === undefined ? 0 : halfLife * 1000);
    if (context && stats.linear?.features === context.length) stats.linear.credit(context, reward);
    this.touch(route);
    return true;
  }

  /** Recomputes a route's weights soon (see RECOMPUTE_GAP_MS and RECOMPUTE_SHARE), once however many outcomes arrive meanwhile. */
  touch(route: Route): void {
    this.dirty.add(route);
    if (!this.scheduled) {
      this.scheduled = true;
      const wait = this.nextRecomputeMs - Date.now();
      if (wait <= 0) setImmediate(this.recomputeDirty);
      else setTimeout(this.recomputeDirty, wait).unref();
    }
  }

  readonly recomputeDirty = (): void => {
    this.scheduled = false;
    const started = performance.now();
    const now = Date.now();
    for (const route of this.dirty) route.policy.recompute(now);
    this.dirty.clear();
    this.nextRecomputeMs = now + Math.max(RECOMPUTE_GAP_MS, (performance.now() - started) / RECOMPUTE_SHARE);
  };

  recomputeAll(): void {
    const now = Date.now();
    for (const route of this.routes.values()) route.policy.recompute(now);
  }

  /** One timer for the routes whose weights drift; unref'd so it never keeps the process alive. */
  start(intervalMs = RECOMPUTE_MS): void {
    this.timer ??= setInterval(() => {
      const now = Date.now();
      for (const route of this.routes.values()) if (route.policy.drifts()) route.policy.recompute(now);
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
