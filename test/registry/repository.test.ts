/** A bad version is refused with its reason; the good ones keep serving. */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanRepository } from '../../src/registry/repository.js';
import { tinyManifest, tinyModel, writeVersion } from '../helpers/onnx.js';
import { postJson, startTestServer, type TestServer } from '../helpers/server.js';

let root: string;
let outside: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'croupier-repo-'));
  outside = mkdtempSync(join(tmpdir(), 'croupier-outside-'));
  writeVersion(root, 'tiny', '1', tinyModel({ bias: 1 }));
  writeVersion(root, 'tiny', '2', tinyModel({ bias: 2 }));
  // 3: the file does not match its sha256.
  const three = tinyModel({ bias: 3 });
  writeVersion(root, 'tiny', '3', three, tinyManifest('tiny', '3', tinyModel({ bias: 30 })));
  // 4: external data that leaves the version folder (onnx CVE-2024-5187 class).
  writeFileSync(join(outside, 'secret.bin'), Buffer.alloc(16));
  writeVersion(
    root,
    'tiny',
    '4',
    tinyModel({ externalLocation: '../../../' + outside.split('/').pop() + '/secret.bin' }),
  );
  // 5: an operator from a custom domain (would need a custom-op library).
  writeVersion(root, 'tiny', '5', tinyModel({ domain: 'com.evil.ops' }));
  // 6: a manifest that names an input the graph does not have.
  const six = tinyModel();
  writeVersion(
    root,
    'tiny',
    '6',
    six,
    tinyManifest('tiny', '6', six, { inputs: [{ name: 'nope', datatype: 'FP32', shape: [-1, 4] }] }),
  );
  // 7: a symlinked version folder pointing outside the repository.
  writeVersion(outside, 'elsewhere', '1', tinyModel());
  symlinkSync(join(outside, 'elsewhere', '1'), join(root, 'tiny', '7'));
  // 8: external data inside the folder is fine.
  const eight = tinyModel({ externalLocation: 'weights.bin' });
  const dir8 = writeVersion(root, 'tiny', '8', eight);
  writeFileSync(join(dir8, 'weights.bin'), Buffer.from(new Float32Array(4).fill(8).buffer));
  // A model folder whose name is not an id, and a manifest that is not JSON.
  mkdirSync(join(root, 'bad name'));
  mkdirSync(join(root, 'broken', '1'), { recursive: true });
  writeFileSync(join(root, 'broken', '1', 'model.json'), '{ nope');
  writeFileSync(join(root, 'tiny', 'LIVE'), '2\n');
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('repository scan', () => {
  it('keeps the good versions and refuses each bad one with its reason', () => {
    const scan = scanRepository(root);
    expect([...scan.models.get('tiny')!.versions.keys()].sort()).toEqual(['1', '2', '8']);
    expect(scan.models.get('tiny')!.liveFile).toBe('2');
    const reasons = Object.fromEntries(scan.refused.map((r) => [`${r.model}@${r.version}`, r.reason]));
    expect(reasons['tiny@3']).toMatch(/sha256 mismatch/);
    expect(reasons['tiny@4']).toMatch(/outside its version folder/);
    expect(reasons['tiny@5']).toMatch(/custom operators from domain "com.evil.ops"/);
    expect(reasons['tiny@6']).toMatch(/manifest input "nope" is not a graph input/);
    expect(reasons['tiny@7']).toMatch(/link/);
    expect(reasons['bad name@*']).toMatch(/not an id/);
    expect(reasons['broken@1']).toMatch(/model.json is missing or not JSON/);
    expect(scan.models.has('broken')).toBe(false);
  });
});

describe('serving from a repository with bad versions', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_MODELS_DIR: root, CROUPIER_LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('serves the good versions, logs each refusal, and the live version is the LIVE file', async () => {
    const refusals = t.logs
      .filter((l) => l.msg === 'model version refused')
      .map((l) => `${String(l.model)}@${String(l.version)}`);
    expect(refusals).toEqual(expect.arrayContaining(['tiny@3', 'tiny@4', 'tiny@5', 'tiny@6', 'tiny@7']));
    const res = await postJson(`${t.url}/v2/models/tiny/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [0, 1, 2, 3] }],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ model_version: '2', outputs: [{ name: 'y', data: [2, 3, 4, 5] }] });
    const eight = await postJson(`${t.url}/v2/models/tiny/versions/8/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [0, 0, 0, 0] }],
    });
    expect(await eight.json()).toMatchObject({ outputs: [{ data: [8, 8, 8, 8] }] });
    expect((await postJson(`${t.url}/v2/models/tiny/versions/3/infer`, { inputs: [] })).status).toBe(404);
  });
});
