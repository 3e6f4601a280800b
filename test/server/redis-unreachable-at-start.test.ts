/**
 * Redis mode with a Redis that never answers: the start fails with the one clear error naming the
 * option, before any model is loaded, and leaves nothing held — the same state directory serves
 * the next start at once (its lock released, its audit file closed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../helpers/redis.js';
import { startTestServer } from '../helpers/server.js';

const stateDir = mkdtempSync(join(tmpdir(), 'croupier-state-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

it('a Redis that never answers fails the start naming CROUPIER_REDIS_URL, and frees the state dir', async () => {
  const port = await freePort();
  const started = Date.now();
  await expect(
    startTestServer({ CROUPIER_REDIS_URL: `redis://127.0.0.1:${port}`, CROUPIER_STATE_DIR: stateDir }),
  ).rejects.toThrow(/^Redis did not answer within 10 s at .*CROUPIER_REDIS_URL/);
  expect(Date.now() - started).toBeLessThan(15_000);

  const next = await startTestServer({ CROUPIER_STATE_DIR: stateDir });
  try {
    expect((await fetch(`${next.url}/v2/health/ready`)).status).toBe(200);
  } finally {
    await next.stop();
  }
}, 30_000);
