/** GET /admin/models/{model}/versions/{version}/release: a version as the release archive `croupier pack` makes. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRelease } from '../../src/admin/release.js';
import { DEMO_MODELS, startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'release-admin-token-1';
const VIEWER = 'release-viewer-token-1';
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ CROUPIER_ADMIN_TOKENS: `ops:${ADMIN},dash:${VIEWER}:viewer` });
});
afterAll(async () => {
  await t.stop();
});

const get = (path: string, token?: string): Promise<Response> =>
  fetch(t.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('reading a version as a release archive', () => {
  it('gives the manifest and the model file, checked like an upload, to an admin or a viewer', async () => {
    for (const token of [ADMIN, VIEWER]) {
      const res = await get('/admin/models/fraud/versions/2/release', token);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/gzip');
      const release = openRelease(Buffer.from(await res.arrayBuffer()));
      expect([release.model, release.version]).toEqual(['fraud', '2']);
      const onnx = readFileSync(join(DEMO_MODELS, 'fraud', '2', 'model.onnx'));
      expect(release.sha256).toBe(createHash('sha256').update(onnx).digest('hex'));
      expect(release.files.get('model.onnx')!.equals(onnx)).toBe(true);
      expect(release.manifest.monitor).toEqual({ score: 'probability', threshold: 0.5, positive: 1 });
    }
  });

  it('refuses an unknown model or version (404 with its code), and a caller without a token (401)', async () => {
    const version = await get('/admin/models/fraud/versions/9/release', ADMIN);
    expect(version.status).toBe(404);
    expect(((await version.json()) as { error: { code: string } }).error.code).toBe('version_not_found');
    const model = await get('/admin/models/nope/versions/1/release', ADMIN);
    expect(model.status).toBe(404);
    expect(((await model.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    const bad = await get('/admin/models/fraud/versions/..%2F..%2Fetc/release', ADMIN);
    expect(bad.status).toBe(404);
    expect((await get('/admin/models/fraud/versions/1/release')).status).toBe(401);
  });
});
