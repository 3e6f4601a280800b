/** The admin commands of `croupier` (the real binary, dist/) against a real server. */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDemoModels, ROOT, startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'cli-test-token-123';
let t: TestServer;
let models: string;
let work: string;
beforeAll(async () => {
  models = copyDemoModels();
  work = mkdtempSync(join(tmpdir(), 'croupier-cli-'));
  t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_MODELS_DIR: models });
});
afterAll(async () => {
  await t.stop();
  rmSync(models, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function croupier(args: string[], token: string | undefined = TOKEN, url: string | null = t.url): Promise<Run> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  if (token) env.CROUPIER_ADMIN_TOKEN = token;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'croupier.js'), ...args, ...(url ? ['--url', url] : [])],
      { cwd: work, env },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('croupier admin commands', () => {
  it('status shows models, versions and which is live', async () => {
    const r = await croupier(['status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^fraud\s+1\s+live\s+(1\/1|inline)\s/m);
    const json = await croupier(['status', '--json']);
    expect((JSON.parse(json.stdout) as { models: { name: string }[] }).models.map((m) => m.name)).toEqual([
      'checkout',
      'ctr',
      'fraud',
      'mlp',
    ]);
  });

  it('deploy and rollback, with exit 1 and the server error when refused', async () => {
    const deployed = await croupier(['deploy', 'fraud', '2']);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/fraud: deployed 1 -> 2/);
    const noop = await croupier(['deploy', 'fraud', '2']);
    expect(noop.stdout).toMatch(/already live/);
    const unknown = await croupier(['deploy', 'fraud', '9']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no version "9" \(404 version_not_found\)/);
    const back = await croupier(['rollback', 'fraud', '--json']);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ live: '1', previous: '2', changed: true });
  });

  it('deploy --watch-minutes asks the gateway to watch the deploy; a bad watch is its 400', async () => {
    const refused = await croupier(['deploy', 'fraud', '2', '--watch-minutes', '30', '--watch-checks', 'speed']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/watch\.checks must list one or more of error_rate, latency, reward/);
    expect((await croupier(['deploy', 'fraud', '2', '--watch-checks', 'reward'])).code).toBe(2);
    const watched = await croupier([
      'deploy',
      'fraud',
      '2',
      '--watch-minutes',
      '30',
      '--watch-checks',
      'error_rate,reward',
      '--watch-min-samples',
      '200',
    ]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toMatch(/fraud: deployed 1 -> 2/);
    expect(watched.stdout).toMatch(/fraud: watched until \d{4}-\d\d-\d\dT/);
    expect((await croupier(['rollback', 'fraud'])).code).toBe(0);
  });

  it('routes lists, sets and resets', async () => {
    const list = await croupier(['routes']);
    expect(list.stdout).toMatch(/fraud-scoring\s+\S+\s+champion=fraud@live/);
    writeFileSync(
      join(work, 'route.json'),
      JSON.stringify({ policy: 'fixed', arms: [{ name: 'solo', model: 'fraud', version: '2' }] }),
    );
    expect((await croupier(['routes', 'set', 'solo', 'route.json'])).code).toBe(0);
    expect((await croupier(['routes'])).stdout).toMatch(/solo\s+fixed\s+solo=fraud@2/);
    expect((await croupier(['routes', 'reset', 'solo'])).stdout).toMatch(/statistics reset/);
    expect((await croupier(['routes', 'reset', 'nope'])).code).toBe(1);
    // A shadow arm is listed as one, and a contextual policy with the features it chooses on.
    writeFileSync(
      join(work, 'route.json'),
      JSON.stringify({
        policy: 'linucb',
        context: ['amount', 'card_present'],
        arms: [
          { name: 'a', model: 'fraud', version: '1' },
          { name: 'b', model: 'fraud', version: '2' },
          { name: 'peek', model: 'fraud', version: '2', shadow: 0.1 },
        ],
      }),
    );
    expect((await croupier(['routes', 'set', 'ctx', 'route.json'])).code).toBe(0);
    expect((await croupier(['routes'])).stdout).toMatch(
      /ctx\s+linucb\(amount,card_present\)\s+a=fraud@1 b=fraud@2 peek=fraud@2\(shadow 0\.1\)/,
    );
  });

  it('audit lists entries; audit verify checks the chain, and catches a tampered file', async () => {
    const list = await croupier(['audit', '--limit', '3']);
    expect(list.code).toBe(0);
    expect(list.stdout.trim().split('\n')).toHaveLength(3);
    const remote = await croupier(['audit', 'verify']);
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stdout).toMatch(/audit log intact: \d+ entries/);
    const lines = readFileSync(join(t.stateDir, 'audit.log'), 'utf8').trimEnd().split('\n');
    writeFileSync(join(work, 'good.log'), lines.join('\n') + '\n');
    expect((await croupier(['audit', 'verify', 'good.log'], undefined, null)).code).toBe(0);
    writeFileSync(
      join(work, 'edited.log'),
      lines.map((l, i) => (i === 1 ? l.replace('"admin"', '"mallory"') : l)).join('\n') + '\n',
    );
    const edited = await croupier(['audit', 'verify', 'edited.log'], undefined, null);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toMatch(/broken at line 2/);
    writeFileSync(join(work, 'deleted.log'), lines.filter((_, i) => i !== 1).join('\n') + '\n');
    expect((await croupier(['audit', 'verify', 'deleted.log'], undefined, null)).stderr).toMatch(
      /broken at line 2: sequence jumps/,
    );
  });

  it('pack then push a release; it is loaded, not live', async () => {
    const dir = join(work, 'fraud', '3');
    cpSync(join(models, 'fraud', '2'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...manifest, version: '3' }));
    const packed = await croupier(['pack', 'fraud/3', '-o', 'fraud-3.tgz'], undefined, null);
    expect(packed.code, packed.stderr).toBe(0);
    expect(packed.stdout).toMatch(/packed fraud 3 into fraud-3.tgz/);
    const pushed = await croupier(['push', 'fraud-3.tgz']);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(/pushed fraud 3 .* live is still 1/);
    expect((await croupier(['status'])).stdout).toMatch(/^fraud\s+3\s+(1\/1|inline)\s/m);
    expect((await croupier(['push', 'fraud-3.tgz'])).code).toBe(1);
  });

  it('exit 2 for usage and connection errors; a missing token is refused with a hint', async () => {
    expect((await croupier(['deploy', 'fraud'])).code).toBe(2);
    expect((await croupier(['status', '--bogus'])).code).toBe(2);
    const down = await croupier(['status'], TOKEN, 'http://127.0.0.1:1');
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/cannot reach/);
    const anonymous = await croupier(['status'], '');
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/CROUPIER_ADMIN_TOKEN/);
  });
});

