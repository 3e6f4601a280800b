/** /metrics is valid Prometheus text (checked by promtool, the real client) with bounded labels. */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool && process.env.CI === 'true')
  throw new Error('promtool is required under CI=true (apt-get install prometheus); .ci/run installs it');

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

describe('GET /metrics', () => {
  it('exports the serving series with bounded labels', async () => {
    await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow(), unit: 'user-1' });
    await postJson(`${t.url}/v1/predict/no-such-route-${Date.now()}`, { features: demoRow() });
    await postJson(`${t.url}/v2/models/ctr/infer`, {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: demoRow() }],
    });
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const series of [
      'croupier_requests_total',
      'croupier_request_duration_seconds_bucket',
      'croupier_inference_duration_seconds_bucket',
      'croupier_batch_size_bucket',
      'croupier_queue_depth',
      'croupier_model_info',
    ]) {
      expect(text).toContain(series);
    }
    expect(text).toMatch(
      /croupier_requests_total\{route="fraud-scoring",arm="(champion|challenger)",model="fraud",version="[12]",code="200"\} 1/,
    );
    expect(text).toMatch(/croupier_requests_total\{route="unknown",arm="",model="",version="",code="404"\} 1/);
    expect(text).toMatch(/croupier_model_info\{model="fraud",version="1",sha256="[0-9a-f]{64}",live="true"\} 1/);
    expect(text).toMatch(/croupier_model_info\{model="fraud",version="2",sha256="[0-9a-f]{64}",live="false"\} 1/);
    expect(text).not.toContain('user-1');
    expect(text).not.toContain('no-such-route');
  });

  it.skipIf(!promtool)('passes promtool check metrics', async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const croupierOnly =
      text
        .split('\n')
        .filter((l) => /^(# (HELP|TYPE) )?croupier_/.test(l))
        .join('\n') + '\n';
    const out = spawnSync('promtool', ['check', 'metrics'], { input: croupierOnly, encoding: 'utf8' });
    expect(out.stdout + out.stderr).toBe('');
    expect(out.status).toBe(0);
  });
});

describe('logs', () => {
  it('carry x-request-id and traceparent, and never feature values or tokens', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await postJson(
      `${t.url}/v1/predict/fraud-scoring`,
      { features: demoRow(9), unit: 'u' },
      { traceparent, 'x-request-id': 'client-req-7', authorization: 'Bearer sekrit-token' },
    );
    expect(res.headers.get('x-request-id')).toBe('client-req-7');
    const generated = await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow(9) });
    expect(generated.headers.get('x-request-id')).toMatch(/^[\w-]+$/);
    const entry = t.logs.find((l) => l.requestId === 'client-req-7');
    expect(entry).toMatchObject({ traceparent, status: 200 });
    const all = JSON.stringify(t.logs);
    expect(all).not.toContain('sekrit-token');
    expect(all).not.toContain(String(demoRow(9)[3]) + ',' + String(demoRow(9)[4]));
  });
});
