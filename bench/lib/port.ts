// Port helpers: parse a --port argument, find a free port, check whether anything still listens.
import net from 'node:net';

/** `--port N` from argv, else $PORT, else the fallback. */
export function portFromArgs(argv: readonly string[], fallback: number): number {
  const i = argv.indexOf('--port');
  const raw = i >= 0 ? argv[i + 1] : process.env.PORT;
  const port = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port: ${String(raw)}`);
  return port;
}

/** Listen on port 0, read the port the kernel picked, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not read the free port'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

/** True when a TCP connect to 127.0.0.1:port succeeds. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
