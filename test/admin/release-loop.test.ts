/**
 * A push of a large release does not stall the predictions served alongside it (issue 15-4): the
 * archive inflates on zlib's thread pool and each file is hashed and written in short steps as it
 * arrives. Measured on the server's own event loop while predictions run: the CPU time its thread
 * spends between two turns of the loop (Linux schedstat: on a machine shared with other work, the
 * waits for a core are not the server's doing), and perf_hooks' event-loop delay. The archive is
 * made by the system tar and gzip and uploaded by curl, so the only work on this loop is the
 * server's and the prediction client's. The same measure of the in-memory reader (gunzipSync and
 * sha256 on the loop, as a push ran before issue 12-7) shows a stall many times the bound.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRelease } from '../../src/admin/release.js';
import { EXTENSION_BYTES, paxRecord, writeTar } from '../../src/admin/tar.js';
import { embeddingManifest, embeddingModel } from '../helpers/onnx.js';
import { copyDemoModels, demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';
import { admin, type Answer, TOKEN } from './admin-client.js';

const run = promisify(execFile);
/** Longest the loop may be held: no step of a push comes near it; the in-memory way takes seconds. */
const BOUND_MS = 100;
const MB = 1024 * 1024;

let t: TestServer;
let models: string;
let work: string;
let archive: string;
beforeAll(async () => {
  models = copyDemoModels();
  work = mkdtempSync(join(tmpdir(), 'croupier-release-loop-'));
  // 200 MB of weights drawn from 16 values: they compress about 10:1, within the bomb ratio.
  const rows = (200 * MB) / 16;
  const floats = new Float32Array(rows * 4);
  for (let i = 0, x = 12345; i < floats.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    floats[i] = ((x >>> 24) & 15) / 16;
  }
  const dir = join(work, '20');
  mkdirSync(dir);
  const bytes = embeddingModel(rows, new Uint8Array(floats.buffer));
  writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(embeddingManifest('fraud', '20', bytes)));
  writeFileSync(join(dir, 'SHA256SUMS'), (await run('sha256sum', ['model.json', 'model.onnx'], { cwd: dir })).stdout);
  archive = join(work, 'fraud-20.tgz');
  await run('sh', ['-c', `tar --format=posix -C "${dir}" -cf - . | gzip -1 > "${archive}"`]);
  t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_MODELS_DIR: models });
}, 120_000);
afterAll(async () => {
  await t?.stop();
  rmSync(models, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/**
 * The main thread's time on a core so far, in ms (Linux schedstat). On a machine shared with other
 * work, the loop also waits for a core: that wait is in the wall-clock delay but not here.
 */
const threadCpuMs = (): number =>
  Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'latin1').split(' ')[0]) / 1e6;

interface Stall {
  /** Longest delay of a 5 ms timer (perf_hooks), waiting for a core included. */
  wall: number;
  /** Most CPU time the loop's thread spent between two turns of a 1 ms timer: work that held the loop. */
  cpu: number;
}

/** The longest stall of this thread's event loop while `work` runs, in ms. */
async function longestStall(work: () => Promise<unknown>): Promise<Stall> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  let cpu = 0;
  let last = threadCpuMs();
  const tick = setInterval(() => {
    const now = threadCpuMs();
    cpu = Math.max(cpu, now - last);
    last = now;
  }, 1);
  delay.enable();
  try {
    await work();
  } finally {
    delay.disable();
    clearInterval(tick);
  }
  cpu = Math.max(cpu, threadCpuMs() - last);
  return { wall: delay.max / 1e6, cpu };
}

describe('pushing a 200 MB release', () => {
  it(`never holds the event loop for ${BOUND_MS} ms, and predictions go on`, async () => {
    let pushing = true;
    const answers: number[] = [];
    const predictOnce = async (): Promise<number> => {
      const res = await postJson(`${t.url}/v2/models/fraud/infer`, {
        inputs: [{ name: 'features', shape: [1, 32], datatype: 'FP32', data: demoRow() }],
      });
      await res.arrayBuffer();
      return res.status;
    };
    const predict = async (): Promise<void> => {
      while (pushing) answers.push(await predictOnce());
    };
    // The client's first fetch loads and compiles undici: the client's cost, before measuring.
    expect(await predictOnce()).toBe(200);
    let status = '';
    let predictions: Promise<void> = Promise.resolve();
    const started = performance.now();
    const stall = await longestStall(async () => {
      predictions = predict();
      try {
        const { stdout } = await run('curl', [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-H',
          `authorization: Bearer ${TOKEN}`,
          '-H',
          'content-type: application/gzip',
          '--data-binary',
          `@${archive}`,
          `${t.url}/admin/models/fraud/versions`,
        ]);
        status = stdout;
      } finally {
        pushing = false;
        await predictions;
      }
    });
    const took = performance.now() - started;
    console.log(
      `push of 200 MB: ${Math.round(took)} ms, longest stall ${stall.cpu.toFixed(1)} ms on a core, ${stall.wall.toFixed(1)} ms wall, ${answers.length} predictions`,
    );
    expect(status).toBe('201');
    expect(readFileSync(join(models, 'fraud', '20', 'SHA256SUMS'), 'utf8')).toContain('model.onnx');
    expect(answers.length).toBeGreaterThan(10);
    expect(answers.every((s) => s === 200)).toBe(true);
    expect(stall.cpu).toBeLessThan(BOUND_MS);
    // Waiting for a core on a busy machine stretches the wall-clock delay; still far from seconds.
    expect(stall.wall).toBeLessThan(10 * BOUND_MS);
  }, 120_000);

  it('a flood of tiny pax records is read in short steps', async () => {
    // Extension entries are parsed whole, in one step each: as large as allowed, as many records
    // as fit, one before each of 60 files (within the entry limit and the first 4 MiB inflated).
    const record = paxRecord('a', 'b');
    const records = Buffer.concat(Array(Math.floor(EXTENSION_BYTES / record.length)).fill(record));
    const flood = Array.from({ length: 60 }, (_, i) => [
      { name: `PaxHeader/f${i}`, type: 'x', data: records },
      { name: `f${i}.bin`, data: Buffer.from('x') },
    ]).flat();
    const body = gzipSync(writeTar(flood));
    let res: Answer | undefined;
    // The client's first fetch loads and compiles undici: the client's cost, before measuring.
    await admin(t, 'GET', '/admin/models');
    const stall = await longestStall(async () => {
      res = await admin(t, 'POST', '/admin/models/fraud/versions', body, { 'content-type': 'application/gzip' });
    });
    console.log(`pax flood: longest stall ${stall.cpu.toFixed(1)} ms on a core, ${stall.wall.toFixed(1)} ms wall`);
    // Read through, then refused for what the files are (no SHA256SUMS), not for their headers.
    expect(res?.status, JSON.stringify(res?.body)).toBe(422);
    expect(stall.cpu).toBeLessThan(BOUND_MS);
  });

  it('the measure catches a stall: the in-memory reader (how a push ran before 12-7) takes longer', async () => {
    const bytes = readFileSync(archive);
    const stall = await longestStall(async () => {
      await new Promise((r) => setTimeout(r, 20));
      openRelease(bytes);
      await new Promise((r) => setTimeout(r, 20));
    });
    console.log(`in memory: longest stall ${stall.cpu.toFixed(1)} ms on a core, ${stall.wall.toFixed(1)} ms wall`);
    expect(stall.cpu).toBeGreaterThan(3 * BOUND_MS);
  }, 60_000);
});
