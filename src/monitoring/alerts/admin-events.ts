/**
 * Admin changes as events for the `events` channels: the admin routes call `changed` once, after a
 * change is audited and logged, and this names the event (or none, for reads and no-ops).
 */
import type { EventName } from './notice.js';

const EVENT_OF: Readonly<Record<string, EventName>> = {
  deploy: 'deploy',
  'repository.load': 'deploy',
  rollback: 'rollback',
  'routes.put': 'route_change',
  'routes.reset': 'route_change',
  'arms.enable': 'arm_enable',
  'guardrail.disable': 'guardrail_disable',
};

export interface AnnouncedChange {
  readonly action: string;
  readonly actor: string | null;
  readonly target: string | null;
  readonly result: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface EventSink {
  announce(event: EventName, summary: string, details: Record<string, unknown>): void;
}

export function announceChange(sink: EventSink, change: AnnouncedChange): void {
  const event = EVENT_OF[change.action];
  if (event === undefined || change.result !== 'ok') return;
  const by = change.actor ? ` by ${change.actor}` : '';
  const what = typeof change.after === 'string' ? ` → ${change.after}` : '';
  sink.announce(event, `${event.replace('_', ' ')} ${change.target ?? ''}${what}${by}`.replace(/\s+/g, ' ').trim(), {
    action: change.action,
    actor: change.actor,
    target: change.target,
    before: change.before,
    after: change.after,
  });
}
