/**
 * `croupier export --route R --since 7d -o DIR [--format arrow|csv]`: reads the route's training
 * rows from the gateway (GET /admin/routes/{route}/dataset, streamed) and writes an export folder
 * (retrain/export.ts): parts, then dataset.json last. Rows received, then rows written, on stderr.
 */
import type { CroupierError } from '../errors.js';
import { BadRow, exportRows, type DatasetManifest, type ExportFormat } from '../retrain/export.js';
import { sinceMs } from '../retrain/since.js';
import type { AdminClient } from './admin-client.js';
import { CliFailure } from './admin-client.js';
import { UsageError } from './args.js';
import type { Context } from './command.js';
import { byteCount, clearLine, TransferProgress, type Terminal } from './progress.js';
import type { Deadline } from './deadline.js';

const rowCount = (n: number): string => `${n.toLocaleString('en-US')} rows`;

export interface ExportRequest {
  readonly route: string;
  /** `7d`, `24h`, `30m` or an ISO time (retrain/since.ts). */
  readonly since: string;
  readonly dir: string;
  readonly format: ExportFormat;
}

/** The NDJSON lines of a streamed body; a body cut short throws (the gateway failed half-way). */
async function* linesOf(body: ReadableStream<Uint8Array>, received: () => number): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  try {
    for await (const chunk of body) {
      const text = rest + decoder.decode(chunk, { stream: true });
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        yield text.slice(start, nl);
        start = nl + 1;
      }
      rest = text.slice(start);
    }
  } catch (e) {
    throw new CliFailure(
      2,
      `the gateway's answer was cut short after ${rowCount(received())} (${(e as Error).message}); nothing was exported`,
    );
  }
  rest += decoder.decode();
  if (rest !== '') yield rest;
}

/**
 * Exports `r.route`'s rows into `r.dir` (also what `croupier retrain` calls first): dataset.json
 * is written last, so a failure at any point leaves no export that looks complete.
 */
export async function exportDataset(
  client: AdminClient,
  r: ExportRequest,
  term: Terminal,
  deadline: Deadline,
): Promise<DatasetManifest> {
  let from: number;
  try {
    from = sinceMs(r.since, Date.now());
  } catch (e) {
    throw new UsageError(`--since: ${(e as CroupierError).message}`);
  }
  const path = `/admin/routes/${encodeURIComponent(r.route)}/dataset?since=${encodeURIComponent(r.since)}`;
  const res = await client.open(path, `waiting for the rows of route ${r.route}`);
  let received = 0;
  let drawnAt = 0;
  let shownRows = 0;
  let writing: TransferProgress | undefined;
  const progress = {
    received(rows: number, bytes: number): void {
      received = rows;
      deadline.doing = `receiving the rows of route ${r.route} (${rowCount(rows)} so far)`;
      const now = Date.now();
      if (term.isTTY ? now - drawnAt < 100 : rows - shownRows < 100_000) return;
      drawnAt = now;
      shownRows = rows;
      const line = `export ${r.route}: ${rowCount(rows)} received (${byteCount(bytes)})`;
      if (term.isTTY) {
        clearLine(term);
        term.write(line);
      } else term.write(`${line}\n`);
    },
    written(rows: number, total: number): void {
      if (!writing) {
        clearLine(term);
        term.write(`export ${r.route}: ${rowCount(total)} received\n`);
        writing = new TransferProgress(term, `writing ${r.format}`, total, rowCount);
      }
      deadline.doing = `writing the ${r.format} files into ${r.dir} (${rowCount(rows)} of ${total})`;
      writing.update(rows);
    },
  };
  try {
    return await exportRows(
      linesOf(res.body!, () => received),
      { route: r.route, dir: r.dir, format: r.format, sinceMs: from, progress },
    );
  } catch (e) {
    if (e instanceof CliFailure || e instanceof UsageError) throw e;
    if (e instanceof BadRow) throw new CliFailure(1, `${e.message}; nothing was exported`);
    throw new UsageError(`cannot write the export into ${r.dir}: ${(e as Error).message}`);
  }
}

export async function exportCommand(ctx: Context, args: readonly string[]): Promise<void> {
  const v = ctx.line.values;
  const route = v.get('route');
  const dir = v.get('output');
  const since = v.get('since') ?? '30d';
  const format = v.get('format') ?? 'arrow';
  if (args.length > 0 || typeof route !== 'string' || typeof dir !== 'string')
    throw new UsageError('usage: croupier export --route R -o DIR [--since 7d] [--format arrow|csv]');
  if (format !== 'arrow' && format !== 'csv')
    throw new UsageError(`--format takes arrow or csv, got "${String(format)}"`);
  const m = await exportDataset(ctx.client(), { route, since: String(since), dir, format }, ctx.term, ctx.deadline);
  if (ctx.out.json) return ctx.out.print(`${JSON.stringify(m, null, 2)}\n`);
  const features = m.columns.filter((c) => c.role === 'feature').length;
  ctx.out.print(
    `exported ${rowCount(m.rows)} of route ${m.route} (${features} features, decisions ${m.from} to ${m.to})\n`
      + `into ${dir}: ${m.files.map((f) => f.name).join(', ')} and dataset.json (sha256 ${m.sha256.slice(0, 12)})\n`,
  );
}
