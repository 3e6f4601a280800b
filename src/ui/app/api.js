// @ts-check
/**
 * The admin API as the dashboard calls it: same origin, the token in every call, answers as JSON,
 * refusals as ApiError with the contract's code and message.
 */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  /** @param {string} token */
  constructor(token) {
    this.token = token;
  }

  /**
   * @param {'GET' | 'POST'} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async call(method, path, body) {
    /** @type {Record<string, string>} */
    const headers = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    /** @type {RequestInit} */
    const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    /** @type {any} */
    let json = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    if (!res.ok) {
      const error = json && typeof json.error === 'object' && json.error !== null ? json.error : {};
      throw new ApiError(
        res.status,
        String(error.code ?? `http_${res.status}`),
        String(error.message ?? res.statusText),
      );
    }
    return json;
  }

  /** @param {string} path */
  get(path) {
    return this.call('GET', path);
  }

  /**
   * @param {string} path
   * @param {unknown} [body]
   */
  post(path, body) {
    return this.call('POST', path, body ?? {});
  }
}

/** @param {string} name a route, model or arm name, as one path segment */
export const seg = (name) => encodeURIComponent(name);
