/**
 * Release archives as people make them (issue 15-4): the system tar in its pax, GNU and ustar
 * formats, `git archive`, and macOS tar (pax headers with extended attributes, AppleDouble `._`
 * files); and the tricks pax and GNU headers allow (a pax `path` with `..`, a pax `size` that lies,
 * records that lie about their length), refused as the archive streams in, leaving nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRelease, packRelease } from '../../src/admin/release.js';
import { paxRecord, readTar, tarHeader, writeTar } from '../../src/admin/tar.js';
import { copyDemoModels, startTestServer, type TestServer } from '../helpers/server.js';
import { admin, TOKEN } from './admin-client.js';

let t: TestServer;
let models: string;
let work: string;
beforeAll(async () => {
  models = copyDemoModels();
  work = mkdtempSync(join(tmpdir(), 'croupier-release-tar-'));
  t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_MODELS_DIR: models });
});
afterAll(async () => {
  await t.stop();
  rmSync(models, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** 120 characters: more than a ustar header's 100, within a release's 128. */
const LONG_NAME = `calibration-${'x'.repeat(100)}-table.json`;

/**
 * A copy of fraud/2 as version `version`, with SHA256SUMS written by `croupier pack` (and a file
 * with a long name when asked), unpacked into a folder for the system tar: `<work>/<version>`.
 */
function releaseFolder(version: string, extra: Record<string, string> = {}): string {
  const source = join(work, 'src', 'fraud', version);
  cpSync(join(models, 'fraud', '2'), source, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(source, 'model.json'), 'utf8')) as Record<string, unknown>;
  manifest.version = version;
  writeFileSync(join(source, 'model.json'), JSON.stringify(manifest, null, 2));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(source, name), text);
  const dir = join(work, version);
  mkdirSync(dir);
  for (const [name, data] of openRelease(packRelease(source).archive).files) writeFileSync(join(dir, name), data);
  return dir;
}

/** The files of a release folder, as entries for hand-made archives. */
const entriesOf = (dir: string): { name: string; data: Buffer }[] =>
  readdirSync(dir)
    .sort()
    .map((name) => ({ name, data: readFileSync(join(dir, name)) }));

const tarGz = (dir: string, ...args: string[]): Buffer => execFileSync('tar', [...args, '-C', dir, '-czf', '-', '.']);

const push = (archive: Uint8Array) =>
  admin(t, 'POST', '/admin/models/fraud/versions', archive, { 'content-type': 'application/gzip' });

async function expectPushed(archive: Buffer, version: string, dir: string): Promise<void> {
  const res = await push(archive);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body).toMatchObject({ model: 'fraud', version });
  const installed = readdirSync(join(models, 'fraud', version)).sort();
  expect(installed).toEqual(readdirSync(dir).sort());
  for (const name of installed)
    expect(readFileSync(join(models, 'fraud', version, name)).equals(readFileSync(join(dir, name)))).toBe(true);
  expect(readdirSync(join(models, '.incoming'))).toEqual([]);
}

