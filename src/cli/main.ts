/** `croupier <command>`: serve here; the admin commands speak to a running gateway. */
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { AdminClient, CliFailure } from './admin-client.js';
import { asksForHelp, parseCommandLine, UsageError } from './args.js';
import { DEFAULT_URL, type Command, type Context } from './command.js';
import { ADMIN_COMMANDS } from './commands.js';
import { Deadline, TIMED_OUT, timeoutSeconds } from './deadline.js';
import { commandHelp, mainHelp, packageVersion, serveHelp } from './help.js';
import { clearLine, stderrTerminal } from './progress.js';
import { adminToken } from './token.js';

const print = (text: string): void => {
  process.stdout.write(text);
};

function gatewayUrl(raw: string | true | undefined): string {
  if (raw === undefined) return DEFAULT_URL;
  let url: URL | undefined;
  try {
    url = new URL(String(raw));
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:')
    throw new UsageError(`--url takes an http:// or https:// address, got "${String(raw)}"`);
  return String(raw);
}

async function runCommand(command: Command, args: readonly string[]): Promise<void> {
  if (asksForHelp(args)) return print(commandHelp(command));
  const line = parseCommandLine(args, command.flags, `croupier ${command.name} --help`);
  const seconds = timeoutSeconds(line.values.get('timeout'), command.timeoutS);
  const url = gatewayUrl(line.values.get('url'));
  const tokenFile = line.values.get('token-file');
  const deadline = new Deadline(seconds, `running croupier ${command.name}`);
  let client: AdminClient | undefined;
  const ctx: Context = {
    out: { json: line.values.get('json') === true, print },
    line,
    deadline,
    term: stderrTerminal,
    client: () =>
      (client ??= new AdminClient(
        url,
        adminToken(typeof tokenFile === 'string' ? tokenFile : undefined, process.env.CROUPIER_ADMIN_TOKEN),
        deadline,
      )),
  };
  try {
    await Promise.race([(async () => command.run(ctx, line.positionals))(), deadline.expired]);
  } finally {
    deadline.clear();
  }
}

async function serve(args: string[]): Promise<void> {
  if (asksForHelp(args)) return print(serveHelp());
  const config = loadConfig(args);
  // Imported here so the admin commands start fast (no ONNX Runtime, no uWS).
  const { startServer } = await import('../server.js');
  const server = await startServer(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'draining');
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        server.log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** `croupier`, `croupier --help`, `croupier help [command]`, `croupier --version`. */
function topLevel(first: string | undefined, rest: readonly string[]): boolean {
  if (first === undefined) {
    process.stderr.write(mainHelp(ADMIN_COMMANDS));
    process.exitCode = 2;
    return true;
  }
  if (first === '--help' || first === '-h' || (first === 'help' && rest.length === 0)) {
    print(mainHelp(ADMIN_COMMANDS));
    return true;
  }
  if (first === 'help') {
    const topic = rest[0]!;
    const command = ADMIN_COMMANDS.find((c) => c.name === topic);
    if (rest.length === 1 && topic === 'serve') print(serveHelp());
    else if (rest.length === 1 && command) print(commandHelp(command));
    else throw new UsageError(`no help for "${rest.join(' ')}" (see croupier --help)`);
    return true;
  }
  if (first === '--version') {
    if (rest.length) throw new UsageError('--version takes nothing more');
    print(`${packageVersion()}\n`);
    return true;
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first} (see croupier --help)`);
  return false;
}

export async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  const command = ADMIN_COMMANDS.find((c) => c.name === first);
  if (command) {
    try {
      await runCommand(command, rest);
    } catch (e) {
      const code = e instanceof CliFailure ? e.exitCode : 2;
      const message =
        e instanceof CliFailure || e instanceof UsageError ? e.message : ((e as Error).stack ?? String(e));
      clearLine(stderrTerminal);
      process.stderr.write(`croupier ${command.name}: ${message}\n`);
      // A timed-out request may still hold a connection open: end here rather than wait for it.
      if (code === TIMED_OUT) process.exit(code);
      process.exitCode = code;
    }
    return;
  }
  try {
    if (topLevel(first, rest)) return;
    if (first === 'serve') return await serve(rest);
    throw new UsageError(`unknown command "${first}" (see croupier --help)`);
  } catch (e) {
    const message = e instanceof ConfigError || e instanceof UsageError ? e.message : ((e as Error).stack ?? String(e));
    process.stderr.write(`croupier: ${message}\n`);
    process.exit(2);
  }
}
