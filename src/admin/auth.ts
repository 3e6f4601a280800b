/**
 * Who may call the admin API. A browser request sent on another site's behalf is refused before the
 * token is even looked at (DNS rebinding reached Ray's job API that way, CVE-2025-62593); a request
 * with neither `Origin` nor `Sec-Fetch-Site` is not from a browser (CLI, curl, fetch in Node).
 * Tokens are named, and compared in constant time over their digests (equal lengths by construction).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { CroupierError } from '../errors.js';

export interface AdminRequestHeaders {
  readonly origin: string;
  readonly secFetchSite: string;
  readonly host: string;
  readonly authorization: string;
}

/** Read during the handler call (uWS requests live only that long); the data plane never needs them. */
export function adminHeaders(req: { getHeader(name: string): string }): AdminRequestHeaders {
  return {
    origin: req.getHeader('origin'),
    secFetchSite: req.getHeader('sec-fetch-site'),
    host: req.getHeader('host'),
    authorization: req.getHeader('authorization'),
  };
}

/** Why a call was refused before any token was accepted (croupier_admin_refused_total's label). */
export type RefusalReason = 'cross_site' | 'missing_token' | 'wrong_token' | 'admin_off';

/** A refusal by the site or token check: the caller proved nothing, so it is audited at a bounded rate. */
export class AuthRefusal extends CroupierError {
  readonly reason: RefusalReason;

  constructor(code: 'unauthorized' | 'forbidden', reason: RefusalReason, message: string) {
    super(code, message);
    this.reason = reason;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function sameHost(origin: string, host: string): boolean {
  try {
    const o = new URL(origin);
    if (o.protocol !== 'http:' && o.protocol !== 'https:') return false;
    return host !== '' && o.host === new URL(`${o.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** What a token may do: `viewer` reads (every GET /admin/*), `admin` also changes. */
export type Role = 'admin' | 'viewer';

/** A token as configured, `token` or `token:viewer` (`token:admin` is the default said out loud). */
export function tokenRole(entry: string): { token: string; role: Role } {
  if (entry.endsWith(':viewer')) return { token: entry.slice(0, -':viewer'.length), role: 'viewer' };
  if (entry.endsWith(':admin')) return { token: entry.slice(0, -':admin'.length), role: 'admin' };
  return { token: entry, role: 'admin' };
}

export interface Caller {
  readonly name: string;
  readonly role: Role;
}

export class AdminAuth {
  private readonly tokens: readonly { caller: Caller; digest: Buffer }[];

  constructor(tokens: ReadonlyMap<string, string>) {
    this.tokens = [...tokens].map(([name, entry]) => {
      const { token, role } = tokenRole(entry);
      return { caller: { name, role }, digest: digest(token) };
    });
  }

  /** Throws 403 for a cross-site browser request. */
  checkSite(h: AdminRequestHeaders): void {
    if (h.secFetchSite.toLowerCase() === 'cross-site')
      throw new AuthRefusal(
        'forbidden',
        'cross_site',
        'cross-site requests to the admin API are refused (Sec-Fetch-Site: cross-site)',
      );
    if (h.origin !== '' && !sameHost(h.origin, h.host))
      throw new AuthRefusal('forbidden', 'cross_site', 'requests from another origin are refused by the admin API');
  }

  /** The name of the token presented; throws 401 when it is missing or matches none. */
  actor(h: AdminRequestHeaders): string {
    return this.caller(h).name;
  }

  /** The name and role of the token presented; throws 401 when it is missing or matches none. */
  caller(h: AdminRequestHeaders): Caller {
    if (this.tokens.length === 0)
      throw new AuthRefusal(
        'unauthorized',
        'admin_off',
        'no admin token is configured (set CROUPIER_ADMIN_TOKEN or CROUPIER_ADMIN_TOKENS)',
      );
    const m = /^Bearer +(\S+) *$/i.exec(h.authorization);
    if (!m) throw new AuthRefusal('unauthorized', 'missing_token', 'send Authorization: Bearer <token>');
    const presented = digest(m[1]!);
    let found: Caller | undefined;
    // Every token is compared, so the time taken does not say which one (or whether any) matched.
    for (const t of this.tokens) if (timingSafeEqual(presented, t.digest) && found === undefined) found = t.caller;
    if (found === undefined) throw new AuthRefusal('unauthorized', 'wrong_token', 'the admin token is wrong');
    return found;
  }
}
