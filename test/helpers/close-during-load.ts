/**
 * Run as its own process by test/inference/pool-close.test.ts: closes a two-worker pool while a
 * big version loads and warms in its workers, at several moments. Exits 0 and prints "closed N"
 * when the process survived every close (before the fix, onnxruntime-node aborted it: exit 134).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadSpec } from '../../src/inference/messages.js';
import { InferencePool } from '../../src/inference/pool.js';
import { embeddingModel } from './onnx.js';

const dir = mkdtempSync(join(tmpdir(), 'croupier-close-'));
const spec = (key: string, rows: number): LoadSpec => {
  const file = join(dir, `${rows}.onnx`);
  writeFileSync(file, embeddingModel(rows));
  return { key, file, inputs: [{ name: 'ids', type: 'int64', rowShape: [1] }], outputs: [{ name: 'y', rowSize: 4 }] };
};
const small = spec('small:1', 64);
const big = spec('big:1', 2_000_000);
const delays = [0, 10, 40];
for (const delay of delays) {
  const pool = new InferencePool({ workers: 2, intraOpThreads: 1 });
  await pool.load(small);
  const loading = pool.load(big, 64).catch(() => undefined);
  await new Promise((r) => setTimeout(r, delay));
  await pool.close();
  await loading;
}
rmSync(dir, { recursive: true, force: true });
console.log(`closed ${delays.length}`);
