/** Releases: pack -> push -> deploy round trip; push refuses what does not check out. */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRelease, packRelease } from '../../src/admin/release.js';
import { readTar, tarHeader, writeTar } from '../../src/admin/tar.js';
import { embeddingManifest, embeddingModel, writeVersion } from '../helpers/onnx.js';
import { copyDemoModels, demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';
import { admin, TOKEN } from './admin-client.js';

let t: TestServer;
let models: string;
let work: string;
beforeAll(async () => {
  models = copyDemoModels();
  work = mkdtempSync(join(tmpdir(), 'croupier-release-'));
  t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_MODELS_DIR: models });
});
afterAll(async () => {
  await t.stop();
  rmSync(models, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** A copy of fraud/2 renamed to `version`, as a folder `<work>/fraud/<version>`. */
function versionFolder(version: string): string {
  const dir = join(work, 'fraud', version);
  cpSync(join(models, 'fraud', '2'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  manifest.version = version;
  writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

const push = (archive: Uint8Array, model = 'fraud', type = 'application/gzip') =>
  admin(t, 'POST', `/admin/models/${model}/versions`, archive, { 'content-type': type });

/** The files of a packed release, to rebuild hostile variants of it. */
function filesOf(archive: Buffer): { name: string; data: Buffer }[] {
  return [...openRelease(archive).files].map(([name, data]) => ({ name, data }));
}

describe('tar', () => {
  it('round-trips files', () => {
    const entries = readTar(
      writeTar([
        { name: 'a.txt', data: Buffer.from('hello') },
        { name: 'b.bin', data: Buffer.alloc(1000, 7) },
      ]),
    );
    expect(entries.map((e) => [e.name, e.type, e.data.length])).toEqual([
      ['a.txt', '0', 5],
      ['b.bin', '0', 1000],
    ]);
  });
});

describe('pack -> push -> deploy', () => {
  it('uploads a version, loads it without deploying, then deploys it', async () => {
    const packed = packRelease(versionFolder('5'));
    expect(packed).toMatchObject({ model: 'fraud', version: '5' });
    const res = await push(packed.archive);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ model: 'fraud', version: '5', sha256: packed.sha256, live: '1' });
    expect(existsSync(join(models, 'fraud', '5', 'model.onnx'))).toBe(true);
    expect(readdirSync(join(models, '.incoming'))).toEqual([]);
    const again = await push(packed.archive);
    expect(again.status).toBe(409);
    expect((await admin(t, 'POST', '/admin/models/fraud/deploy', { version: '5' })).body).toMatchObject({
      live: '5',
      previous: '1',
    });
    const scored = await postJson(`${t.url}/v2/models/fraud/infer`, {
      inputs: [{ name: 'features', shape: [1, 32], datatype: 'FP32', data: demoRow() }],
    });
    expect(((await scored.json()) as { model_version: string }).model_version).toBe('5');
    expect((await admin(t, 'POST', '/admin/models/fraud/rollback')).body.live).toBe('1');
  });
});

describe('a big release', () => {
  it('streams in: 32 MB of weights that hardly compress, unpacked as they arrive', async () => {
    const rows = 2 * 1024 * 1024;
    // Random weights, each float kept finite (a random exponent of all ones is NaN or ±Inf, and the
    // warm-up refuses a non-finite output: 1 run in about 60 failed so in CI).
    const table = randomBytes(rows * 16);
    for (let i = 3; i < table.length; i += 4) table[i]! &= 0xbf;
    const bytes = embeddingModel(rows, table);
    const packed = packRelease(writeVersion(work, 'fraud', '9', bytes, embeddingManifest('fraud', '9', bytes)));
    const res = await push(packed.archive);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(readFileSync(join(models, 'fraud', '9', 'model.onnx')).equals(Buffer.from(bytes))).toBe(true);
  }, 60_000);

  it('a client that goes away half-way through an upload leaves nothing behind', async () => {
    const archive = packRelease(versionFolder('10')).archive;
    const socket = connect(Number(new URL(t.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /admin/models/fraud/versions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/gzip\r\ncontent-length: ${archive.length + 1_000_000}\r\n\r\n`,
    );
    socket.write(archive.subarray(0, archive.length >> 1));
    // The upload is being unpacked into its staging folder...
    for (let i = 0; i < 100 && readdirSync(join(models, '.incoming')).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(join(models, '.incoming')).length).toBe(1);
    socket.destroy();
    for (let i = 0; i < 100 && readdirSync(join(models, '.incoming')).length > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(join(models, '.incoming'))).toEqual([]);
    expect(existsSync(join(models, 'fraud', '10'))).toBe(false);
    expect((await push(archive)).status).toBe(201);
  });
});

describe('push refuses', () => {
  const expectRefused = async (
    archive: Uint8Array,
    status: number,
    pattern: RegExp,
    model = 'fraud',
    type?: string,
  ): Promise<void> => {
    const res = await push(archive, model, type);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.error!.message).toMatch(pattern);
    for (const v of ['6', '7', '8']) expect(existsSync(join(models, 'fraud', v))).toBe(false);
  };

  it('a bad checksum', async () => {
    const files = filesOf(packRelease(versionFolder('6')).archive);
    const onnx = files.find((f) => f.name === 'model.onnx')!;
    onnx.data = Buffer.concat([onnx.data, Buffer.from([0])]);
    await expectRefused(gzipSync(writeTar(files)), 422, /checksum mismatch for model\.onnx/);
  });

  it('entries that escape their folder, links and sub-folders', async () => {
    const files = filesOf(packRelease(versionFolder('7')).archive);
    for (const [extra, pattern] of [
      [{ name: '../../evil.onnx', data: Buffer.from('x') }, /escapes its folder/],
      [{ name: '/etc/cron.d/evil', data: Buffer.from('x') }, /escapes its folder/],
      [{ name: 'link.onnx', type: '2', linkTarget: '/etc/passwd' }, /link/],
      [{ name: 'hard', type: '1', linkTarget: '../1/model.onnx' }, /link/],
      [{ name: 'sub/model.onnx', data: Buffer.from('x') }, /sub-folder/],
    ] as const) {
      await expectRefused(gzipSync(writeTar([...files, extra])), 400, pattern);
    }
    expect(existsSync(join(models, 'evil.onnx'))).toBe(false);
  });

  it('a release for another model, an existing version, junk, and the wrong content type', async () => {
    const archive = packRelease(versionFolder('8')).archive;
    await expectRefused(archive, 400, /for model "fraud", not "ctr"/, 'ctr');
    await expectRefused(packRelease(join(models, 'fraud', '2')).archive, 409, /already has version "2"/);
    await expectRefused(Buffer.from('not a gzip at all'), 400, /gzip/);
    await expectRefused(gzipSync(Buffer.from('not a tar')), 400, /tar/);
    await expectRefused(archive, 415, /application\/gzip/, 'fraud', 'application/json');
    await expectRefused(archive, 404, /no model/, 'nope');
  });

  it('archives past their limits, as soon as the limit is crossed, leaving nothing behind', async () => {
    const files = filesOf(packRelease(versionFolder('6')).archive);
    const many = Array.from({ length: 257 }, (_, i) => ({ name: `f${i}.bin`, data: Buffer.from('x') }));
    const res = await push(gzipSync(writeTar([...files, ...many])));
    expect(res.status, JSON.stringify(res.body)).toBe(413);
    expect(res.body.error).toMatchObject({
      code: 'release_too_large',
      message: expect.stringMatching(/more than 256 files/),
    });
    // A header that declares a 2 MiB model.json is refused at the header, before any of it inflates.
    const meta = await push(gzipSync(Buffer.concat([tarHeader('model.json', 2 * 1024 * 1024), Buffer.alloc(1024)])));
    expect(meta.status).toBe(413);
    expect(meta.body.error!.message).toMatch(/model\.json is 2097152 bytes/);
    // A truncated archive is malformed, not too large.
    const whole = gzipSync(writeTar(files));
    await expectRefused(whole.subarray(0, whole.length - 100), 400, /gzip|truncated|end-of-archive/);
    expect(readdirSync(join(models, '.incoming'))).toEqual([]);
  });
});
