/** The help texts, made from the command table (commands.ts) and, for `serve`, from the options table. */
import { readFileSync } from 'node:fs';
import { serveFlagsHelp } from '../config/options-docs.js';
import { flagsHelp } from './args.js';
import { DEFAULT_URL, HELP_FLAG, type Command } from './command.js';

const EXIT_CODES = 'exit codes: 0 done, 1 refused by the gateway, 2 usage or connection error, 124 timed out\n';

/** The package's version (package.json sits two folders up from both src/cli and dist/cli). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function mainHelp(commands: readonly Command[]): string {
  const rows: [string, string][] = [
    ['serve', 'serve the models (its flags: croupier serve --help)'],
    ...commands.map((c): [string, string] => [c.name, c.summary]),
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return `croupier ${packageVersion()} — real-time model-serving gateway

usage: croupier <command> [arguments] [flags]

commands:
${rows.map(([name, summary]) => `  ${name.padEnd(width)}${summary}\n`).join('')}
\`croupier <command> --help\` shows a command's usage and flags; \`croupier --version\` the version.
The admin commands talk to --url (default ${DEFAULT_URL}) with the token from --token-file or
CROUPIER_ADMIN_TOKEN; long ones show progress on stderr and stop at --timeout.
${EXIT_CODES}`;
}

export function commandHelp(command: Command): string {
  const usage = command.usage
    .map((u, i) => `${i === 0 ? 'usage: ' : '       '}croupier ${command.name}${u ? ` ${u}` : ''} [options]`)
    .join('\n');
  return `${usage}\n\n${command.about}\n\noptions:\n${flagsHelp(command.flags)}\n${EXIT_CODES}`;
}

export function serveHelp(): string {
  return `usage: croupier serve [flags]

Serves the models of a model repository: the data plane (/v1, /v2, /metrics) and the admin API.
Each flag mirrors an environment variable and wins over it; secrets are set in the environment only.
Unknown flags, bad values and unreadable paths stop start-up with one line and exit 2.

serve flags:
${serveFlagsHelp()}${flagsHelp(HELP_FLAG)}`;
}
