/**
 * A half-written export never looks complete: the real `croupier export` (dist/) reading from a
 * gateway that stalls, then is killed, or whose answer is cut short, leaves no dataset.json — not
 * even the one a previous export left in the folder.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowLine } from '../../src/retrain/dataset-row.js';
import { until } from '../helpers/redis.js';
import { spawnCroupier } from '../helpers/process.js';

const TOKEN = 'export-token-1234';
const work = mkdtempSync(join(tmpdir(), 'croupier-export-'));
const now = Date.now();
const line = (n: number): string =>
  rowLine({
    decision: `d${n}`,
    atMs: now - 1000,
    route: 'r',
    arm: 'a',
    model: 'm',
    version: '1',
    propensity: 1,
    score: 0.5,
    features: { x: n },
    reward: 1,
    label: 1,
    outcomeAtMs: now,
  });
// More than the export spools at a time (1 MB), so that the spool shows on disk before the stall.
const ROWS = Array.from({ length: 12_000 }, (_, n) => line(n)).join('\n') + '\n';

/** What the gateway does after sending its rows: stall (never end), or drop the connection. */
let after: 'stall' | 'cut' = 'stall';
const stalled: ServerResponse[] = [];
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(ROWS);
    if (after === 'cut') setTimeout(() => res.destroy(), 50);
    else stalled.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const res of stalled) res.destroy();
  await new Promise((resolve) => server.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

function exportInto(dir: string) {
  // A dataset.json from an earlier export: it must be gone before anything new is written.
  writeFileSync(join(dir, 'dataset.json'), '{"rows": 1}');
  return spawnCroupier(['export', '--route', 'r', '--since', '7d', '-o', dir, '--url', url], {
    CROUPIER_ADMIN_TOKEN: TOKEN,
  });
}

describe('an interrupted export', () => {
  it('killed midway leaves no dataset.json', async () => {
    after = 'stall';
    const dir = mkdtempSync(join(work, 'killed-'));
    const child = exportInto(dir);
    const spool = join(dir, '.rows.ndjson.partial');
    await until('the export to spool rows', async () => existsSync(spool) && statSync(spool).size > 0, 20_000);
    child.proc.kill('SIGKILL');
    await child.exited;
    expect(readdirSync(dir)).not.toContain('dataset.json');
  });

  it('cut short by the gateway fails with exit 2, saying so, and leaves no dataset.json or parts', async () => {
    after = 'cut';
    const dir = mkdtempSync(join(work, 'cut-'));
    const child = exportInto(dir);
    expect(await child.exited).toBe(2);
    expect(child.stderr.join('')).toMatch(/cut short after [\d,]+ rows.*nothing was exported/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