describe('archives made by the system tar and git', () => {
  it('tar --format=posix: a pax header before every entry', async () => {
    const dir = releaseFolder('11');
    const archive = tarGz(dir, '--format=posix');
    expect(readTar(execFileSync('gzip', ['-dc'], { input: archive })).map((e) => e.name)).toContain('./model.onnx');
    expect(openRelease(archive)).toMatchObject({ model: 'fraud', version: '11' });
    await expectPushed(archive, '11', dir);
  });

  it('tar --format=posix and --format=gnu with a file name longer than a ustar header holds', async () => {
    for (const [version, format] of [
      ['12', 'posix'],
      ['13', 'gnu'],
    ] as const) {
      const dir = releaseFolder(version, { [LONG_NAME]: '{"bins": [0.1, 0.5, 0.9]}\n' });
      const archive = tarGz(dir, `--format=${format}`);
      expect(openRelease(archive).files.has(LONG_NAME)).toBe(true);
      await expectPushed(archive, version, dir);
      expect(existsSync(join(models, 'fraud', version, LONG_NAME))).toBe(true);
    }
  });

  it('croupier pack writes long names in pax headers, which GNU tar reads back', () => {
    const dir = releaseFolder('14', { [LONG_NAME]: '{}\n' });
    const list = execFileSync('tar', ['-tzf', '-'], { input: packRelease(join(work, 'src', 'fraud', '14')).archive });
    expect(list.toString().split('\n')).toContain(LONG_NAME);
    rmSync(dir, { recursive: true });
  });

  it('tar --format=ustar, and git archive (a pax global header)', async () => {
    const ustar = releaseFolder('15');
    await expectPushed(tarGz(ustar, '--format=ustar'), '15', ustar);
    const repo = releaseFolder('16');
    const git = (...args: string[]): Buffer =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo });
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'release 16');
    const archive = git('archive', '--format=tar.gz', 'HEAD');
    rmSync(join(repo, '.git'), { recursive: true });
    await expectPushed(archive, '16', repo);
  });

  it('an archive made on macOS: pax headers with extended attributes, AppleDouble files skipped', async () => {
    const dir = releaseFolder('17');
    // As bsdtar on macOS writes it: each file with extended attributes gets a `._` AppleDouble
    // file before it and a pax header with LIBARCHIVE.xattr records and sub-second times.
    const appleDouble = Buffer.concat([Buffer.from([0, 5, 22, 7, 0, 2, 0, 0]), Buffer.alloc(74, 'Mac OS X        ')]);
    const entries: { name: string; type?: string; data?: Buffer }[] = [{ name: './', type: '5' }];
    for (const { name, data } of entriesOf(dir)) {
      const pax = Buffer.concat([
        paxRecord('mtime', '1764720000.123456789'),
        paxRecord('LIBARCHIVE.xattr.com.apple.provenance', 'AQIAZN8bZ5YqWg'),
        paxRecord('SCHILY.xattr.com.apple.quarantine', '0083;6750f2a1;Safari;'),
      ]);
      entries.push({ name: `./._${name}`, data: appleDouble });
      entries.push({ name: `./PaxHeader/${name}`, type: 'x', data: pax }, { name: `./${name}`, data });
    }
    entries.push({ name: './.DS_Store', data: Buffer.alloc(600, 1) });
    const archive = gzipSync(writeTar(entries));
    expect([...openRelease(archive).files.keys()].sort()).toEqual(readdirSync(dir).sort());
    await expectPushed(archive, '17', dir);
  });
});

