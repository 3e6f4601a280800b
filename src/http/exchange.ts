/**
 * One HTTP request/response on uWS. uWS hands us the request only during the handler call, and
 * writing to a response whose client has gone away crashes the process: every exchange registers
 * onAborted at once, reads what it needs synchronously, and checks `aborted` before writing.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { CroupierError, isCroupierError } from '../errors.js';
import type { Responder } from '../scoring/gateway.js';
import type { ModelVersion } from '../registry/repository.js';
import type { Route } from '../routing/router.js';
import { headerLength } from '../protocol/binary-tensors.js';
import { contentEncoding, inflateBody } from './content-encoding.js';

export type ErrorForm = 'v1' | 'v2';

export interface ExchangeHooks {
  started(exchange: Exchange): void;
  /** Called once per exchange when it ends (answered or aborted). */
  finished(exchange: Exchange, status: number): void;
}

let counter = 0;
// Header names as bytes: uWS reads a Buffer in place, where a string is converted on every call.
const H_REQUEST_ID = Buffer.from('x-request-id');
const H_TRACEPARENT = Buffer.from('traceparent');
const H_CONTENT_TYPE = Buffer.from('content-type');
const H_CONTENT_LENGTH = Buffer.from('content-length');
const H_TIMEOUT = Buffer.from('x-croupier-timeout-ms');
// Request ids are `<process prefix>-<counter>`: the prefix is 48 random bits, so ids stay unique across
// replicas (a start-time prefix collided for replicas started in the same second) at the cost of one
// string concatenation per request, as before.
const bootId = randomBytes(6).readUIntBE(0, 6).toString(36).padStart(10, '0');
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export class Exchange implements Responder {
  readonly res: HttpResponse;
  readonly form: ErrorForm;
  readonly method: string;
  readonly url: string;
  readonly requestId: string;
  readonly traceparent: string;
  readonly contentType: string;
  readonly contentLength: number;
  readonly timeoutMs: string;
  readonly started = performance.now();
  aborted = false;
  done = false;
  status = 0;
  /** Labels for metrics, filled in as the request is understood. */
  /** Scoring requests are counted in croupier_requests_total. */
  scoring = false;
  route = 'unknown';
  arm = '';
  model = '';
  version = '';
  /** The route a predict body goes to, and its deadline, while the body is read. */
  target: Route | undefined;
  deadlineAt = 0;
  private readonly hooks: ExchangeHooks;
  private chunks: Buffer[] | undefined;
  /** Set only by bodyStream (uWS takes one abort handler, the constructor's). */
  private bodyStreamAborted: (() => void) | undefined;

  /** `method` and `url`, when the route already knows them, save asking uWS (each call into it counts on the hot path). */
  constructor(
    res: HttpResponse,
    req: HttpRequest,
    form: ErrorForm,
    hooks: ExchangeHooks,
    method?: string,
    url?: string,
  ) {
    this.res = res;
    this.form = form;
    this.hooks = hooks;
    this.method = method ?? req.getMethod().toUpperCase();
    this.url = url ?? req.getUrl();
    const incomingId = req.getHeader(H_REQUEST_ID);
    this.requestId = incomingId !== '' && REQUEST_ID.test(incomingId) ? incomingId : `${bootId}-${++counter}`;
    this.traceparent = req.getHeader(H_TRACEPARENT);
    this.contentType = req.getHeader(H_CONTENT_TYPE);
    const length = req.getHeader(H_CONTENT_LENGTH);
    this.contentLength = length === '' ? -1 : declaredLength(length);
    this.timeoutMs = req.getHeader(H_TIMEOUT);
    hooks.started(this);
    res.onAborted(() => {
      this.aborted = true;
      this.bodyStreamAborted?.();
      if (!this.done) {
        this.done = true;
        this.hooks.finished(this, 499);
      }
    });
  }

  /** The deadline from x-croupier-timeout-ms as a performance.now() time, 0 when none; throws when malformed. */
  deadline(): number {
    if (this.timeoutMs === '') return 0;
    if (!/^\d{1,9}$/.test(this.timeoutMs))
      throw new CroupierError('invalid_request', 'x-croupier-timeout-ms must be a whole number of milliseconds');
    return this.started + Number(this.timeoutMs);
  }

  isJson(): boolean {
    const ct = this.contentType.toLowerCase();
    return ct === 'application/json' || ct.startsWith('application/json;') || ct.startsWith('application/json ');
  }

  /**
   * Reads the body, counting bytes as they arrive; calls back with the whole body, or answers 413
   * itself when it grows past the limit. With `transient`, a body that came in one piece is a view
   * on uWS's memory, valid only during the callback (no copy, for bodies parsed at once).
   */
  readBody(limit: number, onBody: (body: Buffer) => void, transient = false): void {
    if (this.contentLength > limit) {
      this.fail(new CroupierError('body_too_large', `request body is larger than ${limit} bytes`));
      return;
    }
    let size = 0;
    this.res.onData((chunk, isLast) => {
      if (this.done) return;
      size += chunk.byteLength;
      if (size > limit) {
        this.chunks = undefined;
        this.fail(new CroupierError('body_too_large', `request body is larger than ${limit} bytes`), true);
        return;
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      if (isLast && this.chunks === undefined) {
        onBody(transient ? Buffer.from(chunk) : Buffer.from(Buffer.from(chunk)));
        return;
      }
      (this.chunks ??= []).push(Buffer.from(Buffer.from(chunk)));
      if (isLast) {
        const body = Buffer.concat(this.chunks);
        this.chunks = undefined;
        onBody(body);
      }
    });
  }

  /**
   * The body as a stream, for bodies too big to hold (release uploads): uWS stops reading from the
   * client while the consumer is behind, so memory holds about one highWaterMark of it. The stream
   * fails with body_too_large past `limit`, and when the client goes away.
   */
  bodyStream(limit: number): Readable {
    const res = this.res;
    let size = 0;
    let paused = false;
    const resume = (): void => {
      if (paused && !this.aborted) res.resume();
      paused = false;
    };
    const stream = new Readable({
      highWaterMark: 1024 * 1024,
      read: resume,
      // A body refused half-way is still read (and dropped) by uWS, so the answer reaches the client.
      destroy: (error, done) => {
        resume();
        done(error);
      },
    });
    this.bodyStreamAborted = () =>
      stream.destroy(new CroupierError('invalid_request', 'the client went away before the body was complete'));
    res.onData((chunk, isLast) => {
      if (stream.destroyed) return;
      size += chunk.byteLength;
      if (size > limit) {
        stream.destroy(new CroupierError('body_too_large', `request body is larger than ${limit} bytes`));
        return;
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      const wanted = stream.push(Buffer.from(Buffer.from(chunk)));
      if (isLast) stream.push(null);
      else if (!wanted && !paused) {
        paused = true;
        res.pause();
      }
    });
    return stream;
  }

  /**
   * Reads and parses a JSON body in the contract's order: 413 (declared length), 415, then 413 as a
   * chunked body is counted, then 400 for malformed JSON. A chunked body of the wrong type is read
   * (up to the limit) before its 415, so that the order holds there too.
   */
  readJson(limit: number, onJson: (value: unknown, exchange: Exchange) => void): void {
    const json = this.isJson();
    if (!json && this.contentLength >= 0 && this.contentLength <= limit) return this.notJson();
    this.readBody(
      limit,
      (body) => {
        if (!json) return this.notJson();
        let value: unknown;
        try {
          value = JSON.parse(body.toString('utf8'));
        } catch {
          this.fail(
            new CroupierError(
              'invalid_json',
              body.length === 0 ? 'the request body is empty' : 'request body is not valid JSON',
            ),
          );
          return;
        }
        onJson(value, this);
      },
      true,
    );
  }

  private notJson(): void {
    this.fail(
      new CroupierError(
        'unsupported_media_type',
        `content type must be application/json, got "${this.contentType || '(none)'}"`,
      ),
    );
  }

  scored(json: string, version: ModelVersion, arm: string): void {
    this.model = version.model;
    this.version = version.version;
    this.arm = arm;
    this.send(200, json);
  }

  scoredBinary(bytes: Buffer, headerLength: number, version: ModelVersion, arm: string): void {
    this.model = version.model;
    this.version = version.version;
    this.arm = arm;
    this.send(200, bytes, {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(headerLength),
    });
  }

  failed(error: unknown): void {
    this.fail(error);
  }

  /**
   * Reads an Open Inference Protocol infer body: JSON, or — when `Inference-Header-Content-Length`
   * is given — a JSON header followed by binary tensor data; either may come gzip- or
   * deflate-encoded. No content type at all is the protocol's own (Triton's clients send none); 415
   * only for a type or an encoding that is neither, in the same order as readJson.
   */
  readInfer(
    limit: number,
    inferenceHeaderLength: string,
    encodingHeader: string,
    onRequest: (json: unknown, binary: Buffer | undefined) => void,
  ): void {
    const binary = inferenceHeaderLength !== '';
    const ct = this.contentType;
    const typeOk = ct === '' || this.isJson() || (binary && isOctetStream(ct));
    // The common case (no Content-Encoding) is this one compare.
    const encoding = encodingHeader === '' ? '' : contentEncoding(encodingHeader);
    const accepted = typeOk && encoding !== undefined;
    if (!accepted && this.contentLength >= 0 && this.contentLength <= limit)
      return this.unsupportedInfer(typeOk, binary, encodingHeader);
    this.readBody(
      limit,
      (body) => {
        if (!accepted) return this.unsupportedInfer(typeOk, binary, encodingHeader);
        if (encoding === '') return this.parseInfer(body, inferenceHeaderLength, onRequest);
        inflateBody(body, encoding!, limit, (error, plain) => {
          if (this.done) return; // the client went away meanwhile
          if (error) return this.fail(error);
          this.parseInfer(plain, inferenceHeaderLength, onRequest);
        });
      },
      // A JSON body is parsed during the callback; binary tensors and inflated bodies outlive it.
      !binary && encoding === '',
    );
  }

  private parseInfer(
    body: Buffer,
    inferenceHeaderLength: string,
    onRequest: (json: unknown, binary: Buffer | undefined) => void,
  ): void {
    let json: unknown;
    if (inferenceHeaderLength === '') {
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        return this.fail(
          new CroupierError(
            'invalid_json',
            body.length === 0 ? 'the request body is empty' : 'request body is not valid JSON',
          ),
        );
      }
      return onRequest(json, undefined);
    }
    let binary: Buffer;
    try {
      const n = headerLength(inferenceHeaderLength, body.length);
      binary = body.subarray(n);
      json = JSON.parse(body.toString('utf8', 0, n));
    } catch (e) {
      return this.fail(
        isCroupierError(e) ? e : new CroupierError('invalid_json', 'the inference header is not valid JSON'),
      );
    }
    onRequest(json, binary);
  }

  private unsupportedInfer(typeOk: boolean, binary: boolean, encodingHeader: string): void {
    const got = (s: string): string => JSON.stringify(s.slice(0, 100));
    let message: string;
    if (!typeOk)
      message = binary
        ? `binary tensor data must be sent as application/octet-stream (or with no content type), got ${got(this.contentType)}`
        : `content type must be application/json (or none), got ${got(this.contentType)}`;
    else message = `content encoding must be gzip, deflate or identity, got ${got(encodingHeader)}`;
    this.fail(new CroupierError('unsupported_media_type', message));
  }

  send(status: number, body: string | Buffer, headers?: Record<string, string>): void {
    if (this.done) return;
    this.done = true;
    this.status = status;
    if (this.aborted) return;
    this.res.cork(() => {
      // uWS answers 200 OK unless told otherwise; constant header bytes are encoded once, not per answer.
      if (status !== 200) this.res.writeStatus(STATUS_LINES[status] ?? String(status));
      if (headers?.['content-type'] === undefined) this.res.writeHeader(CONTENT_TYPE, APPLICATION_JSON);
      this.res.writeHeader(X_REQUEST_ID, this.requestId);
      if (headers) for (const k in headers) this.res.writeHeader(k, headers[k]!);
      if (this.method === 'HEAD') {
        // HEAD (health paths): the GET answer's status and headers, no body. Not endWithoutBody(n):
        // this uWS then waits for n body bytes and never answers the connection's next request.
        this.res.writeHeader(CONTENT_LENGTH, String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
        this.res.endWithoutBody();
      } else this.res.end(body);
    });
    this.hooks.finished(this, status);
  }

  /**
   * Answers 200 with a body of many pieces (an admin dataset): the next piece is asked for only once
   * uWS has taken the last without backpressure, so memory holds about one piece whatever the body's
   * size. A failure before the first piece is answered as an error; after it, the connection is
   * closed, so the client sees a body cut short (chunked, unterminated), never a complete one.
   */
  async sendStream(pieces: AsyncIterator<Buffer>, contentType: string): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.status = 200;
    const res = this.res;
    /** undefined: answered as an error instead. */
    let started: boolean | undefined = false;
    const head = (): void => {
      started = true;
      res.writeHeader(CONTENT_TYPE, contentType);
      res.writeHeader(X_REQUEST_ID, this.requestId);
    };
    try {
      for (;;) {
        const next = await pieces.next();
        if (this.aborted) {
          this.status = 499;
          await pieces.return?.();
          return;
        }
        if (next.done) {
          res.cork(() => {
            if (!started) head();
            res.end();
          });
          return;
        }
        let drained = true;
        res.cork(() => {
          if (!started) head();
          drained = res.write(next.value);
        });
        if (!drained)
          await new Promise<void>((resolve) => {
            this.bodyStreamAborted = resolve;
            res.onWritable(() => {
              resolve();
              return true;
            });
          });
      }
    } catch (e) {
      if (this.aborted) {
        this.status = 499;
        return;
      }
      if (!started) {
        // fail() answers and tells the hooks itself.
        this.done = false;
        started = undefined;
        return this.fail(e);
      }
      this.status = 500;
      this.error = isCroupierError(e) ? e : new CroupierError('internal', undefined, { cause: e });
      res.close();
    } finally {
      if (started !== undefined) this.hooks.finished(this, this.status);
    }
  }

  /** Answers an error in the form of this endpoint family (`/v2` or the rest). */
  fail(error: unknown, closeConnection = false, extraHeaders?: Record<string, string>): void {
    const e = isCroupierError(error) ? error : new CroupierError('internal', undefined, { cause: error });
    const body = e.body(this.form);
    const headers: Record<string, string> = { ...extraHeaders };
    if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
    if (closeConnection) headers.connection = 'close';
    this.error = e;
    this.send(e.status, body, headers);
  }

  /** The error this exchange answered with, for logging. */
  error: CroupierError | undefined;
}

function isOctetStream(contentType: string): boolean {
  const ct = contentType.toLowerCase();
  return ct === 'application/octet-stream' || ct.startsWith('application/octet-stream;');
}

/** A Content-Length of 1 to 15 digits, else -2 (malformed). */
function declaredLength(s: string): number {
  if (s.length > 15) return -2;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -2;
    n = n * 10 + d;
  }
  return n;
}

const CONTENT_TYPE = Buffer.from('content-type');
const APPLICATION_JSON = Buffer.from('application/json');
const X_REQUEST_ID = Buffer.from('x-request-id');
const CONTENT_LENGTH = Buffer.from('content-length');

const STATUS_LINES: Record<number, string> = {
  200: '200 OK',
  202: '202 Accepted',
  204: '204 No Content',
  304: '304 Not Modified',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  410: '410 Gone',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  422: '422 Unprocessable Entity',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};
