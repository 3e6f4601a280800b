/** What every `croupier` command is (its usage, flags and help, made from one declaration) and gets to run. */
import type { AdminClient } from './admin-client.js';
import type { CommandLine, Flags } from './args.js';
import type { Deadline } from './deadline.js';
import { showWaiting, type Terminal } from './progress.js';

export interface Output {
  readonly json: boolean;
  print(text: string): void;
}

export interface Context {
  readonly out: Output;
  readonly line: CommandLine;
  readonly deadline: Deadline;
  /** Where progress goes (stderr): never mixed with the answer on stdout. */
  readonly term: Terminal;
  /** The admin API client (commands with --url); the token is read on first use. */
  client(): AdminClient;
}

export interface Command {
  readonly name: string;
  /** The argument forms after `croupier <name>`, one a line. */
  readonly usage: readonly string[];
  /** One line, for `croupier --help`. */
  readonly summary: string;
  /** A few lines, for `croupier <name> --help`. */
  readonly about: string;
  readonly flags: Flags;
  /** The default of --timeout, in seconds. */
  readonly timeoutS: number;
  run(ctx: Context, args: readonly string[]): Promise<void> | void;
}

export const HELP_FLAG: Flags = { help: { type: 'boolean', short: 'h', help: 'show this help and exit' } };

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The flags of every command that talks to a gateway. */
export function adminFlags(timeoutS: number): Flags {
  return {
    url: { type: 'string', value: 'URL', help: `the gateway's admin API (default ${DEFAULT_URL})` },
    'token-file': {
      type: 'string',
      value: 'PATH',
      help: 'read the admin token from this file (not readable by every user); default: $CROUPIER_ADMIN_TOKEN',
    },
    timeout: { type: 'string', value: 'SECONDS', help: `give up after this long (default ${timeoutS})` },
    json: { type: 'boolean', help: "print the gateway's answer as JSON" },
    ...HELP_FLAG,
  };
}

/** Said when a timeout leaves a change to the gateway: it goes on without the CLI. */
export const MAY_STILL_FINISH = '; the gateway may still finish it (see croupier status)';

/** Awaits an answer the gateway gives once it has loaded and warmed a version, showing how long it has waited. */
export async function showingWait<T>(ctx: Context, showing: string, answer: Promise<T>): Promise<T> {
  const stop = showWaiting(ctx.term, showing);
  try {
    return await answer;
  } finally {
    stop();
  }
}

/** Rows as aligned columns (the first row is the header), two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
