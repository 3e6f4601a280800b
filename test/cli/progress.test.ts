/**
 * Long commands (the real binary): pack and push show their bytes on stderr as they go, push then
 * the wait for the gateway's load and warm-up; --timeout stops each with exit 124 and says what
 * timed out.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packRelease } from '../../src/admin/release.js';
import { showWaiting, TransferProgress, type Terminal } from '../../src/cli/progress.js';
import { copyDemoModels, ROOT, startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'progress-test-token-77';
let t: TestServer;
let models: string;
let work: string;
/** A gateway that takes the whole request and never answers: what a load that hangs looks like from the CLI. */
let silent: Server;
let silentUrl: string;

beforeAll(async () => {
  models = copyDemoModels();
  work = mkdtempSync(join(tmpdir(), 'croupier-cli-progress-'));
  // fraud/3: version 2's model with 3 MiB that does not compress, so the bytes take many chunks.
  const dir = join(work, 'fraud', '3');
  cpSync(join(models, 'fraud', '2'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...manifest, version: '3' }));
  writeFileSync(join(dir, 'calibration.bin'), randomBytes(3 * 1024 * 1024));
  t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_MODELS_DIR: models });
  silent = createServer((req) => req.resume());
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
});
afterAll(async () => {
  silent.closeAllConnections();
  silent.close();
  await t.stop();
  rmSync(models, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function croupier(args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'croupier.js'), ...args],
      { cwd: work, env: { PATH: process.env.PATH ?? '', CROUPIER_ADMIN_TOKEN: TOKEN } },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** The percentages of `label: X of Y (P%)` lines. */
const percents = (stderr: string, label: string): number[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith(`${label}: `))
    .map((l) => Number(/\((\d+)%\)$/.exec(l)?.[1]));

describe('pack', () => {
  it('shows a line per 10% on stderr when it is not a terminal, and writes the archive packRelease makes', async () => {
    const r = await croupier(['pack', 'fraud/3', '-o', 'fraud-3.tgz']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^packed fraud 3 into fraud-3.tgz \(\d+ bytes, sha256 [0-9a-f]{12}\)\n$/);
    const shown = percents(r.stderr, 'pack fraud 3');
    expect(shown.length).toBeGreaterThanOrEqual(3);
    expect(shown.length).toBeLessThanOrEqual(10);
    expect(shown.at(-1)).toBe(100);
    expect([...shown].sort((a, b) => a - b)).toEqual(shown);
    expect(r.stderr).toMatch(/^pack fraud 3: 3\.\d MiB of 3\.\d MiB \(100%\)$/m);
    // Streamed through gzip, the same tar as the in-memory packer.
    const archive = readFileSync(join(work, 'fraud-3.tgz'));
    expect(gunzipSync(archive).equals(gunzipSync(packRelease(join(work, 'fraud', '3')).archive))).toBe(true);
    expect(readdirSync(work).filter((f) => f.includes('.partial-'))).toEqual([]);
  });

  it('--timeout stops it with exit 124, says what timed out, and leaves no file behind', async () => {
    const r = await croupier(['pack', 'fraud/3', '-o', 'late.tgz', '--timeout', '0.001']);
    expect(r.code).toBe(124);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^croupier pack: timed out after 0\.001 s packing fraud\/3 into late\.tgz \(/m);
    expect(existsSync(join(work, 'late.tgz'))).toBe(false);
    expect(readdirSync(work).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});

describe('push', () => {
  it('shows the bytes sent, then the gateway loads the version', async () => {
    if (!existsSync(join(work, 'fraud-3.tgz'))) await croupier(['pack', 'fraud/3', '-o', 'fraud-3.tgz']);
    const r = await croupier(['push', 'fraud-3.tgz', '--url', t.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pushed fraud 3 .* live is still 1/);
    const shown = percents(r.stderr, 'push fraud-3.tgz');
    expect(shown.length).toBeGreaterThanOrEqual(5);
    expect(shown.length).toBeLessThanOrEqual(10);
    expect(shown.at(-1)).toBe(100);
    expect([...shown].sort((a, b) => a - b)).toEqual(shown);
    const status = await croupier(['status', '--url', t.url]);
    expect(status.stdout).toMatch(/^fraud\s+3\s+(1\/1|inline)\s/m);
  });

  it('--timeout while the gateway loads: exit 124, what it waited for, and that it may still finish', async () => {
    const r = await croupier(['push', 'fraud-3.tgz', '--url', silentUrl, '--timeout', '3']);
    expect(r.code).toBe(124);
    expect(r.stdout).toBe('');
    // The upload went through, then the wait was shown (after a quiet second), then the timeout.
    expect(percents(r.stderr, 'push fraud-3.tgz').at(-1)).toBe(100);
    expect(r.stderr).toMatch(/^loading and warming fraud 3 in every worker… \(\d s\)$/m);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe(
      'croupier push: timed out after 3 s waiting for the gateway to load and warm fraud 3 in every worker; '
        + 'the gateway may still finish it (see croupier status)',
    );
    expect(r.ms).toBeLessThan(10_000);
  });
});

describe('deploy, rollback, status', () => {
  it.each([
    [
      ['deploy', 'fraud', '2'],
      'waiting for the gateway to load and warm fraud 2 in every worker and put it live; the gateway may still finish it (see croupier status)',
    ],
    [
      ['rollback', 'fraud'],
      'waiting for the gateway to load and warm the earlier version of fraud and put it live; the gateway may still finish it (see croupier status)',
    ],
  ])('%j --timeout: exit 124 and what it waited for', async (args, doing) => {
    const r = await croupier([...args, '--url', silentUrl, '--timeout', '2']);
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/ in every worker… \(\d s\)\n/);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe(`croupier ${args[0]}: timed out after 2 s ${doing}`);
  });

  it('a read times out sooner by default, and says which answer it waited for', async () => {
    const r = await croupier(['status', '--url', silentUrl, '--timeout', '0.5']);
    expect(r.code).toBe(124);
    expect(r.stderr).toBe(
      `croupier status: timed out after 0.5 s waiting for ${silentUrl} to answer GET /admin/models\n`,
    );
  });

  it('a quick deploy shows no waiting line', async () => {
    const r = await croupier(['deploy', 'fraud', '2', '--url', t.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('on a terminal', () => {
  const terminal = (): Terminal & { text: string } => {
    const term = {
      isTTY: true,
      text: '',
      write(s: string) {
        term.text += s;
      },
    };
    return term;
  };

  it('bytes are one line redrawn in place, at most every 100 ms, and kept when done', () => {
    const term = terminal();
    const progress = new TransferProgress(term, 'push a.tgz', 4 * 1024 * 1024);
    for (let mib = 1; mib <= 4; mib++) progress.update(mib * 1024 * 1024);
    // The first draw, none within 100 ms, and the final one.
    expect(term.text).toBe(
      '\r\x1b[2Kpush a.tgz: 1.0 MiB of 4.0 MiB (25%)' + '\r\x1b[2Kpush a.tgz: 4.0 MiB of 4.0 MiB (100%)\n',
    );
  });

  it('the wait counts seconds in place and clears its line when the answer comes', async () => {
    const term = terminal();
    const stop = showWaiting(term, 'loading and warming fraud 3 in every worker', 10);
    await new Promise((r) => setTimeout(r, 60));
    stop();
    expect(term.text).toBe('\r\x1b[2Kloading and warming fraud 3 in every worker… 0 s\r\x1b[2K');
  });
});
