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
