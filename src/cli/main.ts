/** `croupier <command>`: serve here; the admin commands speak to a running gateway. */
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { startServer } from '../server.js';

const HELP = `croupier — real-time model-serving gateway

usage:
  croupier serve [--port 8080] [--host 127.0.0.1] [--models ./models] [--routes FILE] [--state-dir DIR]
                 [--workers auto|N] [--max-batch N] [--batch-delay-us N] [--max-queued-rows N]
                 [--body-limit 1mb] [--admin-port N] [--log-level info] [--allow-slow-http]
Every flag mirrors a CROUPIER_* environment variable (see README).
`;

async function serve(args: string[]): Promise<void> {
  const config = loadConfig(args);
  const server = await startServer(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'draining');
    server.close().then(() => process.exit(0), (e: unknown) => {
      server.log.error({ err: e }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
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
    const message = e instanceof ConfigError ? e.message : (e as Error).stack ?? String(e);
    process.stderr.write(`croupier: ${message}\n`);
    process.exit(2);
  }
}
