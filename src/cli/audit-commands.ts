/** `croupier audit [--limit N] [--before SEQ]` and `croupier audit verify [FILE]`. */
import { readFileSync } from 'node:fs';
import { verifyAuditLog, type AuditEntry, type AuditVerdict } from '../state/audit-chain.js';
import { CliFailure, type AdminClient } from './admin-client.js';
import { UsageError } from './args.js';
import type { Context, Output } from './command.js';

const show = (v: unknown): string =>
  v === null || v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v);

export async function audit(ctx: Context, args: readonly string[]): Promise<void> {
  const { out, line } = ctx;
  const [sub, file, ...extra] = args;
  if (sub === 'verify') {
    if (extra.length) throw new UsageError('usage: croupier audit verify [audit.log]');
    return verify(ctx, out, file);
  }
  if (sub !== undefined)
    throw new UsageError('usage: croupier audit [--limit N] [--before SEQ] | croupier audit verify [audit.log]');
  const query = new URLSearchParams();
  for (const key of ['limit', 'before']) {
    const value = line.values.get(key);
    if (typeof value === 'string') query.set(key, value);
  }
  const { entries } = await ctx
    .client()
    .request<{ entries: AuditEntry[] }>('GET', `/admin/audit${query.size ? `?${query}` : ''}`);
  if (out.json) return out.print(JSON.stringify({ entries }, null, 2) + '\n');
  const lines = entries.map((e) => {
    const counted = e.action === 'refused' ? (e.after as { refused?: number; from?: string } | null) : null;
    // A minute's count of refused calls from one source (admin/refusals.ts) reads as such.
    const change = counted
      ? ` x${String(counted.refused)} since ${String(counted.from)}`
      : e.before === null && e.after === null
        ? ''
        : ` ${show(e.before)} -> ${show(e.after)}`;
    const why = e.error ? ` (${e.error.code}: ${e.error.message})` : '';
    return `#${e.seq} ${e.time} ${e.actor ?? '(anonymous)'} ${e.action} ${e.target ?? ''}${change} ${e.result}${why}`;
  });
  out.print(lines.join('\n') + (lines.length ? '\n' : 'no audit entries\n'));
}

/** Every entry through the API, oldest first, page by page. */
async function allEntries(client: AdminClient): Promise<AuditEntry[]> {
  let all: AuditEntry[] = [];
  let before: number | undefined;
  for (;;) {
    const q = before === undefined ? '' : `&before=${before}`;
    const { entries } = await client.request<{ entries: AuditEntry[] }>('GET', `/admin/audit?limit=10000${q}`);
    all = [...entries, ...all];
    const first = entries[0];
    if (!first || first.seq <= 1 || entries.length < 10000) return all;
    before = first.seq;
  }
}

async function verify(ctx: Context, out: Output, file: string | undefined): Promise<void> {
  let verdict: AuditVerdict;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
    }
    verdict = verifyAuditLog(text);
  } else {
    verdict = verifyAuditLog((await allEntries(ctx.client())).map((e) => JSON.stringify(e)).join('\n'));
  }
  if (out.json) out.print(JSON.stringify(verdict, null, 2) + '\n');
  else if (verdict.ok) out.print(`audit log intact: ${verdict.entries} entries, head ${verdict.head}\n`);
  if (!verdict.ok) {
    throw new CliFailure(
      1,
      `audit log broken at line ${verdict.problem!.line}: ${verdict.problem!.reason} (${verdict.entries} entries verified before it)`,
    );
  }
}
