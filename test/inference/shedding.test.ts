/** Past the queue bound (in rows per model version) or past a deadline, work is shed with 503 + Retry-After. */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
// A long batch delay keeps rows queued, so the bound is reached deterministically.
beforeAll(async () => {
  t = await startTestServer({
    CROUPIER_MAX_QUEUED_ROWS: '16',
    CROUPIER_BATCH_DELAY_US: '200000',
    CROUPIER_MAX_BATCH: '1000',
  });
});
afterAll(async () => {
  await t.stop();
});

const infer = (rows: number, headers: Record<string, string> = {}): Promise<Response> =>
  postJson(
    `${t.url}/v2/models/fraud/infer`,
    {
      inputs: [
        {
          name: 'features',
          datatype: 'FP32',
          shape: [rows, 32],
          data: Array.from({ length: rows }, () => demoRow()).flat(),
        },
      ],
    },
    headers,
  );

describe('load shedding', () => {
  it('refuses rows past CROUPIER_MAX_QUEUED_ROWS with 503 queue_full and Retry-After, serves the rest', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => infer(4)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 503)).toHaveLength(6);
    const shed = answers.find((r) => r.status === 503)!;
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(((await shed.json()) as { error: string }).error).toMatch(/rows queued/);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/croupier_shed_total\{model="fraud",reason="queue_full"\} 6/);
    expect((await infer(1)).status).toBe(200);
  });

  it('a request larger than the whole queue bound is a 400, not a retry loop', async () => {
    expect((await infer(17)).status).toBe(400);
  });

  it('drops queued work whose x-croupier-timeout-ms passes before inference starts', async () => {
    const res = await postJson(
      `${t.url}/v1/predict/fraud-scoring`,
      { features: demoRow() },
      { 'x-croupier-timeout-ms': '50' },
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ error: { code: 'deadline_exceeded' } });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/croupier_shed_total\{model="fraud",reason="deadline_exceeded"\} 1/);
    expect(
      (
        await postJson(
          `${t.url}/v1/predict/fraud-scoring`,
          { features: demoRow() },
          { 'x-croupier-timeout-ms': '5000' },
        )
      ).status,
    ).toBe(200);
  });

  it('once a queue is full, refuses new work before reading its body, and the connection stays usable', async () => {
    const fills = Array.from({ length: 5 }, () => infer(4));
    // 16 rows fit; the fifth request is refused, and from then on the version is saturated.
    expect((await Promise.race(fills)).status).toBe(503);
    const socket = net.connect(Number(new URL(t.url).port), '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => {
      received += d.toString();
    });
    const until = async (done: () => boolean): Promise<void> => {
      for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: demoRow() }] });
    // Only the head: the answer comes without a byte of the body.
    socket.write(
      `POST /v2/models/fraud/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    await until(() => received.includes('rows queued'));
    expect(received).toMatch(/^HTTP\/1\.1 503 /);
    expect(received).toMatch(/retry-after: 1/i);
    // The body that follows is skipped, and the next request on the connection is served.
    received = '';
    socket.write(`${body}GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n`);
    await until(() => received.includes('"live":true'));
    expect(received).toMatch(/^HTTP\/1\.1 200 OK/);
    socket.destroy();
    // When the batch has run and room has opened, work is taken again.
    expect((await Promise.all(fills)).map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 503]);
    expect((await infer(1)).status).toBe(200);
  });
});
