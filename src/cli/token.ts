/**
 * The admin token of the admin commands: `--token-file` (read and trimmed), else CROUPIER_ADMIN_TOKEN.
 * Never printed: refusals name the file or the variable, not what is in it. A file every user can
 * read is refused, as ssh refuses such a key.
 */
import { readFileSync, statSync } from 'node:fs';
import { UsageError } from './args.js';

const TOKEN_FILE_MAX = 64 * 1024;
/** What an HTTP header carries without surprises: visible ASCII, no spaces. */
const TOKEN = /^[\x21-\x7e]+$/;

export function adminToken(file: string | undefined, fromEnv: string | undefined): string | undefined {
  if (file === undefined) return fromEnv ? checked(fromEnv, 'CROUPIER_ADMIN_TOKEN') : undefined;
  let text: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new UsageError(`the token file ${file} is not a file`);
    if (stat.size > TOKEN_FILE_MAX) throw new UsageError(`the token file ${file} is larger than a token could be`);
    if (process.platform !== 'win32' && (stat.mode & 0o004) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new UsageError(`the token file ${file} can be read by every user (mode ${mode}); chmod 600 ${file}`);
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UsageError(`cannot read the token file ${file} (${code})`);
  }
  const token = text.trim();
  if (token === '') throw new UsageError(`the token file ${file} is empty`);
  return checked(token, `the token file ${file}`);
}

function checked(token: string, source: string): string {
  if (!TOKEN.test(token))
    throw new UsageError(`${source} must hold one token: visible characters, no spaces or line breaks inside`);
  return token;
}