describe('--token-file', () => {
  const tokenFile = (name: string, content: string, mode: number): string => {
    const file = join(work, name);
    writeFileSync(file, content);
    chmodSync(file, mode);
    return file;
  };

  it('reads the token from a file, trimmed, and wins over CROUPIER_ADMIN_TOKEN', async () => {
    const file = tokenFile('token', `  ${TOKEN}\n\n`, 0o600);
    const r = await croupier(['status', '--token-file', file], 'not-the-token');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^fraud\s+1\s/m);
    // A group-readable file is fine (a shared operators group); only "every user" is refused.
    expect((await croupier(['status', '--token-file', tokenFile('group', TOKEN, 0o640)], undefined)).code).toBe(0);
  });

  it('a wrong token from the file is refused by the server (exit 1), and never echoed', async () => {
    const wrong = 'wrong-token-from-file-0001';
    const r = await croupier(['deploy', 'fraud', '2', '--token-file', tokenFile('wrong', wrong, 0o600)], undefined);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\(401 unauthorized\)/);
    expect(r.stderr + r.stdout).not.toContain(wrong);
  });

  it.each([
    ['every user can read it', 'open', `${TOKEN}\n`, 0o644, /can be read by every user \(mode 0644\); chmod 600 /],
    ['it is empty', 'empty', ' \n', 0o600, /the token file .*empty is empty/],
    ['it holds two tokens', 'two', `${TOKEN}\nsecond-token-value\n`, 0o600, /must hold one token/],
    ['it has a space inside', 'space', 'secret token-value', 0o600, /must hold one token/],
  ])('is refused with exit 2 when %s, without showing what is in it', async (_why, name, content, mode, message) => {
    const r = await croupier(['status', '--token-file', tokenFile(name, content, mode)], undefined);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toContain('second-token-value');
    expect(r.stderr).not.toContain('token-value');
    if (content.trim() === TOKEN) expect(r.stderr).not.toContain(TOKEN);
  });

  it('a missing file is refused with exit 2 and its path', async () => {
    const r = await croupier(['status', '--token-file', join(work, 'nope')], undefined);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read the token file .*nope \(ENOENT\)/);
  });

  it('the 401 hint names both ways to give a token', async () => {
    const r = await croupier(['status'], '');
    expect(r.stderr).toMatch(/set CROUPIER_ADMIN_TOKEN or pass --token-file/);
  });
});
