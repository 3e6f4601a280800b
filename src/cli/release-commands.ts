/** `croupier pack <version dir> [-o file.tgz]` and `croupier push <file.tgz>`. */
import { readFileSync, writeFileSync } from 'node:fs';
import { isCroupierError } from '../errors.js';
import { openRelease, packRelease, type Release } from '../admin/release.js';
import type { AdminClient } from './admin-client.js';
import { UsageError, type Parsed } from './args.js';
import type { Output } from './model-commands.js';

export function pack(out: Output, parsed: Parsed): void {
  const [dir, ...extra] = parsed.positional;
  if (!dir || extra.length) throw new UsageError('usage: croupier pack <models/model/version> [-o model-version.tgz]');
  let packed;
  try {
    packed = packRelease(dir);
  } catch (e) {
    throw new UsageError(`cannot pack ${dir}: ${(e as Error).message}`);
  }
  const file = parsed.options.get('output') ?? `${packed.model}-${packed.version}.tgz`;
  writeFileSync(file, packed.archive);
  const summary = {
    file,
    model: packed.model,
    version: packed.version,
    sha256: packed.sha256,
    bytes: packed.archive.length,
  };
  out.print(
    out.json
      ? JSON.stringify(summary, null, 2) + '\n'
      : `packed ${packed.model} ${packed.version} into ${file} (${packed.archive.length} bytes, sha256 ${packed.sha256.slice(0, 12)})\n`,
  );
}

export async function push(client: AdminClient, out: Output, parsed: Parsed): Promise<void> {
  const [file, ...extra] = parsed.positional;
  if (!file || extra.length) throw new UsageError('usage: croupier push <model-version.tgz>');
  let archive: Buffer;
  let release: Release;
  try {
    archive = readFileSync(file);
    // Checked here too, so a broken archive is reported before it is uploaded.
    release = openRelease(archive);
  } catch (e) {
    throw new UsageError(`cannot push ${file}: ${isCroupierError(e) || e instanceof Error ? e.message : String(e)}`);
  }
  const answer = await client.request<{ model: string; version: string; sha256: string; live: string }>(
    'POST',
    `/admin/models/${encodeURIComponent(release.model)}/versions`,
    { bytes: archive, type: 'application/gzip' },
  );
  if (out.json) return out.print(JSON.stringify(answer, null, 2) + '\n');
  out.print(
    `pushed ${answer.model} ${answer.version} (sha256 ${answer.sha256.slice(0, 12)}), loaded in every worker; live is still ${answer.live}\n`
      + `put it live with: croupier deploy ${answer.model} ${answer.version}\n`,
  );
}
