/**
 * Talks to a gateway's admin API for the CLI. Exit codes: the server refused (its error is shown)
 * = 1; the server could not be reached = 2; out of time (deadline.ts) = 124.
 */
import type { Deadline } from './deadline.js';

export class CliFailure extends Error {
  readonly exitCode: number;

  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** A body sent as it is read (a release archive), with its length so the server can refuse it early. */
export interface Upload {
  readonly stream: ReadableStream<Uint8Array>;
  readonly length: number;
  readonly type: string;
}

export class AdminClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly deadline: Deadline;

  constructor(url: string, token: string | undefined, deadline: Deadline) {
    this.url = url.replace(/\/+$/, '');
    this.token = token;
    this.deadline = deadline;
  }

  /** `doing`: what a timeout message says the command was doing (default: waiting for this answer). */
  async request<T>(method: string, path: string, body?: { json: unknown } | Upload, doing?: string): Promise<T> {
    const headers: Record<string, string> = {};
    const init: RequestInit & { duplex?: 'half'; headers: Record<string, string> } = { method, headers };
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body.json);
    } else if (body) {
      headers['content-type'] = body.type;
      headers['content-length'] = String(body.length);
      init.body = body.stream;
      init.duplex = 'half';
    }
    return this.answer<T>(await this.send(path, init, doing));
  }

  /**
   * A GET whose body is read as it arrives (a dataset: the caller reads `body`); a refusal is
   * thrown as `request` throws it.
   */
  async open(path: string, doing?: string): Promise<Response> {
    const res = await this.send(path, { method: 'GET', headers: {} }, doing);
    if (!res.ok) await this.answer(res);
    return res;
  }

  /** A GET whose answer is bytes (a release archive). */
  async download(path: string, doing?: string): Promise<Buffer> {
    return Buffer.from(await (await this.open(path, doing)).arrayBuffer());
  }

  private async send(
    path: string,
    init: RequestInit & { headers: Record<string, string> },
    doing?: string,
  ): Promise<Response> {
    this.deadline.doing = doing ?? `waiting for ${this.url} to answer ${init.method} ${path}`;
    if (this.token) init.headers.authorization = `Bearer ${this.token}`;
    try {
      return await fetch(this.url + path, init);
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliFailure(2, `cannot reach ${this.url} (${cause?.code ?? cause?.message ?? (e as Error).message})`);
    }
  }

  private async answer<T>(res: Response): Promise<T> {
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      let message = err ? `${err.message} (${res.status} ${err.code})` : `HTTP ${res.status}: ${text.slice(0, 200)}`;
      if (res.status === 401 && !this.token) message += '; set CROUPIER_ADMIN_TOKEN or pass --token-file';
      throw new CliFailure(1, message);
    }
    return parsed as T;
  }
}
