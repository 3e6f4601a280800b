/**
 * Receives a pushed release as it arrives: the body is inflated by zlib's stream (on the thread
 * pool, not the event loop), read as a tar (ustar, pax, GNU long names), and each file written to a
 * hidden staging folder in the models directory while it is hashed, a chunk at a time, so no step
 * holds the event loop for long (test/admin/release-loop.test.ts measures it). Nothing is held
 * whole in memory but model.json and SHA256SUMS, and every limit in RELEASE_LIMITS is checked as
 * bytes come out of the inflater, so a tar bomb is refused after a few megabytes, not a gigabyte.
 * A refused upload leaves nothing.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { CroupierError, isCroupierError } from '../errors.js';
import {
  checkRelease,
  entryFileName,
  isMetadata,
  malformed,
  RELEASE_LIMITS,
  tooLarge,
  type ReleaseFile,
  type ReleaseSummary,
} from './release.js';
import { TarStreamReader, type TarHeader, type TarVisitor } from './tar.js';

/** A checked release whose files sit in `dir`, under the staging folder `root`. */
export interface StagedRelease extends ReleaseSummary {
  readonly root: string;
  readonly dir: string;
  /** Removes the staging folder (whatever was not moved out of it). */
  discard(): Promise<void>;
}

interface OpenFile {
  readonly name: string;
  readonly handle: FileHandle;
  readonly hash: Hash;
  readonly content: Buffer[] | undefined;
}

/** The end of the pipeline: a tar reader that writes each file out as it inflates, within the limits. */
class ReleaseUnpacker extends Writable implements TarVisitor {
  readonly files = new Map<string, ReleaseFile>();
  private readonly dir: string;
  private readonly compressedBytes: () => number;
  private readonly tar = new TarStreamReader(this);
  private inflated = 0;
  private declared = 0;
  /** Entries seen, skipped ones (macOS metadata) included: each costs a step, so they count. */
  private entries = 0;
  private current: OpenFile | undefined;
  /** The chunk being written out: an error stops the pipeline before its file work is done. */
  private working: Promise<void> = Promise.resolve();

  constructor(dir: string, compressedBytes: () => number) {
    super({ highWaterMark: 256 * 1024 });
    this.dir = dir;
    this.compressedBytes = compressedBytes;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    this.inflated += chunk.length;
    const L = RELEASE_LIMITS;
    if (this.inflated > L.unpackedBytes) return done(tooLarge(`it inflates to more than ${L.unpackedBytes} bytes`));
    if (this.inflated > L.ratioAllowanceBytes + L.ratio * this.compressedBytes()) {
      return done(
        tooLarge(
          `its compression ratio passes ${L.ratio}:1 (a release does not compress that well; this looks like a decompression bomb)`,
        ),
      );
    }
    this.working = this.tar.write(chunk);
    this.working.then(() => done(), done);
  }

  /** Resolves once no file is being created or written any more, and none is left open. */
  async settled(): Promise<void> {
    await this.working.catch(() => undefined);
    const open = this.current;
    this.current = undefined;
    await open?.handle.close().catch(() => undefined);
  }

  override _final(done: (e?: Error | null) => void): void {
    try {
      this.tar.end();
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  override _destroy(error: Error | null, done: (e?: Error | null) => void): void {
    const open = this.current;
    this.current = undefined;
    if (!open) return done(error);
    open.handle.close().then(
      () => done(error),
      () => done(error),
    );
  }

  async entry(header: TarHeader): Promise<void> {
    const L = RELEASE_LIMITS;
    const name = entryFileName(header);
    if (++this.entries > L.entries) throw tooLarge(`it has more than ${L.entries} files`);
    this.declared += header.size;
    if (this.declared > L.unpackedBytes) throw tooLarge(`its files add up to more than ${L.unpackedBytes} bytes`);
    if (name === undefined) return;
    const limit = isMetadata(name) ? L.metaFileBytes : L.fileBytes;
    if (header.size > limit) throw tooLarge(`${name} is ${header.size} bytes, more than the ${limit} allowed`);
    if (this.files.has(name)) throw malformed(`entry "${name}" appears twice`);
    // 'wx': a name already on disk is never overwritten (the staging folder is new and empty).
    const handle = await open(join(this.dir, name), 'wx', 0o644);
    this.files.set(name, { sha256: '' });
    this.current = { name, handle, hash: createHash('sha256'), content: isMetadata(name) ? [] : undefined };
  }

  async data(chunk: Buffer): Promise<void> {
    const file = this.current;
    if (!file) return;
    file.hash.update(chunk);
    file.content?.push(Buffer.from(chunk));
    for (let at = 0; at < chunk.length; ) at += (await file.handle.write(chunk, at, chunk.length - at)).bytesWritten;
  }

  async entryEnd(): Promise<void> {
    const file = this.current;
    if (!file) return;
    this.current = undefined;
    try {
      await file.handle.sync();
    } finally {
      await file.handle.close();
    }
    this.files.set(file.name, {
      sha256: file.hash.digest('hex'),
      ...(file.content ? { content: Buffer.concat(file.content) } : {}),
    });
  }
}

/** Why a pipeline failed, as the answer to the uploader. */
function refusal(e: unknown): CroupierError {
  if (isCroupierError(e)) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('Z_'))
    return malformed(`not a readable gzip file (${(e as Error).message})`);
  if ((e as Error).message?.startsWith('tar: ')) return malformed((e as Error).message);
  return new CroupierError('internal', `cannot unpack the release: ${(e as Error).message}`, { cause: e });
}

/** Unpacks and checks an uploaded release into `<models>/.incoming/<random>/upload`; throws a CroupierError. */
export async function receiveRelease(body: Readable, modelsDir: string): Promise<StagedRelease> {
  const root = join(modelsDir, '.incoming', randomBytes(8).toString('hex'));
  const dir = join(root, 'upload');
  const discard = (): Promise<void> => rm(root, { recursive: true, force: true });
  // Big output chunks: fewer turns of the event loop per inflated megabyte, each still short.
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  const unpacker = new ReleaseUnpacker(dir, () => gunzip.bytesWritten);
  try {
    await mkdir(dir, { recursive: true });
    await pipeline(body, gunzip, unpacker);
    return { ...checkRelease(unpacker.files), root, dir, discard };
  } catch (e) {
    body.destroy();
    // A file still being created would land in a folder being removed.
    await unpacker.settled();
    // The refusal is the answer either way; a folder that would not go is retried once.
    await discard()
      .catch(() => discard())
      .catch(() => undefined);
    throw refusal(e);
  }
}
