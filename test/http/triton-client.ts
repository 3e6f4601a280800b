/**
 * Requests as Triton's Python client sends them, byte for byte, over a plain socket (fetch would
 * add a Content-Type of its own). tritonclient/http/_client.py (triton-inference-server/client)
 * builds the bodies: `get_model_repository_index` posts `request_body=""`, `load_model` posts
 * `json.dumps(load_request)` (`{}` without config or files), `unload_model` posts
 * `json.dumps({"parameters": {"unload_dependents": unload_dependents}})`; `headers=` are the
 * caller's (a bearer token here). geventhttpclient's HTTPClient._build_request
 * (geventhttpclient/client.py) writes the head: the request line, its default User-Agent, the
 * caller's headers, Host, and Content-Length only for a non-empty body; never a Content-Type.
 */
import { connect } from 'node:net';

export const USER_AGENT = 'python/gevent-http-client-2.3.1';

/** The bytes tritonclient sends for `POST /v2/...` with `body` ("" for the index). */
export function tritonPost(port: number, path: string, body: string, headers: Record<string, string> = {}): Buffer {
  let head = `POST ${path} HTTP/1.1\r\nUser-Agent: ${USER_AGENT}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  head += `Host: 127.0.0.1:${port}\r\n`;
  const bytes = Buffer.from(body, 'utf8');
  if (bytes.length > 0) head += `Content-Length: ${bytes.length}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), bytes]);
}

/** The bytes tritonclient sends for `GET /v2/...`. */
export function tritonGet(port: number, path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nUser-Agent: ${USER_AGENT}\r\nHost: 127.0.0.1:${port}\r\n\r\n`, 'latin1');
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `bytes` on a fresh connection and reads one answer (uWS always sends Content-Length). */
export function rawRequest(port: number, bytes: Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within 10 s; got: ${received.toString('latin1').slice(0, 300)}`));
    }, 10_000);
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = received.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (received.length < end + 4 + length) return;
      clearTimeout(timer);
      socket.end();
      resolve({
        status: Number(lines[0]!.split(' ')[1]),
        headers,
        body: received.subarray(end + 4, end + 4 + length).toString('utf8'),
      });
    });
    socket.write(bytes);
  });
}
