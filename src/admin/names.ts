/**
 * Names the admin plane takes — models, versions, routes, arms, token names — are at most NAME_MAX
 * characters (the id rule, registry/manifest.ts). A longer one is refused, naming the field and the
 * limit: never cut to the limit and used, which would act on another name than the one sent.
 */
import { CroupierError } from '../errors.js';

export const NAME_MAX = 64;

/** A 400 naming `field` when `value` is over the limit; undefined otherwise. */
export function nameTooLong(field: string, value: string): CroupierError | undefined {
  if (value.length <= NAME_MAX) return undefined;
  return new CroupierError('invalid_request', `${field} is longer than ${NAME_MAX} characters (${value.length})`);
}

/** How a refused name is recorded (audit target): bounded, and visibly cut. */
export function shownName(value: string): string {
  return value.length <= NAME_MAX ? value : `${value.slice(0, NAME_MAX)}…`;
}
