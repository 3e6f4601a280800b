/**
 * Issue 12, finding 7, the workers' side: with the main thread freed, a deploy still held every
 * route served by the inference workers, since every worker created the new version's session at
 * once and ran no batch meanwhile (4.3 s for a 200 MB model). With two workers, one loads at a
 * time and gets no batch while it does; the other keeps serving. Measured against a real server.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, TOKEN } from '../admin/admin-client.js';
import { embeddingManifest, embeddingModel, writeVersion } from '../helpers/onnx.js';
import { copyDemoModels, postJson, startTestServer, type TestServer } from '../helpers/server.js';
import { whilePredicting } from '../helpers/while-predicting.js';

const MiB = 1024 * 1024;
let t: TestServer;
let models: string;

beforeAll(async () => {
  models = copyDemoModels();
  const small = embeddingModel(16);
  writeVersion(models, 'embed', '1', small, embeddingManifest('embed', '1', small));
  // Two workers, and no version on the main thread: every route below is served by the workers.
  t = await startTestServer({
    CROUPIER_ADMIN_TOKEN: TOKEN,
    CROUPIER_MODELS_DIR: models,
    CROUPIER_WORKERS: '2',
    CROUPIER_INLINE_MAX_US: '0',
  });
});
afterAll(async () => {
  await t?.stop();
  rmSync(models, { recursive: true, force: true });
});

describe('issue 12-7: a model load does not hold the routes served by the workers', () => {
  it('deploys a 200 MB model while a worker-served route keeps answering', async () => {
    try {
      const big = embeddingModel((200 * MiB) / 16);
      writeVersion(models, 'embed', '2', big, embeddingManifest('embed', '2', big));
      const row = Array.from({ length: 256 }, (_, i) => (i % 7) / 7);
      const body = { inputs: [{ name: 'features', shape: [1, 256], datatype: 'FP32', data: row }] };
      let deployed: Awaited<ReturnType<typeof admin>> | undefined;
      const seen = await whilePredicting(`${t.url}/v2/models/mlp/infer`, body, async () => {
        deployed = await admin(t, 'POST', '/admin/models/embed/deploy', { version: '2' });
      });
      console.log(
        `200 MB deploy, 2 workers: answered ${deployed!.status}; worst predict on mlp ${seen.worstMs.toFixed(0)} ms over ${seen.answers} answers`,
      );
      expect(deployed!.status, JSON.stringify(deployed!.body)).toBe(200);
      expect(deployed!.body).toMatchObject({ live: '2', previous: '1' });
      const listed = (await admin(t, 'GET', '/admin/models')).body.models as {
        name: string;
        versions: { version: string; runs: string }[];
      }[];
      expect(listed.find((m) => m.name === 'mlp')!.versions.map((v) => v.runs)).toEqual(['workers']);
      // Generous for a shared 2-core machine: before, the route waited seconds (every worker loading).
      expect(seen.worstMs).toBeLessThan(1000);
      const scored = await postJson(`${t.url}/v2/models/embed/infer`, {
        inputs: [{ name: 'ids', shape: [2, 1], datatype: 'INT64', data: [0, 7] }],
      });
      expect(scored.status).toBe(200);
      expect(await scored.json()).toMatchObject({
        model_version: '2',
        outputs: [{ name: 'y', shape: [2, 1, 4], data: [0, 0, 0, 0, 0, 0, 0, 0] }],
      });
    } finally {
      rmSync(join(models, 'embed', '2'), { recursive: true, force: true });
    }
  }, 180_000);
});
