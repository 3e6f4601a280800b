/** Arguments of the admin commands: positionals, `--flag value` / `--flag=value`, and switches. */
export class UsageError extends Error {}

export interface Parsed {
  readonly positional: string[];
  readonly options: Map<string, string>;
  readonly switches: Set<string>;
}

const ALIASES: Record<string, string> = { o: 'output', h: 'help' };

export function parseArgs(args: readonly string[], valued: readonly string[], switches: readonly string[]): Parsed {
  const out: Parsed = { positional: [], options: new Map(), switches: new Set() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      out.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const rawName = arg.replace(/^--?/, '').slice(0, eq < 0 ? undefined : eq - (arg.startsWith('--') ? 2 : 1));
    const name = ALIASES[rawName] ?? rawName;
    if (switches.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out.switches.add(name);
    } else if (valued.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      out.options.set(name, value);
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  return out;
}