describe('pax and GNU headers cannot smuggle what a ustar header may not', () => {
  let files: { name: string; data: Buffer }[];
  beforeAll(() => {
    files = entriesOf(releaseFolder('18'));
  });

  /** A pax extended header for the entry after it. */
  const pax = (...records: [string, string][]) => ({
    name: 'PaxHeader/x',
    type: 'x',
    data: Buffer.concat(records.map(([k, v]) => paxRecord(k, v))),
  });

  const expectRefused = async (archive: Buffer, status: number, pattern: RegExp): Promise<void> => {
    const res = await push(archive);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.error!.message).toMatch(pattern);
    expect(existsSync(join(models, 'fraud', '18'))).toBe(false);
    expect(existsSync(join(models, 'evil.onnx'))).toBe(false);
    expect(existsSync(join(models, 'fraud', 'evil.onnx'))).toBe(false);
    expect(readdirSync(join(models, '.incoming'))).toEqual([]);
  };

  it('a pax path or GNU long name that escapes, is absolute, names a sub-folder, a link or a device', async () => {
    for (const [extra, pattern] of [
      [[pax(['path', '../evil.onnx']), { name: 'harmless.bin', data: Buffer.from('x') }], /"\.\.\/evil\.onnx" escapes/],
      [[pax(['path', '/tmp/evil.onnx']), { name: 'harmless.bin', data: Buffer.from('x') }], /escapes its folder/],
      [[pax(['path', 'sub/evil.onnx']), { name: 'harmless.bin', data: Buffer.from('x') }], /sub-folder/],
      [
        [{ name: '././@LongLink', type: 'L', data: Buffer.from('../../evil.onnx\0') }, { name: 'harmless.bin' }],
        /escapes its folder/,
      ],
      [[pax(['linkpath', '/etc/passwd']), { name: 'model2.onnx', type: '2' }], /is a link/],
      [[{ name: './._evil', type: '2', linkTarget: '/etc/passwd' }], /is a link/],
      // Devices, fifos and GNU sparse files, whatever a pax header names them.
      [[pax(['path', 'null']), { name: 'x', type: '3' }], /"null" is not a plain file \(type 3\)/],
      [[pax(['path', 'pipe']), { name: 'x', type: '6' }], /not a plain file \(type 6\)/],
      [[{ name: 'sparse.bin', type: 'S' }], /not a plain file \(type S\)/],
      [[pax(['path', 'model.onnx\0/../../evil.onnx']), { name: 'x' }], /escapes its folder/],
    ] as const) {
      await expectRefused(gzipSync(writeTar([...files, ...extra])), 400, pattern);
    }
  });

  it('a pax size that lies: smaller than the data hides an entry, which surfaces and is refused', async () => {
    // A ustar-only reader sees notes.txt holding 1536 bytes; a pax reader sees an empty notes.txt
    // followed by the entry hidden in those bytes. What is checked is what is written: the latter.
    const hidden = Buffer.concat([tarHeader('../evil.onnx', 5), Buffer.from('evil\n'), Buffer.alloc(507)]);
    const notes = { name: 'notes.txt', data: Buffer.concat([hidden, Buffer.alloc(512)]) };
    await expectRefused(gzipSync(writeTar([...files, pax(['size', '0']), notes])), 400, /"\.\.\/evil\.onnx" escapes/);
  });

  it('a pax size that lies: larger than the data swallows the next headers and runs out', async () => {
    const archive = gzipSync(
      writeTar([...files, pax(['size', '4096']), { name: 'notes.txt', data: Buffer.from('hi') }]),
    );
    await expectRefused(archive, 400, /truncated|end-of-archive/);
  });

  it('a pax size past the limits on an empty ustar entry is refused at its header', async () => {
    await expectRefused(
      gzipSync(writeTar([...files, pax(['size', String(4 * 1024 ** 3)]), { name: 'weights.bin' }])),
      413,
      /more than/,
    );
    // The same with GNU's base-256 size field (16 GiB), which no octal field can hold.
    const header = tarHeader('weights.bin', 0);
    header.fill(0, 124, 136);
    header[124] = 0x80;
    header[131] = 4;
    header.fill(' ', 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    await expectRefused(gzipSync(Buffer.concat([writeTar(files).subarray(0, -1024), header])), 413, /more than/);
  });

  it('pax records that are not numbers, lie about their length, or describe no entry', async () => {
    for (const size of ['12abc', '-1', '1e3', '0x10', '99999999999999999999'])
      await expectRefused(gzipSync(writeTar([pax(['size', size]), ...files])), 400, /bad pax size/);
    const lying = { name: 'PaxHeader/x', type: 'x', data: Buffer.from('99 path=model.onnx\n') };
    await expectRefused(gzipSync(writeTar([lying, ...files])), 400, /malformed pax record/);
    const noKey = { name: 'PaxHeader/x', type: 'x', data: Buffer.from('9 =value\n') };
    await expectRefused(gzipSync(writeTar([noKey, ...files])), 400, /malformed pax record/);
    await expectRefused(gzipSync(writeTar([...files, pax(['path', 'x.bin'])])), 400, /extended header, with no entry/);
    await expectRefused(gzipSync(writeTar([pax(['GNU.sparse.major', '1']), ...files])), 400, /sparse/);
  });

  it('an extension entry larger than 64 KiB is refused at its header, before it is read', async () => {
    const archive = gzipSync(Buffer.concat([tarHeader('PaxHeader/x', 2 * 1024 * 1024, 'x'), Buffer.alloc(1024)]));
    await expectRefused(archive, 400, /extended header of 2097152 bytes/);
  });

  it('the in-memory reader (the CLI, before it pushes) refuses the same', () => {
    const hidden = Buffer.concat([tarHeader('../evil.onnx', 5), Buffer.from('evil\n'), Buffer.alloc(1019)]);
    expect(() =>
      openRelease(gzipSync(writeTar([...files, pax(['size', '0']), { name: 'n.txt', data: hidden }]))),
    ).toThrow(/escapes its folder/);
    expect(() => openRelease(gzipSync(writeTar([pax(['path', '../x']), ...files])))).toThrow(/escapes its folder/);
    expect(() => openRelease(gzipSync(writeTar([pax(['size', '1e3']), ...files])))).toThrow(/bad pax size/);
    expect(() => openRelease(gzipSync(writeTar([...files, pax(['path', 'x.bin'])])))).toThrow(/no entry/);
  });
});
