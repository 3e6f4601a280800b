/** Routes at run time: pick an arm by its policy, then resolve the version behind it. */
import type { ModelVersion } from '../registry/repository.js';
import type { Registry } from '../registry/registry.js';
import { FixedPolicy } from './fixed.js';
import type { Policy } from './policy.js';
import type { ArmSpec, RouteSpec } from './route-spec.js';

export interface Arm extends ArmSpec {
  readonly index: number;
}

export class Route {
  readonly name: string;
  readonly spec: RouteSpec;
  readonly arms: readonly Arm[];
  readonly policy: Policy;

  constructor(name: string, spec: RouteSpec, policy: Policy) {
    this.name = name;
    this.spec = spec;
    this.arms = spec.arms.map((a, index) => ({ ...a, index }));
    this.policy = policy;
  }
}

export interface Pick {
  readonly route: Route;
  readonly arm: Arm;
  readonly version: ModelVersion;
  readonly propensity: number;
}

export function createPolicy(name: string, spec: RouteSpec): Policy {
  switch (spec.policy) {
    case 'fixed':
      return new FixedPolicy(name, spec);
    default:
      throw new Error(`policy "${spec.policy}" is not available`);
  }
}

export class Router {
  readonly routes = new Map<string, Route>();
  private readonly registry: Registry;

  constructor(registry: Registry, specs: ReadonlyMap<string, RouteSpec>) {
    this.registry = registry;
    for (const [name, spec] of specs) this.set(name, spec);
  }

  set(name: string, spec: RouteSpec): Route {
    const route = new Route(name, spec, createPolicy(name, spec));
    this.routes.set(name, route);
    return route;
  }

  get(name: string): Route | undefined {
    return this.routes.get(name);
  }

  /** Chooses an arm and resolves its version now: that version is the one that serves. */
  pick(route: Route, unit: string | undefined): Pick {
    const index = route.policy.choose(unit);
    const arm = route.arms[index]!;
    const version = this.registry.resolve(arm.model, arm.version);
    if (!version) throw new Error(`route ${route.name}: arm ${arm.name} names ${arm.model}@${arm.version}, which is not served`);
    return { route, arm, version, propensity: route.policy.weights[index]! };
  }
}
