/** Feedback windows: how long after a decision its outcome is taken (a route's `feedbackWindow`). */
import type { Route, Router } from '../routing/router.js';

/** The window of a decision whose route is no longer configured. */
export const DEFAULT_WINDOW_S = 86_400;

export function windowMs(route: Route | undefined): number {
  return (route?.spec.feedbackWindow ?? DEFAULT_WINDOW_S) * 1000;
}

/** The longest window of any route: a decision older than this is past every window. */
export function maxWindowMs(router: Router): number {
  let max = 0;
  for (const r of router.routes.values()) max = Math.max(max, r.spec.feedbackWindow);
  return (max || DEFAULT_WINDOW_S) * 1000;
}
