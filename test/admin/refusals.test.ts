/** RefusalThrottle over time: one entry per source and minute, with the count; quiet sources are forgotten. */
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AuditFields } from '../../src/state/audit-chain.js';
import { RefusalThrottle, WINDOW_MS } from '../../src/admin/refusals.js';

const wrong = {
  action: 'deploy',
  target: 'fraud',
  status: 401,
  error: { code: 'unauthorized', message: 'the admin token is wrong' },
};

describe('RefusalThrottle', () => {
  it('writes the first refusal, then each minute the count of the others, until the source is quiet', async () => {
    const written: AuditFields[] = [];
    const throttle = new RefusalThrottle(async (f) => {
      written.push(f);
    }, new client.Registry());
    try {
      expect(throttle.refused('10.0.0.7', 'wrong_token', wrong)).toBeDefined();
      for (let i = 0; i < 99; i++) expect(throttle.refused('10.0.0.7', 'missing_token', wrong)).toBeUndefined();
      expect(written).toHaveLength(1);
      const now = Date.now();
      throttle.tick(now + WINDOW_MS / 2);
      expect(written).toHaveLength(1);
      throttle.tick(now + WINDOW_MS + 1);
      expect(written).toHaveLength(2);
      expect(written[1]).toMatchObject({
        actor: null,
        action: 'refused',
        target: '10.0.0.7',
        result: 'refused',
        status: 401,
        after: { refused: 99, reasons: { missing_token: 99 } },
      });
      // Still refused in the next minute: counted, not written one by one.
      expect(throttle.refused('10.0.0.7', 'wrong_token', wrong)).toBeUndefined();
      throttle.tick(now + 2 * WINDOW_MS + 2);
      expect(written).toHaveLength(3);
      expect(written[2]!.after).toMatchObject({ refused: 1 });
      // A quiet minute: the source leaves the table, and its next refusal is written at once again.
      throttle.tick(now + 3 * WINDOW_MS + 3);
      expect(throttle.sources).toBe(0);
      expect(throttle.refused('10.0.0.7', 'wrong_token', wrong)).toBeDefined();
      expect(written).toHaveLength(4);
    } finally {
      await throttle.close();
    }
  });
});
