import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

describe('POST /v1/predict/{route}', () => {
  it('scores one row and names the arm, model and version that served', async () => {
    const res = await postJson(`${t.url}/v1/predict/fraud-scoring`, { features: demoRow(), unit: 'user-42' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ route: 'fraud-scoring', model: 'fraud' });
    expect(['champion', 'challenger']).toContain(body.arm);
    expect(typeof body.decision).toBe('string');
    expect((body.outputs as { probability: number[] }).probability).toHaveLength(1);
  });
});
