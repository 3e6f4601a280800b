/**
 * One process owns a state directory. A second Croupier on the same directory would replay,
 * compact and delete the first one's journal under it, so it is refused at start-up.
 *
 * The lock is a Unix socket that the owner listens on, reached at `<stateDir>/owner.sock`: the
 * kernel answers a connect for a live owner (even a stopped one, from the listen backlog) and
 * refuses it once the owner is gone, however it died, so a kill -9 never leaves a lock that needs
 * a person to remove it. The socket is bound under a unique name and then hard-linked to
 * `owner.sock`; link(2) is atomic, so of two processes starting together exactly one wins. A stale
 * link (its owner died) is removed only if it is still the inode that refused the connection.
 * Path sockets are reachable by every process that sees the directory, whatever its network
 * namespace, so two containers sharing a volume on one host are refused too. (Processes on two
 * hosts sharing a network filesystem cannot see each other's sockets: see docs/operations.md.)
 * Where the path is longer than a socket address may be, an abstract socket named after the
 * directory's device and inode serves instead (Linux; one network namespace).
 */
import { linkSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';

/** sun_path is 108 bytes on Linux, with its terminating NUL; leave room. */
const MAX_SOCKET_PATH = 100;
const PROBE_TIMEOUT_MS = 1000;

interface Owner {
  pid: number;
  host: string;
  since: string;
}

function listen(server: net.Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** True when something accepts connections at `address` (a stopped process does too, from its backlog). */
function answers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(address);
    const done = (alive: boolean): void => {
      sock.destroy();
      resolve(alive);
    };
    sock.setTimeout(PROBE_TIMEOUT_MS, () => done(true));
    sock.once('connect', () => done(true));
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code !== 'ECONNREFUSED' && e.code !== 'ENOENT'));
  });
}

function inode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

export class StateDirLock {
  private constructor(
    readonly dir: string,
    private readonly server: net.Server,
    private readonly linkPath: string | undefined,
    private readonly ino: number | undefined,
  ) {}

  /** Takes the directory or throws a ConfigError naming the process that holds it. */
  static async acquire(dir: string): Promise<StateDirLock> {
    const server = net.createServer((sock) => sock.destroy());
    const linkPath = join(dir, 'owner.sock');
    const ownerFile = join(dir, 'owner.json');
    const unique = join(dir, `.owner-${randomBytes(6).toString('hex')}.sock`);
    if (Buffer.byteLength(unique) > MAX_SOCKET_PATH) {
      const { dev, ino } = statSync(dir);
      try {
        await listen(server, `\0croupier-state-${dev}-${ino}`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw StateDirLock.inUse(dir, ownerFile);
        throw e;
      }
      return StateDirLock.owned(dir, server, undefined, ownerFile);
    }
    await listen(server, unique);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(unique, linkPath);
          return StateDirLock.owned(dir, server, linkPath, ownerFile);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const seen = inode(linkPath);
        if (attempt >= 3 || (await answers(linkPath))) throw StateDirLock.inUse(dir, ownerFile);
        // Its owner is gone. Remove the link only if nobody replaced it meanwhile.
        if (seen !== undefined && inode(linkPath) === seen) rmSync(linkPath, { force: true });
      }
    } catch (e) {
      server.close();
      throw e;
    } finally {
      rmSync(unique, { force: true });
    }
  }

  private static owned(dir: string, server: net.Server, linkPath: string | undefined, ownerFile: string): StateDirLock {
    server.unref();
    const owner: Owner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    writeFileSync(ownerFile, `${JSON.stringify(owner)}\n`);
    return new StateDirLock(dir, server, linkPath, linkPath === undefined ? undefined : inode(linkPath));
  }

  private static inUse(dir: string, ownerFile: string): ConfigError {
    let who = 'another process';
    try {
      const o = JSON.parse(readFileSync(ownerFile, 'utf8')) as Owner;
      who = `another Croupier (pid ${o.pid} on ${o.host}, since ${o.since})`;
    } catch {
      /* the owner has not written it yet */
    }
    return new ConfigError(
      `CROUPIER_STATE_DIR: ${dir} is in use by ${who}; one process owns a state directory — stop it, or give this one its own directory`,
    );
  }

  /** Gives the directory up (at the end of shutdown). Idempotent. */
  release(): void {
    if (!this.server.listening) return;
    this.server.close();
    // Unlink only our own link: a successor may already hold the name (it cannot while we listen,
    // but a release after a failed start must not remove someone else's).
    if (this.linkPath !== undefined && inode(this.linkPath) === this.ino) {
      try {
        unlinkSync(this.linkPath);
      } catch {
        /* already gone */
      }
    }
  }
}
