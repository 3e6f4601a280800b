/** `croupier <command>`: serve here; the admin commands speak to a running gateway. */
import { loadConfig } from '../config/config.js';
import { serveFlagsHelp } from '../config/options-docs.js';
import { ConfigError } from '../errors.js';
import { AdminClient, CliFailure } from './admin-client.js';
import { parseArgs, UsageError } from './args.js';
import { audit } from './audit-commands.js';
import { deploy, rollback, routes, status, type Output } from './model-commands.js';
import { pack, push } from './release-commands.js';

const HELP = `croupier — real-time model-serving gateway

usage:
  croupier serve [flags]                serve the models (flags below)
  croupier status                       models, versions, which is live, load state
  croupier deploy <model> <version>     load and warm in every worker, then put live
  croupier rollback <model>             back to the version live before
  croupier routes [set <route> <file.json> | reset <route>]
  croupier audit [--limit N] [--before SEQ]
  croupier audit verify [audit.log]     check the hash chain (a file, or the server's log)
  croupier pack <models/m/v> [-o m-v.tgz]   make a release archive
  croupier push <m-v.tgz>               upload a release (loaded, not deployed)
Admin commands take --url (default http://127.0.0.1:8080) and --json; the token comes from
CROUPIER_ADMIN_TOKEN. Exit codes: 0 done, 1 refused by the server, 2 usage or connection error.

serve flags (each mirrors an environment variable; the flag wins):
${serveFlagsHelp()}`;

const ADMIN_COMMANDS = new Set(['status', 'deploy', 'rollback', 'routes', 'audit', 'pack', 'push']);

async function adminCommand(command: string, args: string[]): Promise<void> {
  const parsed = parseArgs(args, ['url', 'output', 'limit', 'before'], ['json']);
  const out: Output = {
    json: parsed.switches.has('json'),
    print: (text) => {
      process.stdout.write(text);
    },
  };
  const client = new AdminClient(
    parsed.options.get('url') ?? 'http://127.0.0.1:8080',
    process.env.CROUPIER_ADMIN_TOKEN || undefined,
  );
  const rest = parsed.positional;
  switch (command) {
    case 'status':
      return status(client, out);
    case 'deploy':
      return deploy(client, out, rest);
    case 'rollback':
      return rollback(client, out, rest);
    case 'routes':
      return routes(client, out, rest);
    case 'audit':
      return audit(client, out, parsed);
    case 'pack':
      return pack(out, parsed);
    default:
      return push(client, out, parsed);
  }
}

async function serve(args: string[]): Promise<void> {
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

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== undefined && ADMIN_COMMANDS.has(command)) {
    try {
      await adminCommand(command, rest);
    } catch (e) {
      const code = e instanceof CliFailure ? e.exitCode : 2;
      const message =
        e instanceof CliFailure || e instanceof UsageError ? e.message : ((e as Error).stack ?? String(e));
      process.stderr.write(`croupier ${command}: ${message}\n`);
      process.exitCode = code;
    }
    return;
  }
  try {
    switch (command) {
      case 'serve':
        await serve(rest);
        return;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        return;
      default:
        throw new ConfigError(`unknown command "${command}" (try croupier --help)`);
    }
  } catch (e) {
    const message = e instanceof ConfigError ? e.message : ((e as Error).stack ?? String(e));
    process.stderr.write(`croupier: ${message}\n`);
    process.exit(2);
  }
}
