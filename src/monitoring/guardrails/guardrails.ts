/**
 * Guardrails and watched deploys. Every CROUPIER_ALERT_INTERVAL_MS the replica holding the alert
 * lease (the same Leadership as alert rules) judges, on the shared health windows (health.ts):
 * - each route with `guardrails`: every enabled arm against the champion over the last hour (or
 *   since a person enabled it again); a worse one is disabled in the shared GuardState, audited as
 *   `guardrail`, announced (`guardrail_disable`);
 * - each watched deploy: the new version since the deploy against the one it replaced in the hour
 *   before; a worse one is rolled back (audited as `guardrail`, announced `rollback`); a watch ends
 *   after its minutes, or when the live version changed otherwise.
 * Every replica follows the GuardState about once a second and hands the disabled arms to its
 * router (propensity 0 from its next pick), and to croupier_arm_disabled.
 */
import type { Logger } from '../../log.js';
import type { Registry } from '../../registry/registry.js';
import type { Route, Router } from '../../routing/router.js';
import type { Leadership } from '../../state/alert-state.js';
import { armField, type ArmGuard, type GuardState } from '../../state/guard-state.js';
import { minuteOf, WINDOWS } from '../minute-window.js';
import type { MonitorReport } from '../report.js';
import type { WatchSpec } from './guardrail-spec.js';
import { HEALTH_LENGTH, type Health } from './health.js';
import { judgeWatch, startWatch } from './deploy-watches.js';
import { judge, without } from './verdicts.js';

/** What the gateway does on a guardrail's finding: audited and announced (server.ts wires the admin plane). */
export interface GuardrailActor {
  disabled(route: string, arm: string, reason: string, details: Record<string, unknown>): Promise<void>;
  /** Rolls `model` back from `version` (if still live); false when it was not. */
  rollback(model: string, version: string, reason: string, details: Record<string, unknown>): Promise<boolean>;
}

export interface GuardrailMetrics {
  /** croupier_arm_disabled{route,arm}. */
  armDisabled(route: string, arm: string, disabled: boolean): void;
}

export interface GuardrailsDeps {
  readonly router: Router;
  readonly registry: Registry;
  readonly health: Health;
  readonly state: GuardState;
  readonly leadership: Leadership;
  readonly actor: GuardrailActor;
  readonly metrics?: GuardrailMetrics;
  readonly log: Logger;
  readonly intervalMs: number;
  readonly now?: () => number;
}

const FOLLOW_MS = 1_000;
const HOUR = WINDOWS['1h'];

export class Guardrails {
  private readonly now: () => number;
  private guards = new Map<string, ArmGuard>();
  private shown = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly deps: GuardrailsDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Reads the shared state once (before listening: a disabled arm stays disabled across a restart). */
  async start(): Promise<void> {
    await this.follow().catch((e: unknown) => this.warn('guardrail state not read', e));
    const follow = setInterval(
      () => void this.follow().catch((e: unknown) => this.warn('guardrail state not read', e)),
      Math.min(FOLLOW_MS, this.deps.intervalMs),
    );
    const judge = setInterval(() => void this.evaluate(), this.deps.intervalMs);
    follow.unref();
    judge.unref();
    this.timers = [follow, judge];
  }

  /** Reads the shared state into the router and the metrics. */
  async follow(): Promise<void> {
    const arms = await this.deps.state.arms();
    const guards = new Map<string, ArmGuard>();
    const byRoute = new Map<string, Set<string>>();
    for (const g of arms) {
      guards.set(armField(g.route, g.arm), g);
      if (!g.disabled) continue;
      // The champion is never disabled, even by a record written before a route edit made it one.
      if (this.deps.router.get(g.route)?.spec.guardrails?.champion === g.arm) continue;
      let set = byRoute.get(g.route);
      if (!set) byRoute.set(g.route, (set = new Set()));
      set.add(g.arm);
    }
    this.guards = guards;
    this.deps.router.setDisabled(byRoute);
    const metrics = this.deps.metrics;
    if (!metrics) return;
    const shown = new Set<string>();
    for (const route of this.deps.router.routes.values())
      for (const arm of route.arms) {
        const field = armField(route.name, arm.name);
        const disabled = byRoute.get(route.name)?.has(arm.name) === true;
        if (disabled || this.shown.has(field) || route.spec.guardrails) {
          metrics.armDisabled(route.name, arm.name, disabled);
          shown.add(field);
        }
      }
    this.shown = shown;
  }

