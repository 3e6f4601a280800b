/** Start-up refusals and graceful shutdown, on the real binary. */
import { describe, expect, it } from 'vitest';
import { spawnCroupier } from '../helpers/process.js';
import { demoRow, postJson } from '../helpers/server.js';

describe('start-up', () => {
  it.each([
    [['serve', '--bogus'], /unknown flag --bogus/],
    [['serve', '--port', 'eighty'], /CROUPIER_PORT must be a whole number/],
    [['serve', '--models', '/no/such/dir'], /CROUPIER_MODELS_DIR: cannot read directory/],
    [['serve', '--body-limit', 'lots'], /CROUPIER_BODY_LIMIT must be a size/],
    [
      ['serve', '--redis-url', 'redis://127.0.0.1:1', '--redis-wait-replicas', 'all'],
      /CROUPIER_REDIS_WAIT_REPLICAS must be a whole number/,
    ],
    [['launch'], /unknown command "launch"/],
  ])('%j stops with one clear line and a non-zero exit', async (args, message) => {
    const child = spawnCroupier(args);
    expect(await child.exited).toBe(2);
    const err = child.stderr.join('');
    expect(err).toMatch(message);
    expect(err.trim().split('\n')).toHaveLength(1);
  });

  it('refuses the slow pure-Node uWS fallback unless CROUPIER_ALLOW_SLOW_HTTP=1', async () => {
    const refused = spawnCroupier(['serve', '--port', '0'], { UWS_USE_FALLBACK: '1' });
    expect(await refused.exited).toBe(2);
    expect(refused.stderr.join('')).toMatch(/slow pure-Node implementation.*CROUPIER_ALLOW_SLOW_HTTP=1/);

    const allowed = spawnCroupier(['serve', '--port', '0'], { UWS_USE_FALLBACK: '1', CROUPIER_ALLOW_SLOW_HTTP: '1' });
    const port = await allowed.ready;
    expect((await fetch(`http://127.0.0.1:${port}/v2/health/live`)).status).toBe(200);
    allowed.proc.kill('SIGTERM');
    expect(await allowed.exited).toBe(0);
  });
});

describe('shutdown', () => {
  it('SIGTERM drains: in-flight requests are answered, then exit 0 and no new connections', async () => {
    // A long batch delay holds requests in the queue, so they are surely in flight at SIGTERM.
    const child = spawnCroupier(['serve', '--port', '0', '--batch-delay-us', '300000', '--max-batch', '1000']);
    const port = await child.ready;
    const url = `http://127.0.0.1:${port}`;
    const inFlight = Array.from({ length: 50 }, () =>
      postJson(`${url}/v1/predict/fraud-scoring`, { features: demoRow() }),
    );
    for (;;) {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const queued = [...metrics.matchAll(/^croupier_queue_depth\{[^}]*\} (\d+)/gm)].reduce(
        (s, m) => s + Number(m[1]),
        0,
      );
      if (queued >= 50) break;
    }
    child.proc.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    expect(answers.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(await child.exited).toBe(0);
    await expect(fetch(`${url}/v2/health/live`)).rejects.toThrow();
  });
});
