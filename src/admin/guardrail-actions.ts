/**
 * What a guardrail's finding does to the gateway (monitoring/guardrails/guardrails.ts calls it): a
 * disable or a rollback made through the admin plane like a person's — under the admin lock,
 * audited with actor `guardrail` and the finding — then announced to the `events` channels.
 */
import { CroupierError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EventSink } from '../monitoring/alerts/admin-events.js';
import type { GuardrailActor } from '../monitoring/guardrails/guardrails.js';
import type { Registry } from '../registry/registry.js';
import type { AdminPlane } from './admin-plane.js';

const ACTOR = 'guardrail';

export function guardrailActions(
  admin: AdminPlane,
  registry: Registry,
  events: EventSink,
  log: Logger,
): GuardrailActor {
  return {
    async disabled(route, arm, reason, details) {
      await admin.act(ACTOR, 'guardrail.disable', `${route}/${arm}`, async () => ({
        status: 200,
        body: null,
        audit: { result: 'ok', before: 'enabled', after: `disabled: ${reason}` },
      }));
      events.announce('guardrail_disable', `guardrail disabled ${route}/${arm}: ${reason}`, details);
    },

    async rollback(model, version, reason, details) {
      // The audit entry's `after` carries the reason with the version gone back to.
      const withReason = (after: unknown): unknown => ({ version: after, reason });
      const outcome = await admin
        .act(ACTOR, 'rollback', model, async (seal) => {
          if (registry.model(model)?.live.version !== version)
            throw new CroupierError('conflict', `${model} ${version} is no longer live: nothing to roll back`);
          const o = await admin.actions.rollback(
            model,
            seal && ((audit, save) => seal({ ...audit, after: withReason(audit.after) }, save)),
          );
          return { ...o, audit: { ...o.audit, after: withReason(o.audit.after) } };
        })
        .catch((e: unknown) => {
          log.warn({ model, version, err: (e as Error).message }, 'guardrail rollback not made');
          return undefined;
        });
      if (!outcome) return false;
      const live = registry.model(model)?.live.version;
      events.announce('rollback', `guardrail rolled ${model} back from ${version} to ${live}: ${reason}`, {
        ...details,
        live,
        actor: ACTOR,
      });
      return true;
    },
  };
}
