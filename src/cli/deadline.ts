/**
 * `--timeout`: a command that is not done in time stops with exit 124 and says what it was doing
 * (sending, packing, waiting for the gateway to load and warm a version), and what may still happen.
 */
import { CliFailure } from './admin-client.js';
import { UsageError } from './args.js';

export const TIMED_OUT = 124;

export class Deadline {
  readonly seconds: number;
  /** What the command is doing now, for the timeout message: "waiting for …", "sending …". */
  doing: string;
  /** Rejects with a CliFailure (exit 124) when the time is up; never resolves. */
  readonly expired: Promise<never>;
  private readonly undo: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(seconds: number, doing: string) {
    this.seconds = seconds;
    this.doing = doing;
    this.expired = new Promise<never>((_, reject) => {
      this.timer = setTimeout(() => {
        for (const fn of this.undo.splice(0)) {
          try {
            fn();
          } catch {
            /* best effort: the timeout is what gets reported */
          }
        }
        reject(new CliFailure(TIMED_OUT, `timed out after ${seconds} s ${this.doing}`));
      }, seconds * 1000);
    });
    this.expired.catch(() => undefined);
  }

  /** Runs `fn` if the time runs out (e.g. removes a half-written file). */
  onExpiry(fn: () => void): void {
    this.undo.push(fn);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/** `--timeout SECONDS`: a number above 0 (fractions allowed), at most a week. */
export function timeoutSeconds(raw: string | true | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const seconds = typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds > 0 && seconds <= 7 * 24 * 3600))
    throw new UsageError(`--timeout takes a number of seconds above 0 (at most a week), got "${String(raw)}"`);
  return seconds;
}
