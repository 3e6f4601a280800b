/** `croupier` by the book (the real binary, dist/): --help on every command, --version, usage errors exit 2. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPTION_LIST } from '../../src/config/options.js';
import { ROOT } from '../helpers/server.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function croupier(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'croupier.js'), ...args],
      { env: { PATH: process.env.PATH ?? '' } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const COMMANDS = ['serve', 'status', 'deploy', 'rollback', 'routes', 'audit', 'pack', 'push', 'retrain'];

describe('help', () => {
  it.each(COMMANDS)(
    'croupier %s: --help, -h and `croupier help <command>` print its usage on stdout, exit 0',
    async (name) => {
      const long = await croupier([name, '--help']);
      expect(long.code, long.stderr).toBe(0);
      expect(long.stdout).toMatch(new RegExp(`^usage: croupier ${name}\\b`));
      expect(long.stdout).toMatch(/^ {2}-h, --help\s+show this help/m);
      expect(long.stderr).toBe('');
      expect((await croupier([name, '-h'])).stdout).toBe(long.stdout);
      expect((await croupier(['help', name])).stdout).toBe(long.stdout);
      // Help wins over whatever else is on the line, even a bad flag or missing arguments.
      const mixed = await croupier([name, '--no-such-flag', '--help']);
      expect(mixed.code).toBe(0);
      expect(mixed.stdout).toBe(long.stdout);
    },
  );

  it('croupier --help lists every command; with no command the same help goes to stderr with exit 2', async () => {
    const help = await croupier(['--help']);
    expect(help.code).toBe(0);
    for (const name of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^ {2}${name}\\s+\\S`, 'm'));
    expect((await croupier(['-h'])).stdout).toBe(help.stdout);
    const bare = await croupier([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toBe(help.stdout);
  });

  it('the admin commands list --url, --token-file, --timeout and --json with their defaults', async () => {
    for (const name of ['status', 'deploy', 'rollback', 'routes', 'audit', 'push', 'retrain']) {
      const { stdout } = await croupier([name, '--help']);
      expect(stdout, name).toMatch(/--url URL\s+.*default http:\/\/127\.0\.0\.1:8080/);
      expect(stdout, name).toMatch(/--token-file PATH\s/);
      expect(stdout, name).toMatch(/--timeout SECONDS\s+.*\(default \d+\)/);
      expect(stdout, name).toMatch(/--json\s/);
    }
    expect((await croupier(['deploy', '--help'])).stdout).toMatch(/--timeout SECONDS\s+.*\(default 600\)/);
    expect((await croupier(['status', '--help'])).stdout).toMatch(/--timeout SECONDS\s+.*\(default 30\)/);
    expect((await croupier(['pack', '--help'])).stdout).toMatch(/-o, --output FILE\s/);
  });

  it('croupier serve --help is the options table: every option with its variable and its help line', async () => {
    const { stdout } = await croupier(['serve', '--help']);
    for (const o of OPTION_LIST) {
      const line = stdout.split('\n').find((l) => l.includes(` ${o.env} `));
      expect(line, o.env).toBeDefined();
      expect(line).toContain(o.help.replace(/`/g, ''));
      if (o.flag) expect(line).toMatch(new RegExp(`^ {2}--${o.flag}\\b`));
      else expect(line).toContain('(environment only)');
    }
  });
});

describe('--version', () => {
  it("prints the package's version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await croupier(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });
});

describe('usage errors: one line on stderr, exit 2, nothing on stdout', () => {
  it.each([
    [['status', '--bogus'], 'croupier status: unknown option --bogus (see croupier status --help)'],
    [['deploy', 'fraud', '2', '-x'], 'croupier deploy: unknown option -x (see croupier deploy --help)'],
    [['pack', 'models/fraud/2', '--url', 'http://x'], 'croupier pack: unknown option --url (see croupier pack --help)'],
    [['status', '--url'], 'croupier status: --url needs a value'],
    [['push', 'a.tgz', '--timeout', '--json'], 'croupier push: --timeout needs a value'],
    [['status', '--json=yes'], 'croupier status: --json takes no value'],
    [
      ['status', '--timeout', '0'],
      'croupier status: --timeout takes a number of seconds above 0 (at most a week), got "0"',
    ],
    [
      ['status', '--timeout', 'NaN'],
      'croupier status: --timeout takes a number of seconds above 0 (at most a week), got "NaN"',
    ],
    [
      ['status', '--url', 'file:///etc/passwd'],
      'croupier status: --url takes an http:// or https:// address, got "file:///etc/passwd"',
    ],
    [['status', 'extra'], 'croupier status: usage: croupier status'],
    [['deploy', 'fraud'], 'croupier deploy: usage: croupier deploy <model> <version>'],
    [['routes', 'reset', 'a', 'b'], 'croupier routes: usage: croupier routes reset <route>'],
    [
      ['retrain', 'fraud', '--dataset', 'd'],
      'croupier retrain: --route R is required: the route whose rows train the model (see croupier retrain --help)',
    ],
    [
      ['retrain', 'fraud', '--route', 'r', '--dataset', 'd', '--tolerance', '-1'],
      'croupier retrain: --tolerance needs a value',
    ],
    [
      ['retrain', 'fraud', '--route', 'r', '--dataset', 'd', '--tolerance', 'NaN'],
      'croupier retrain: --tolerance takes an AUC difference from 0 to 1, got "NaN"',
    ],
    [['--bogus'], 'croupier: unknown option --bogus (see croupier --help)'],
    [['--version', 'extra'], 'croupier: --version takes nothing more'],
    [['launch'], 'croupier: unknown command "launch" (see croupier --help)'],
    [['help', 'launch'], 'croupier: no help for "launch" (see croupier --help)'],
    [['help', 'serve', 'now'], 'croupier: no help for "serve now" (see croupier --help)'],
    [['serve', '--bogus'], 'croupier: unknown flag --bogus (see croupier serve --help)'],
    [['serve', '-p', '9000'], 'croupier: unknown flag -p (see croupier serve --help)'],
    [['serve', '--port', '--host', 'x'], 'croupier: flag --port needs a value'],
  ])('%j', async (args, message) => {
    const r = await croupier(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${message}\n`);
  });
});
