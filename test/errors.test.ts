/** The error table is one list, and every code in it is documented (fastify's habit). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CroupierError, ERRORS, isCroupierError } from '../src/errors.js';

describe('errors', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

  it.each(Object.entries(ERRORS))('%s is documented with its status', (code, { status }) => {
    expect(doc).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
  });

  it('errors are recognised by code, as they are after crossing a thread', () => {
    const e = new CroupierError('queue_full');
    const cloned = structuredClone({ code: e.code, status: e.status, message: e.message });
    expect(isCroupierError(cloned)).toBe(true);
    expect(e.retryAfter).toBe(1);
    expect(isCroupierError(new Error('x'))).toBe(false);
  });
});
