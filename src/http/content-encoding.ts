/**
 * Request bodies sent with Content-Encoding (Triton's `request_compression_algorithm`): which
 * encodings node:zlib undoes, and the inflating itself — on libuv's thread pool, never on the
 * event loop, and never past the body limit.
 */
import { gunzip, inflate, inflateRaw } from 'node:zlib';
import { CroupierError } from '../errors.js';

export type ContentEncoding = 'gzip' | 'deflate';

/** The encoding a Content-Encoding header names ('' for identity), or undefined when it is one we cannot undo. */
export function contentEncoding(header: string): ContentEncoding | '' | undefined {
  switch (header.trim().toLowerCase()) {
    case 'identity':
      return '';
    case 'gzip':
    case 'x-gzip':
      return 'gzip';
    case 'deflate':
      return 'deflate';
    default:
      return undefined;
  }
}

/**
 * Inflates `body`, stopping as soon as the output passes `limit` (zlib's maxOutputLength): a gzip
 * bomb costs at most `limit` bytes and is body_too_large; a corrupt or truncated body is
 * invalid_request.
 */
export function inflateBody(
  body: Buffer,
  encoding: ContentEncoding,
  limit: number,
  done: (error: CroupierError | undefined, plain: Buffer) => void,
): void {
  const inflated = (error: NodeJS.ErrnoException | null, plain: Buffer): void => {
    if (error === null) return done(undefined, plain);
    done(
      error.code === 'ERR_BUFFER_TOO_LARGE'
        ? new CroupierError('body_too_large', `request body inflates past ${limit} bytes`)
        : new CroupierError('invalid_request', `the request body is not valid ${encoding} data (${error.message})`),
      plain,
    );
  };
  const options = { maxOutputLength: limit };
  if (encoding === 'gzip') gunzip(body, options, inflated);
  // "deflate" is the zlib format (RFC 9110; Triton's client sends zlib.compress); some clients send raw deflate.
  else if (hasZlibHeader(body)) inflate(body, options, inflated);
  else inflateRaw(body, options, inflated);
}

/** Whether a deflate body starts with a zlib header (RFC 1950: method 8, check bits). */
function hasZlibHeader(body: Buffer): boolean {
  return body.length >= 2 && (body[0]! & 0x0f) === 8 && ((body[0]! << 8) | body[1]!) % 31 === 0;
}
