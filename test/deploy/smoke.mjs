// Smoke test of a built Croupier: run by the Dockerfile inside the image (as the app user, on the
// image's Node and uWS build), and runnable by hand from a checkout after `npm run build`:
//   node test/deploy/smoke.mjs
// Starts `croupier serve` from the current directory with a throw-away state dir, waits for
// readiness, scores one row, sends SIGTERM and expects a clean exit 0. It never sets
// CROUPIER_ALLOW_SLOW_HTTP, so it fails where uWS fell back to its slow shim.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const port = Number(process.env.SMOKE_PORT || 18080);
const base = `http://127.0.0.1:${port}`;
const stateDir = mkdtempSync(join(tmpdir(), 'croupier-smoke-'));
const env = { ...process.env, CROUPIER_HOST: '127.0.0.1', CROUPIER_PORT: String(port), CROUPIER_STATE_DIR: stateDir };
delete env.CROUPIER_ALLOW_SLOW_HTTP;
delete env.CROUPIER_REDIS_URL;

const server = spawn(process.execPath, ['bin/croupier.js', 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
let done = false;

function fail(message) {
  console.error(`smoke: ${message}`);
  if (!done) server.kill('SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
  process.exit(1);
}

async function waitReady(deadline) {
  while (Date.now() < deadline) {
    const early = await Promise.race([exited, new Promise((r) => setTimeout(r, 250, undefined).unref())]);
    if (early) fail(`server exited before ready (code ${early.code}, signal ${early.signal})`);
    try {
      const res = await fetch(`${base}/v2/health/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
  }
  fail('not ready within 90 s');
}

await waitReady(Date.now() + 90_000);
const live = await fetch(`${base}/v2/health/live`);
if (live.status !== 200) fail(`/v2/health/live answered ${live.status}`);
const predict = await fetch(`${base}/v1/predict/fraud-scoring`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ features: new Array(32).fill(0.5), unit: 'smoke' }),
});
const body = await predict.json().catch(() => undefined);
if (predict.status !== 200 || typeof body?.decision !== 'string' || body?.outputs === undefined) {
  fail(`predict answered ${predict.status} ${JSON.stringify(body)}`);
}
server.kill('SIGTERM');
const result = await Promise.race([exited, new Promise((r) => setTimeout(r, 40_000, undefined).unref())]);
done = true;
if (!result) fail('did not exit within 40 s of SIGTERM');
if (result.code !== 0) fail(`exit code ${result.code} (signal ${result.signal}) after SIGTERM`);
rmSync(stateDir, { recursive: true, force: true });
console.log(`smoke: ok on node ${process.version} (ready, predict ${body.model}/${body.version}, clean drain)`);
