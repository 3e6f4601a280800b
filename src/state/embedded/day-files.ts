/**
 * A row log in embedded mode, for every kind of row kept per route and day (training rows, the
 * outcome log): one file per route and UTC day, `<state dir>/<folder>/<route>/<YYYY-MM-DD>.ndjson`,
 * appended in batches (one write in flight, the rows that arrive meanwhile go in the next), without
 * fsync (see state/training-rows.ts). Rows are made into lines when written, off the outcome's path.
 * Retention drops whole days: a day's file goes once its last row is older than the retention, and
 * reads skip older days before then. A line torn by a crash is never served (its tail is not a
 * row's) and the next write starts on a new line.
 */
import { createReadStream, existsSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { PendingRows, type TrainingRowsOptions } from '../training-rows.js';

const DAY_MS = 86_400_000;
/** How often at most old days are looked for. */
const SWEEP_MS = 3_600_000;
/** Routes whose current file is remembered, at most (routes come and go with PUT). */
const FILES_CACHED = 10_000;
/**
 * Files kept open for appending, at most (past it they are all closed, and reopened as written):
 * an appendFile per batch opened and closed the file each time, which on a busy feedback path
 * cost more than making the lines.
 */
const HANDLES_OPEN = 256;
const FILE = /^(\d{4}-\d{2}-\d{2})\.ndjson$/;

const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** What a kind of row log is: its folder under the state dir, its line, and what its log messages call it. */
export interface DayFilesKind<Row> {
  readonly folder: string;
  readonly line: (row: Row) => string;
  /** `training rows`, `outcomes`: how the log names what was not written. */
  readonly what: string;
}

export class DayFiles<Row> {
  private readonly dir: string;
  private readonly retentionMs: number;
  private readonly now: () => number;
  /** Rows waiting, by file (made into lines when written, off the outcome's path). */
  private readonly pending = new PendingRows<Row>((byFile) => this.writeAll(byFile));
  /** Files open for appending, each checked to end with a newline (or made to) when opened. */
  private readonly handles = new Map<string, FileHandle>();
  private sweptMs = -Infinity;
  /** Per route, the day appended to last and its file. */
  private readonly files = new Map<string, { fromMs: number; file: string }>();

  constructor(
    stateDir: string,
    private readonly kind: DayFilesKind<Row>,
    options: TrainingRowsOptions,
    private readonly log: Logger,
  ) {
    this.dir = join(stateDir, kind.folder);
    this.retentionMs = options.retentionMs;
    this.now = options.now ?? Date.now;
  }

  get dropped(): number {
    return this.pending.dropped;
  }

  /** Queues `row` of `route`, kept at `atMs` (its day's file): never waits, never throws. */
  append(route: string, atMs: number, row: Row): void {
    // The file of the route and day, cached: a path and a date made per row were most of an append.
    let at = this.files.get(route);
    if (at === undefined || atMs < at.fromMs || atMs >= at.fromMs + DAY_MS) {
      const fromMs = atMs - (((atMs % DAY_MS) + DAY_MS) % DAY_MS);
      at = { fromMs, file: join(this.routeDir(route), `${dayOf(fromMs)}.ndjson`) };
      if (this.files.size >= FILES_CACHED) this.files.clear();
      this.files.set(route, at);
    }
    this.pending.add(at.file, row);
  }

  /** The oldest time a row may have and still be kept (reads skip older rows before their day goes). */
  keptFromMs(): number {
    return this.now() - this.retentionMs;
  }

  flush(): Promise<void> {
    return this.pending.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.closeHandles();
  }

  private async closeHandles(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
  }

  async *read(route: string, fromMs: number, pageRows: number): AsyncIterable<string[]> {
    const dir = this.routeDir(route);
    const oldest = Math.max(fromMs, this.now() - this.retentionMs);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const days = names
      .map((n) => FILE.exec(n)?.[1])
      .filter((d): d is string => d !== undefined && Date.parse(d) + DAY_MS > oldest)
      .sort();
    let page: string[] = [];
    for (const day of days) {
      let rest = '';
      // A file being appended to is read up to its last complete line.
      for await (const chunk of createReadStream(join(dir, `${day}.ndjson`), {
        encoding: 'utf8',
        highWaterMark: 256 * 1024,
      })) {
        const text = rest + (chunk as string);
        let start = 0;
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
          if (nl > start) page.push(text.slice(start, nl));
          start = nl + 1;
          if (page.length >= pageRows) {
            yield page;
            page = [];
          }
        }
        rest = text.slice(start);
      }
    }
    if (page.length > 0) yield page;
  }

  private routeDir(route: string): string {
    return join(this.dir, encodeURIComponent(route));
  }

  private async writeAll(byFile: Map<string, Row[]>): Promise<void> {
    for (const [file, rows] of byFile) await this.write(file, rows.map(this.kind.line));
    await this.sweep();
  }

  private async write(file: string, lines: string[]): Promise<void> {
    try {
      let text = `${lines.join('\n')}\n`;
      let handle = this.handles.get(file);
      if (handle === undefined) {
        if (this.handles.size >= HANDLES_OPEN) await this.closeHandles();
        await mkdir(join(file, '..'), { recursive: true });
        if (!(await endsWithNewline(file))) text = `\n${text}`;
        handle = await open(file, 'a');
        this.handles.set(file, handle);
      }
      await handle.write(text);
    } catch (e) {
      // Reopened (and checked again) at the next write.
      const failed = this.handles.get(file);
      this.handles.delete(file);
      void failed?.close().catch(() => undefined);
      this.pending.dropped += lines.length;
      this.log.error({ err: (e as Error).message, file, rows: lines.length }, `${this.kind.what} not written`);
    }
  }

  /** Removes the days whose rows are all past the retention (at most once an hour). */
  private async sweep(): Promise<void> {
    const nowMs = this.now();
    if (nowMs - this.sweptMs < SWEEP_MS) return;
    this.sweptMs = nowMs;
    const cutoff = nowMs - this.retentionMs;
    try {
      if (!existsSync(this.dir)) return;
      for (const route of await readdir(this.dir)) {
        for (const name of await readdir(join(this.dir, route))) {
          const day = FILE.exec(name)?.[1];
          if (day !== undefined && Date.parse(day) + DAY_MS <= cutoff) {
            const file = join(this.dir, route, name);
            await this.handles.get(file)?.close();
            this.handles.delete(file);
            await rm(file, { force: true });
          }
        }
      }
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, `old ${this.kind.what} not removed`);
    }
  }
}

/** Whether `file` is missing, empty, or ends with a newline (a crash may have torn its last line). */
async function endsWithNewline(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    await handle.close();
  }
}
