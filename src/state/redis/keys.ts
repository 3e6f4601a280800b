/** The keys of decisions, arm statistics and outcomes in Redis. */
import { KEY_PREFIX, routeKey } from './connection.js';

/** Decision keys are not hash-tagged: feedback knows only the id, and they spread over the slots. */
export function decisionKey(id: string): string {
  return `${KEY_PREFIX}decision:${id}`;
}

/** A route's arm statistics, one hash (see stats.ts). */
export function statsKey(route: string): string {
  return routeKey(route, 'stats');
}

/** The marker that pull count `id` was added to a route's statistics (Cluster: stats.ts PULL). */
export function pulledKey(route: string, id: string): string {
  return routeKey(route, `pulled:${id}`);
}

/** A route's outcome stream. */
export function outcomesKey(route: string): string {
  return routeKey(route, 'outcomes');
}

/** The marker that an outcome for `decision` was counted (the dedupe). */
export function settledKey(route: string, decision: string): string {
  return routeKey(route, `settled:${decision}`);
}

/** A route's training rows (routes with logFeatures): a stream trimmed by age (training-rows.ts). */
export function datasetKey(route: string): string {
  return routeKey(route, 'dataset');
}
