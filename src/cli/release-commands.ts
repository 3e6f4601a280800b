/**
 * `croupier pack <version dir> [-o file.tgz]` and `croupier push <file.tgz>`: both show their bytes
 * as they go (progress.ts), and push then how long the gateway takes to load and warm the version.
 */
import { createWriteStream, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { openRelease, releaseEntries, type Release } from '../admin/release.js';
import { writeTar } from '../admin/tar.js';
import { isCroupierError } from '../errors.js';
import { UsageError } from './args.js';
import { MAY_STILL_FINISH, type Context } from './command.js';
import { byteCount, showWaiting, TransferProgress } from './progress.js';

const PACK_CHUNK = 1024 * 1024;
const UPLOAD_CHUNK = 256 * 1024;

const reason = (e: unknown): string => (isCroupierError(e) || e instanceof Error ? e.message : String(e));

export async function pack(ctx: Context, args: readonly string[]): Promise<void> {
  const [dir, ...extra] = args;
  if (!dir || extra.length) throw new UsageError('usage: croupier pack <models/model/version> [-o model-version.tgz]');
  let release;
  try {
    release = releaseEntries(dir);
  } catch (e) {
    throw new UsageError(`cannot pack ${dir}: ${reason(e)}`);
  }
  const { model, version, sha256 } = release;
  const output = ctx.line.values.get('output');
  const file = typeof output === 'string' ? output : `${model}-${version}.tgz`;
  const tar = writeTar(release.entries);
  // Written beside the target and renamed when complete: an interrupted pack leaves no broken archive.
  const partial = `${file}.partial-${process.pid}`;
  ctx.deadline.onExpiry(() => rmSync(partial, { force: true }));
  const progress = new TransferProgress(ctx.term, `pack ${model} ${version}`, tar.length);
  const deadline = ctx.deadline;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < tar.length; offset += PACK_CHUNK) {
      deadline.doing = `packing ${dir} into ${file} (${byteCount(offset)} of ${byteCount(tar.length)} compressed)`;
      yield tar.subarray(offset, offset + PACK_CHUNK);
      progress.update(Math.min(offset + PACK_CHUNK, tar.length));
    }
  }
  deadline.doing = `packing ${dir} into ${file} (0 B of ${byteCount(tar.length)} compressed)`;
  try {
    // Opened here, not by the stream: no open is in flight when a timeout removes the file.
    const fd = openSync(partial, 'w');
    await pipeline(Readable.from(chunks()), createGzip(), createWriteStream(partial, { fd }));
    renameSync(partial, file);
  } catch (e) {
    rmSync(partial, { force: true });
    throw new UsageError(`cannot write ${file}: ${reason(e)}`);
  }
  const summary = { file, model, version, sha256, bytes: statSync(file).size };
  ctx.out.print(
    ctx.out.json
      ? JSON.stringify(summary, null, 2) + '\n'
      : `packed ${model} ${version} into ${file} (${summary.bytes} bytes, sha256 ${sha256.slice(0, 12)})\n`,
  );
}

export async function push(ctx: Context, args: readonly string[]): Promise<void> {
  const [file, ...extra] = args;
  if (!file || extra.length) throw new UsageError('usage: croupier push <model-version.tgz>');
  let archive: Buffer;
  let release: Release;
  try {
    archive = readFileSync(file);
    // Checked here too, so a broken archive is reported before it is uploaded.
    release = openRelease(archive);
  } catch (e) {
    throw new UsageError(`cannot push ${file}: ${reason(e)}`);
  }
  const answer = await uploadRelease(ctx, archive, release, basename(file), file);
  if (ctx.out.json) return ctx.out.print(JSON.stringify(answer, null, 2) + '\n');
  ctx.out.print(
    `pushed ${answer.model} ${answer.version} (sha256 ${answer.sha256.slice(0, 12)}), loaded in every worker; live is still ${answer.live}\n`
      + `put it live with: croupier deploy ${answer.model} ${answer.version}\n`,
  );
}

export interface PushAnswer {
  model: string;
  version: string;
  sha256: string;
  live: string;
}

/**
 * Uploads a checked release archive (bytes sent on stderr as they go) and waits while the gateway
 * loads and warms it; `croupier push` and `croupier retrain` register versions this one way.
 */
export async function uploadRelease(
  ctx: Context,
  archive: Buffer,
  release: { model: string; version: string },
  label: string,
  file: string,
): Promise<PushAnswer> {
  const { deadline, term } = ctx;
  const loading = `${release.model} ${release.version}`;
  const progress = new TransferProgress(term, `push ${label}`, archive.length);
  let sent = 0;
  let stopWaiting: (() => void) | undefined;
  // Counted as fetch takes each chunk for the connection: bytes sent, give or take one socket buffer.
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = archive.subarray(sent, sent + UPLOAD_CHUNK);
      sent += chunk.length;
      controller.enqueue(chunk);
      progress.update(sent);
      deadline.doing = `sending ${file} (${byteCount(sent)} of ${byteCount(archive.length)} sent)`;
      if (sent < archive.length) return;
      controller.close();
      deadline.doing = `waiting for the gateway to load and warm ${loading} in every worker${MAY_STILL_FINISH}`;
      stopWaiting = showWaiting(term, `loading and warming ${loading} in every worker`);
    },
  });
  try {
    return await ctx
      .client()
      .request<PushAnswer>(
        'POST',
        `/admin/models/${encodeURIComponent(release.model)}/versions`,
        { stream, length: archive.length, type: 'application/gzip' },
        `sending ${file}`,
      );
  } finally {
    stopWaiting?.();
  }
}
