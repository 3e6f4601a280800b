/**
 * Embedded mode's alert states, kept in `<state dir>/alerts.json` (written atomically on each
 * change, a few times a day at most), so a restart does not notify again a rule that was firing,
 * nor send the daily report twice. An unreadable file counts as none: rules notify afresh.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../registry/atomic-file.js';
import type { AlertState } from '../../monitoring/report.js';
import type { AlertStates } from '../alert-state.js';

const CLAIMS_KEPT = 16;

export class FileAlertStates implements AlertStates {
  private readonly file: string;
  private readonly states = new Map<string, AlertState>();
  private readonly claimed: string[] = [];

  constructor(stateDir: string) {
    this.file = join(stateDir, 'alerts.json');
    try {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as { states?: AlertState[]; claimed?: string[] };
      for (const s of saved.states ?? [])
        if (typeof s?.rule === 'string' && (s.state === 'firing' || s.state === 'resolved')) this.states.set(s.rule, s);
      for (const c of saved.claimed ?? []) if (typeof c === 'string') this.claimed.push(c);
    } catch {
      // None yet, or unreadable: start afresh.
    }
  }

  all(): Promise<Map<string, AlertState>> {
    return Promise.resolve(new Map(this.states));
  }

  put(state: AlertState): Promise<void> {
    this.states.set(state.rule, state);
    return this.save();
  }

  claim(key: string): Promise<boolean> {
    if (this.claimed.includes(key)) return Promise.resolve(false);
    this.claimed.push(key);
    if (this.claimed.length > CLAIMS_KEPT) this.claimed.shift();
    return this.save().then(() => true);
  }

  private save(): Promise<void> {
    try {
      writeFileAtomic(this.file, JSON.stringify({ states: [...this.states.values()], claimed: this.claimed }));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
