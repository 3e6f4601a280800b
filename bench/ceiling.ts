// The ceiling: a bare uWebSockets.js server that reads and parses the body and answers a fixed
// JSON about the size of a real prediction. Nothing a gateway does can be faster than this.
//   node --import tsx bench/ceiling.ts --port 9001
import uWS from 'uWebSockets.js';
import { portFromArgs } from './lib/port.js';

const ANSWER = JSON.stringify({
  decision: 'x'.repeat(26),
  route: 'fraud-scoring',
  arm: 'champion',
  model: 'fraud',
  version: '1',
  propensity: 0.5,
  outputs: { probability: [0.5] },
});
const BAD_REQUEST = JSON.stringify({ error: 'invalid JSON body' });

function readBody(res: uWS.HttpResponse, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.onData((chunk, isLast) => {
    // uWS neuters the ArrayBuffer after the callback returns: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (isLast) done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  });
}

const port = portFromArgs(process.argv.slice(2), 9001);
const app = uWS.App();

/** Reads and parses the body, then answers `answer` with `status` (400 if it is not JSON). */
function parsingHandler(status: string, answer: string) {
  return (res: uWS.HttpResponse): void => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    readBody(res, (body) => {
      if (aborted) return;
      let ok = true;
      try {
        JSON.parse(body.toString('utf8'));
      } catch {
        ok = false;
      }
      res.cork(() => {
        res
          .writeStatus(ok ? status : '400 Bad Request')
          .writeHeader('Content-Type', 'application/json')
          .end(ok ? answer : BAD_REQUEST);
      });
    });
  };
}

app.post('/v1/predict/:route', parsingHandler('200 OK', ANSWER));
// The same for the feedback endpoint: parse the outcome, answer what Croupier answers.
app.post('/v1/feedback', parsingHandler('202 Accepted', JSON.stringify({ accepted: 1 })));

app.get('/healthz', (res) => {
  res.end('ok');
});

app.any('/*', (res) => {
  res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json').end('{"error":"not found"}');
});

app.listen('127.0.0.1', port, (socket) => {
  if (!socket) {
    process.stderr.write(`ceiling: could not listen on 127.0.0.1:${port}\n`);
    process.exit(1);
  }
  process.stdout.write(`ceiling: listening on http://127.0.0.1:${port}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
