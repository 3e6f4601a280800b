/**
 * Talks to a gateway's admin API for the CLI. Exit codes: the server refused (its error is shown)
 * = 1; the server could not be reached = 2.
 */
export class CliFailure extends Error {
  readonly exitCode: number;

  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

export class AdminClient {
  readonly url: string;
  private readonly token: string | undefined;

  constructor(url: string, token: string | undefined) {
    this.url = url.replace(/\/+$/, '');
    this.token = token;
  }

  async request<T>(
    method: string,
    path: string,
    body?: { json: unknown } | { bytes: Uint8Array; type: string },
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: string | Uint8Array | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers['content-type'] = body.type;
      payload = body.bytes;
    }
    let res: Response;
    try {
      res = await fetch(this.url + path, { method, headers, body: payload });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliFailure(2, `cannot reach ${this.url} (${cause?.code ?? cause?.message ?? (e as Error).message})`);
    }
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
      if (res.status === 401 && !this.token) message += '; set CROUPIER_ADMIN_TOKEN';
      throw new CliFailure(1, message);
    }
    return parsed as T;
  }
}
