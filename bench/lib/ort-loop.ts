// The in-process baseline for bench/compute.ts: onnxruntime-node in one Node process running the
// same batch over and over, as fast as it can, with a given number of threads.
//   node --import tsx bench/lib/ort-loop.ts --model PATH --rows 64 --width 256 --seconds 6
//        --sessions S --intra-op I [--output NAME]
// S sessions (each with I intra-op threads) each keep one run in flight, so S × I threads in all,
// like Croupier's S workers × I intra-op threads. Prints one JSON line: {rows, seconds, rowsPerSec, cores}.
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { makeRows } from './tensor-bodies.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    rows: { type: 'string', default: '64' },
    width: { type: 'string', default: '256' },
    seconds: { type: 'string', default: '6' },
    sessions: { type: 'string', default: '1' },
    'intra-op': { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1' },
  },
});
if (values.model === undefined) throw new Error('--model is required');
const rows = Number(values.rows);
const width = Number(values.width);
const sessionCount = Number(values.sessions);
const options: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: Number(values['intra-op']),
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
};
const sessions = await Promise.all(
  Array.from({ length: sessionCount }, () => ort.InferenceSession.create(values.model as string, options)),
);
const input = sessions[0]?.inputNames[0] ?? 'features';
const data = makeRows(rows, width);

async function loop(session: ort.InferenceSession, untilMs: number): Promise<number> {
  let done = 0;
  while (performance.now() < untilMs) {
    // A fresh tensor per run over the same bytes, as a server builds one per batch.
    await session.run({ [input]: new ort.Tensor('float32', data, [rows, width]) });
    done += rows;
  }
  return done;
}

await Promise.all(sessions.map((s) => loop(s, performance.now() + Number(values.warmup) * 1000)));
const started = performance.now();
const cpuBefore = process.cpuUsage();
const until = started + Number(values.seconds) * 1000;
const counts = await Promise.all(sessions.map((s) => loop(s, until)));
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const total = counts.reduce((a, b) => a + b, 0);
// cores: CPU time of the whole process (JS thread + ORT threads) / wall time.
process.stdout.write(
  `${JSON.stringify({ rows: total, seconds, rowsPerSec: total / seconds, cores: (cpu.user + cpu.system) / 1e6 / seconds })}\n`,
);
await Promise.all(sessions.map((s) => s.release()));
