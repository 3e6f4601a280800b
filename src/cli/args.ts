/**
 * Command lines, read with node's util.parseArgs. Each command declares its flags once (type, short
 * name, what the value is, one line of help); parsing and its --help are made from that declaration.
 */
import { parseArgs } from 'node:util';

/** A command line that cannot be understood: exit 2, like other CLIs. */
export class UsageError extends Error {}

export interface Flag {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** What the value is, shown in --help (`URL`, `SECONDS`); strings only. */
  readonly value?: string;
  readonly help: string;
}

export type Flags = Readonly<Record<string, Flag>>;

export interface CommandLine {
  readonly positionals: readonly string[];
  /** Flags given, by long name: the value of a string flag, true for a switch. The last one given wins. */
  readonly values: ReadonlyMap<string, string | true>;
  /** Every value of a string flag, in the order given (a flag that may be repeated: `--policy`). */
  readonly lists: ReadonlyMap<string, readonly string[]>;
}

/** `--help` or `-h` anywhere before `--`: the help is shown whatever else the line holds. */
export function asksForHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/**
 * Reads `args` against `flags`. util.parseArgs runs non-strict so that every refusal is one short
 * line of ours (`seeAlso` names where the flags are listed), checked here token by token.
 */
export function parseCommandLine(args: readonly string[], flags: Flags, seeAlso: string): CommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, flag] of Object.entries(flags))
    options[name] = flag.short ? { type: flag.type, short: flag.short } : { type: flag.type };
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const positionals: string[] = [];
  const values = new Map<string, string | true>();
  const lists = new Map<string, string[]>();
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    const flag = Object.hasOwn(flags, token.name) ? flags[token.name] : undefined;
    if (flag === undefined) throw new UsageError(`unknown option ${token.rawName} (see ${seeAlso})`);
    if (flag.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`);
      values.set(token.name, true);
      continue;
    }
    // Non-strict parseArgs takes the next argument even when it is another flag: that is a missing value.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-') && token.value !== '-'))
      throw new UsageError(`${token.rawName} needs a value`);
    values.set(token.name, token.value);
    lists.set(token.name, [...(lists.get(token.name) ?? []), token.value]);
  }
  return { positionals, values, lists };
}

/** The flags as --help lists them, one a line: `-o, --output FILE   help`. */
export function flagsHelp(flags: Flags): string {
  const left = Object.entries(flags).map(
    ([name, f]) => `${f.short ? `-${f.short}, ` : '    '}--${name}${f.value ? ` ${f.value}` : ''}`,
  );
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return Object.values(flags)
    .map((f, i) => `  ${left[i]!.padEnd(width)}${f.help}\n`)
    .join('');
}
