/**
 * Decisions still held for Redis when a replica stops (Redis down or failing through the whole
 * drain): written to `<stateDir>/redis-held-decisions.jsonl` instead of being dropped, and taken up
 * again — held, then written to Redis by catch-up — when the replica starts next on the same state
 * directory (issue 13, cause 4). One decision line per line, the format of the embedded journal.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../../registry/atomic-file.js';
import { join } from 'node:path';
import { Decision } from '../../feedback/decision.js';

export function heldJournal(stateDir: string): string {
  return join(stateDir, 'redis-held-decisions.jsonl');
}

/** Writes the decisions (replacing an older journal) atomically: a crash leaves the old one or the new. */
export function saveHeld(file: string, decisions: readonly Decision[]): void {
  writeFileAtomic(file, decisions.map((d) => d.line() + '\n').join(''));
}

/**
 * The decisions a previous run left, and the journal removed (they are held in memory now, and
 * journaled again if this run stops before writing them). Lines that do not parse are skipped.
 */
export function takeHeld(file: string): Decision[] {
  if (!existsSync(file)) return [];
  const decisions: Decision[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      const l: unknown = JSON.parse(line);
      if (Decision.isLine(l)) decisions.push(Decision.fromLine(l));
    } catch {
      /* a torn line: skipped */
    }
  }
  rmSync(file, { force: true });
  return decisions;
}
