/**
 * The one module that imports uWebSockets.js. Here that is the Node 20 build aliased in package.json;
 * the container maps the same name to the official build. When the package could not load its native
 * addon it falls back to a slow pure-Node shim: we detect the shim itself (its App is plain JS).
 */
import uWS from 'uWebSockets.js';

export const uws = uWS;

export function isNativeUws(): boolean {
  return /\[native code\]/.test(Function.prototype.toString.call(uWS.App));
}

/** uWS's LIBUS_LISTEN_EXCLUSIVE_PORT: bind without SO_REUSEPORT, so a port in use is refused. */
const EXCLUSIVE_PORT = 1;

type ListenCallback = (socket: uWS.us_listen_socket | false) => void;

/** Listens on host:port alone (the typings lack the four-argument form the addon takes). */
export function listenExclusive(app: uWS.TemplatedApp, host: string, port: number, cb: ListenCallback): void {
  (app.listen as unknown as (h: string, p: number, o: number, c: ListenCallback) => void).call(
    app,
    host,
    port,
    EXCLUSIVE_PORT,
    cb,
  );
}
