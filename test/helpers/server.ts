/**
 * Starts the real server (real uWS, real ONNX Runtime workers) on a free port with a fresh state
 * directory; `stop()` drains and removes the directory. Use in beforeAll/afterAll.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { startServer, type Server } from '../../src/server.js';
import { EmbeddedDecisionLog } from '../../src/state/embedded/embedded-log.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const DEMO_MODELS = join(ROOT, 'models');

export interface TestServer {
  server: Server;
  url: string;
  stateDir: string;
  /** Log lines written so far (parsed JSON). */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** A copy of the demo model repository in a temp dir, for tests that change it. */
export function copyDemoModels(): string {
  const dir = mkdtempSync(join(tmpdir(), 'croupier-models-'));
  cpSync(DEMO_MODELS, dir, { recursive: true });
  return dir;
}

export async function startTestServer(env: Record<string, string> = {}, args: string[] = []): Promise<TestServer> {
  const stateDir = env.CROUPIER_STATE_DIR ?? mkdtempSync(join(tmpdir(), 'croupier-state-'));
  const config = loadConfig(['--port', '0', ...args], {
    CROUPIER_MODELS_DIR: DEMO_MODELS,
    CROUPIER_WORKERS: '1',
    CROUPIER_LOG_LEVEL: 'debug',
    ...env,
    CROUPIER_STATE_DIR: stateDir,
  });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const server = await startServer(config, { logger: createLogger(config.logLevel, sink) });
  return {
    server,
    url: `http://127.0.0.1:${server.port}`,
    stateDir,
    logs,
    async stop() {
      await server.close();
      if (!env.CROUPIER_STATE_DIR) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The demo fraud model's 32 feature names, in row order. */
export const DEMO_FEATURE_NAMES: readonly string[] = (
  JSON.parse(readFileSync(join(DEMO_MODELS, 'fraud/1/model.json'), 'utf8')) as {
    inputs: { featureNames: string[] }[];
  }
).inputs[0]!.featureNames;

/** `demoRow(seed)` as named features. */
export function demoNamed(seed = 1): Record<string, unknown> {
  return Object.fromEntries(demoRow(seed).map((v, i) => [DEMO_FEATURE_NAMES[i]!, v]));
}

/** A row of 32 features near the demo baseline. */
export function demoRow(seed = 1): number[] {
  return Array.from({ length: 32 }, (_, i) => ((i * 7 + seed * 13) % 10) / 10);
}

/** The embedded decision log a server in embedded mode runs on (its ring, its journal). */
export function embeddedLog(server: Server): EmbeddedDecisionLog {
  const { store } = server.feedbackLoop;
  if (!(store instanceof EmbeddedDecisionLog)) throw new Error('the server is not in embedded mode');
  return store;
}
