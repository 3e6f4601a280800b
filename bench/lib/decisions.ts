// Real decisions for the feedback benches: predictions made with wrk (bench/decisions.lua collects
// their ids, one a line), and a wait for the journal they leave to be compacted, so that no round
// measures a snapshot being written.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { journalGenerations } from '../../src/state/embedded/snapshot.js';
import { REQUEST_BODY } from '../body.js';
import { runWrk } from './wrk.js';

const DECISIONS_LUA = fileURLToPath(new URL('../decisions.lua', import.meta.url));
export const FEEDBACK_LUA = fileURLToPath(new URL('../feedback.lua', import.meta.url));

/**
 * Makes decisions on `predictUrl` (5 s wrk runs) until `idsFile` holds at least `needed` ids, one a
 * line (started afresh unless `append`); returns how many it holds.
 */
export async function makeDecisions(
  predictUrl: string,
  idsFile: string,
  needed: number,
  connections: number,
  log: (msg: string) => void,
  append = false,
): Promise<number> {
  if (!append) writeFileSync(idsFile, '');
  let have = append ? countIds(idsFile) : 0;
  while (have < needed) {
    await runWrk({
      url: predictUrl,
      body: REQUEST_BODY,
      durationS: 5,
      connections,
      threads: 1,
      script: DECISIONS_LUA,
      env: { IDS_FILE: idsFile },
    });
    have = countIds(idsFile);
    log(`${have} decisions`);
  }
  return have;
}

function countIds(idsFile: string): number {
  return readFileSync(idsFile, 'utf8').split('\n').length - 1;
}

/** Waits until the state directory holds one journal generation past the first (a compaction ran). */
export async function compacted(stateDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const generations = journalGenerations(stateDir);
    if (generations.length === 1 && generations[0]! > 1) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}