  /** One evaluation (the timer's; tests call it). Concurrent calls share one run. */
  evaluate(): Promise<void> {
    this.running ??= this.evaluateOnce()
      .catch((e: unknown) => this.warn('guardrail evaluation failed', e))
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async evaluateOnce(): Promise<void> {
    if (!(await this.deps.leadership.lead())) return;
    await this.follow();
    for (const route of this.deps.router.routes.values()) if (route.spec.guardrails) await this.judgeRoute(route);
    for (const watch of await this.deps.state.watches()) await judgeWatch(this.deps, watch, this.now());
    await this.follow();
  }

  private async judgeRoute(route: Route): Promise<void> {
    const spec = route.spec.guardrails!;
    const { registry, health } = this.deps;
    const champion = route.arms.find((a) => a.name === spec.champion);
    const base = champion && registry.resolve(champion.model, champion.version);
    if (!champion || !base) return;
    const now = this.now();
    const to = minuteOf(now) + 1;
    for (const arm of route.arms) {
      if (arm === champion || this.deps.router.isDisabled(route.name, arm.name)) continue;
      const v = registry.resolve(arm.model, arm.version);
      if (!v) continue;
      // Enabled again by a person: judged only from then on (fresh minSamples), the champion alike.
      const g = this.guards.get(armField(route.name, arm.name));
      const fresh = g && !g.disabled && minuteOf(g.atMs) > to - HOUR - 1;
      const from = fresh ? minuteOf(g.atMs) : to - HOUR;
      const armHealth = without(
        await health.over([{ route: route.name, arm: arm.name, model: v.model, version: v.version }], from, to),
        fresh ? g.offset : undefined,
      );
      const champHealth = await health.over(
        [{ route: route.name, arm: champion.name, model: base.model, version: base.version }],
        from,
        to,
      );
      const verdict = judge(armHealth, champHealth, spec);
      if (!verdict.worse) continue;
      const reason = `${verdict.check}: ${arm.name} (${v.version}) worse than champion ${champion.name} (${base.version}): ${verdict.reason}`;
      if (!(await this.deps.state.disable(route.name, arm.name, reason, now))) continue;
      // Traffic stops first; the audit entry and the notice follow (a slow disk delays only them).
      await this.follow();
      this.deps.log.warn(
        { route: route.name, arm: arm.name, check: verdict.check, reason },
        'guardrail disabled an arm',
      );
      await this.deps.actor.disabled(route.name, arm.name, reason, {
        route: route.name,
        arm: arm.name,
        model: v.model,
        version: v.version,
        champion: champion.name,
        check: verdict.check,
        ...verdict.details,
      });
    }
  }

  /** The admin API's enable: true-ish (the disable's reason) when the arm was disabled. */
  async enable(routeName: string, arm: string, by: string): Promise<string | undefined> {
    const g =
      this.guards.get(armField(routeName, arm))
      ?? (await this.deps.state.arms()).find((a) => a.route === routeName && a.arm === arm);
    const route = this.deps.router.get(routeName);
    const at = route?.arms.find((a) => a.name === arm);
    const v = at && this.deps.registry.resolve(at.model, at.version);
    const now = this.now();
    const minute = minuteOf(now);
    // What the arm counted earlier in this minute (before its disable) is left out of its fresh judgement.
    const offset = v
      ? Array.from(
          await this.deps.health.over(
            [{ route: routeName, arm, model: v.model, version: v.version }],
            minute,
            minute + 1,
          ),
        )
      : new Array<number>(HEALTH_LENGTH).fill(0);
    if (!(await this.deps.state.enable(routeName, arm, by, now, offset))) return undefined;
    await this.follow();
    return g?.reason ?? 'a guardrail';
  }

  /** The admin API's watched deploy; when the watch ends (ms). */
  watch(model: string, version: string, previous: string, spec: WatchSpec): Promise<number> {
    return startWatch(this.deps.state, { model, version, previous }, spec, this.now());
  }

  /** `disabled`, with its reason and since, on each arm of GET /admin/monitor. */
  async decorate(report: MonitorReport): Promise<MonitorReport> {
    await this.follow().catch((e: unknown) => this.warn('guardrail state not read', e));
    for (const [route, r] of Object.entries(report.routes))
      for (const [arm, a] of Object.entries(r.arms)) {
        const g = this.guards.get(armField(route, arm));
        a.disabled = g?.disabled === true && this.deps.router.isDisabled(route, arm);
        if (a.disabled) {
          a.disabledReason = g!.reason;
          a.disabledSince = new Date(g!.atMs).toISOString();
        }
      }
    return report;
  }

  private warn(what: string, e: unknown): void {
    this.deps.log.warn({ err: (e as Error).message }, what);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.running;
    // Alerting resigns too; whichever closes last, the lease is not held past this replica's end.
    await this.deps.leadership.resign();
  }
}
