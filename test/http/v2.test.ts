/** The Open Inference Protocol as KServe V2 / Triton JSON clients use it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

interface InferOut {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
}

describe('Open Inference Protocol', () => {
  it('server metadata, liveness and readiness', async () => {
    expect(await (await fetch(`${t.url}/v2`)).json()).toMatchObject({
      name: 'croupier',
      version: expect.any(String),
      extensions: expect.any(Array),
    });
    expect(await (await fetch(`${t.url}/v2/health/live`)).json()).toEqual({ live: true });
    const ready = await fetch(`${t.url}/v2/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
  });

  it('model metadata names the graph input with -1 for the batch dimension', async () => {
    const meta = await (await fetch(`${t.url}/v2/models/fraud`)).json();
    expect(meta).toEqual({
      name: 'fraud',
      versions: ['1', '2'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 32] }],
      outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
    });
    expect(await (await fetch(`${t.url}/v2/models/fraud/versions/2`)).json()).toMatchObject({
      name: 'fraud',
      versions: ['2'],
    });
    const ready = await fetch(`${t.url}/v2/models/fraud/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ name: 'fraud', ready: true });
    expect((await fetch(`${t.url}/v2/models/ctr/versions/1/ready`)).status).toBe(200);
  });

  it('infers on the live version and on a named version; echoes the id; answers flat data', async () => {
    const inputs = [{ name: 'features', datatype: 'FP32', shape: [2, 32], data: [...demoRow(1), ...demoRow(2)] }];
    const live = (await (await postJson(`${t.url}/v2/models/fraud/infer`, { id: 'req-1', inputs })).json()) as InferOut;
    expect(live).toMatchObject({ model_name: 'fraud', model_version: '1', id: 'req-1' });
    expect(live.outputs).toHaveLength(1);
    expect(live.outputs[0]).toMatchObject({ name: 'probability', datatype: 'FP32', shape: [2, 1] });
    expect(live.outputs[0]!.data).toHaveLength(2);
    const v2 = (await (await postJson(`${t.url}/v2/models/fraud/versions/2/infer`, { inputs })).json()) as InferOut;
    expect(v2.model_version).toBe('2');
    expect(v2.id).toBeUndefined();
    expect(v2.outputs[0]!.data[0]).not.toBeCloseTo(live.outputs[0]!.data[0]!, 3);
  });

  it('accepts nested row-major data like Triton clients send', async () => {
    const flat = (await (
      await postJson(`${t.url}/v2/models/ctr/infer`, {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 32], data: [...demoRow(3), ...demoRow(4)] }],
      })
    ).json()) as InferOut;
    const nested = (await (
      await postJson(`${t.url}/v2/models/ctr/infer`, {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 32], data: [demoRow(3), demoRow(4)] }],
      })
    ).json()) as InferOut;
    expect(nested.outputs[0]!.data).toEqual(flat.outputs[0]!.data);
    expect(flat.outputs[0]!.name).toBe('ctr');
  });

  it('a route name serves through its policy and carries the decision id', async () => {
    const out = (await (
      await postJson(`${t.url}/v2/models/fraud-scoring/infer`, {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: demoRow() }],
      })
    ).json()) as InferOut;
    expect(out.model_name).toBe('fraud');
    expect(['1', '2']).toContain(out.model_version);
    expect(out.parameters).toMatchObject({ decision: expect.any(String), route: 'fraud-scoring' });
  });
});

describe('/v1/predict shapes', () => {
  const url = (): string => `${t.url}/v1/predict/fraud-scoring`;

  it('several rows answer one value per row, in order', async () => {
    const rows = [demoRow(1), demoRow(2), demoRow(3)];
    const body = (await (await postJson(url(), { features: rows, unit: 'u-1' })).json()) as {
      version: string;
      outputs: { probability: number[] };
    };
    expect(body.outputs.probability).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const one = (await (
        await postJson(`${t.url}/v2/models/fraud/versions/${body.version}/infer`, {
          inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: rows[i] }],
        })
      ).json()) as InferOut;
      expect(body.outputs.probability[i]).toBe(one.outputs[0]!.data[0]);
    }
  });

  it('named features are put in manifest order', async () => {
    const meta = (await (await fetch(`${t.url}/v2/models/fraud`)).json()) as { name: string };
    expect(meta.name).toBe('fraud');
    const manifest = (await import('../../models/fraud/1/model.json', { with: { type: 'json' } })).default as {
      inputs: { featureNames: string[] }[];
    };
    const names = manifest.inputs[0]!.featureNames;
    expect(names.slice(0, 2)).toEqual(['amount', 'account_age_days']);
    const row = demoRow(5);
    // Send the names in reverse order: the server must reorder them.
    const named = Object.fromEntries(names.map((n, i) => [n, row[i]]).reverse());
    const a = (await (
      await postJson(`${t.url}/v2/models/fraud/infer`, {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 32], data: row }],
      })
    ).json()) as InferOut;
    let served: { version: string; outputs: { probability: number[] } };
    do served = (await (await postJson(url(), { features: named })).json()) as typeof served;
    while (served.version !== '1');
    expect(served.outputs.probability[0]).toBe(a.outputs[0]!.data[0]);
  });

  it('the same unit always gets the same arm under fixed weights, and the split follows the weights', async () => {
    const ab = `${t.url}/v1/predict/fraud-ab`;
    const arms = new Set<string>();
    for (let i = 0; i < 10; i++)
      arms.add(
        ((await (await postJson(ab, { features: demoRow(), unit: 'sticky-user' })).json()) as { arm: string }).arm,
      );
    expect(arms.size).toBe(1);
    const answers = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        postJson(ab, { features: demoRow(), unit: `unit-${i}` }).then(
          (r) => r.json() as Promise<{ arm: string; propensity: number }>,
        ),
      ),
    );
    const shareA = answers.filter((a) => a.arm === 'a').length / answers.length;
    expect(shareA).toBeGreaterThan(0.7);
    expect(shareA).toBeLessThan(0.9);
    expect(answers.find((a) => a.arm === 'b')?.propensity).toBeCloseTo(0.2, 10);
  });
});
