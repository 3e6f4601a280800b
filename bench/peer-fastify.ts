// The peer: what a team writes by hand with Fastify 5 + onnxruntime-node. One session, loaded
// once; one session.run per request with a [1,32] tensor; same answer shape as Croupier.
// Session options are the defaults (intraOpNumThreads unset → ORT picks its own thread count),
// unless PEER_INTRA_OP_THREADS is set.
//   node --import tsx bench/peer-fastify.ts --port 9002 [--model models/fraud/1/model.onnx]
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import ort from 'onnxruntime-node';
import { portFromArgs } from './lib/port.js';

const INPUT = 'features';
const OUTPUT = 'probability';
const WIDTH = 32;

interface PredictBody {
  features: number[];
  unit?: string;
}

function isPredictBody(body: unknown): body is PredictBody {
  if (typeof body !== 'object' || body === null) return false;
  const f: unknown = (body as { features?: unknown }).features;
  return Array.isArray(f) && f.length === WIDTH && f.every((x) => typeof x === 'number');
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const modelPath = argValue('--model') ?? 'models/fraud/1/model.onnx';
const threadsEnv = process.env.PEER_INTRA_OP_THREADS;
const options: ort.InferenceSession.SessionOptions =
  threadsEnv === undefined ? {} : { intraOpNumThreads: Number(threadsEnv) };

const session = await ort.InferenceSession.create(modelPath, options);
if (!session.inputNames.includes(INPUT) || !session.outputNames.includes(OUTPUT)) {
  throw new Error(
    `${modelPath}: expected input '${INPUT}' and output '${OUTPUT}', `
      + `got ${session.inputNames.join(',')} -> ${session.outputNames.join(',')}`,
  );
}

const app = Fastify({ logger: false });

app.get('/healthz', async () => ({ ok: true }));

app.post<{ Params: { route: string }; Body: unknown }>('/v1/predict/:route', async (req, reply) => {
  if (!isPredictBody(req.body)) {
    return reply.code(400).send({ error: `body.features must be ${WIDTH} numbers` });
  }
  const input = new ort.Tensor('float32', Float32Array.from(req.body.features), [1, WIDTH]);
  const out = await session.run({ [INPUT]: input });
  const probability = out[OUTPUT]?.data;
  if (!(probability instanceof Float32Array)) {
    return reply.code(500).send({ error: 'model returned no probability' });
  }
  return {
    decision: randomUUID(),
    route: req.params.route,
    arm: 'champion',
    model: 'fraud',
    version: '1',
    propensity: 1,
    outputs: { probability: Array.from(probability) },
  };
});

const port = portFromArgs(process.argv.slice(2), 9002);
await app.listen({ host: '127.0.0.1', port });
process.stdout.write(
  `peer-fastify: listening on http://127.0.0.1:${port} `
    + `(model ${modelPath}, intraOpNumThreads ${threadsEnv ?? 'default'})\n`,
);

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    void app.close().then(() => process.exit(0));
  });
}
