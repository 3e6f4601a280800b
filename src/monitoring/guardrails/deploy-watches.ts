/**
 * Watched deploys: a deploy that asked for it is compared, for its minutes, with the version it
 * replaced as that version did in the hour before the deploy (every route arm of the model, the
 * same tests as guardrails); worse, it is rolled back (GuardrailActor.rollback), once. The watch is
 * in the shared GuardState, so it outlives a restart and any replica holding the lease judges it.
 */
import type { Logger } from '../../log.js';
import type { Registry } from '../../registry/registry.js';
import type { Router } from '../../routing/router.js';
import type { DeployWatch, GuardState } from '../../state/guard-state.js';
import { minuteOf, WINDOWS } from '../minute-window.js';
import type { WatchSpec } from './guardrail-spec.js';
import type { GuardrailActor } from './guardrails.js';
import type { Health } from './health.js';
import { judge } from './verdicts.js';

/** How long after a deploy a replica may still serve the version before (Redis mode: changes reach every replica within 1 s). */
const FOLLOW_GRACE_MS = 10_000;
const HOUR = WINDOWS['1h'];

export interface WatchDeps {
  readonly state: GuardState;
  readonly registry: Registry;
  readonly router: Router;
  readonly health: Health;
  readonly actor: GuardrailActor;
  readonly log: Logger;
}

/** Starts watching `version` of `model`, which replaced `previous` now; when the watch ends (ms). */
export async function startWatch(
  state: GuardState,
  deploy: { model: string; version: string; previous: string },
  spec: WatchSpec,
  now: number,
): Promise<number> {
  const untilMs = now + spec.minutes * 60_000;
  const { checks, minSamples, confidence } = spec;
  await state.watch({ ...deploy, startedMs: now, untilMs, checks, minSamples, confidence });
  return untilMs;
}

/** The route arms that serve `model` (any version): the series a watch sums. */
function seriesOf(router: Router, model: string, version: string) {
  const out: { route: string; arm: string; model: string; version: string }[] = [];
  for (const route of router.routes.values())
    for (const arm of route.arms)
      if (arm.model === model) out.push({ route: route.name, arm: arm.name, model, version });
  return out;
}

export async function judgeWatch(deps: WatchDeps, w: DeployWatch, now: number): Promise<void> {
  const { state, registry, router, health, log } = deps;
  const live = registry.model(w.model)?.live.version;
  // Another replica deployed it: this one follows the flip within a second or so; until then
  // the watch waits rather than taking "not live here yet" for "replaced since".
  if (live !== w.version && now < w.untilMs && now - w.startedMs < FOLLOW_GRACE_MS) return;
  if (now >= w.untilMs || live !== w.version) {
    if (await state.endWatch(w.model, w.version))
      log.info(
        { model: w.model, version: w.version, live },
        live === w.version ? 'deploy watch ended: kept' : 'deploy watch ended: the live version changed',
      );
    return;
  }
  const start = minuteOf(w.startedMs);
  const to = minuteOf(now) + 1;
  // The deploy's own minute counts on both sides: before the flip it held the previous version's
  // answers, after it the new one's (minutes are the windows' grain).
  const [after, before] = await Promise.all([
    health.over(seriesOf(router, w.model, w.version), start, to),
    health.over(seriesOf(router, w.model, w.previous), start + 1 - HOUR, start + 1),
  ]);
  const verdict = judge(after, before, w);
  if (!verdict.worse) return;
  const reason = `${verdict.check}: ${w.model} ${w.version} worse than ${w.previous} before the deploy: ${verdict.reason}`;
  if (!(await state.endWatch(w.model, w.version))) return;
  log.warn({ model: w.model, version: w.version, previous: w.previous, reason }, 'deploy watch rolls back');
  await deps.actor.rollback(w.model, w.version, reason, {
    model: w.model,
    version: w.version,
    previous: w.previous,
    check: verdict.check,
    ...verdict.details,
  });
}
