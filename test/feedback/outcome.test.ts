/** Outcome lines are written by hand: they must be exactly what JSON.stringify would write. */
import { expect, it } from 'vitest';
import { Outcome } from '../../src/feedback/outcome.js';

it('writes the same line as JSON.stringify for every kind of reward and label', () => {
  const id = 'AaIi-_09zZ' + 'x'.repeat(22);
  const rewards = [0, 1, 0.5, -0, -3.25, 1e-7, 1e21, 123456789.125];
  const labels = [
    undefined,
    0,
    1,
    true,
    false,
    'fraud',
    'quote " backslash \\ newline \n tab \t',
    'é ✓ 🂡',
    '\u0000\u001f\u2028',
  ];
  for (const w of rewards) {
    for (const l of labels) {
      const line = new Outcome(id, w, l, 1_764_400_000_123).line();
      expect(line).toBe(
        JSON.stringify(l === undefined ? { o: id, w, t: 1_764_400_000_123 } : { o: id, w, t: 1_764_400_000_123, l }),
      );
    }
  }
});
