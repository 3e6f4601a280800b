/**
 * Embedded mode's guardrail state (the GuardState port, state/guard-state.ts), in
 * `<state dir>/guardrails.json`, written atomically on each change (rare: a disable, an enable, a
 * watched deploy), so a restart keeps a disabled arm disabled and a watch running. An unreadable
 * file is set aside and the state starts empty (logged by the caller's start-up).
 */
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../registry/atomic-file.js';
import { armField, type ArmGuard, type DeployWatch, type GuardState } from '../guard-state.js';

interface Saved {
  version: 1;
  arms: ArmGuard[];
  watches: DeployWatch[];
}

export class FileGuardState implements GuardState {
  private readonly file: string;
  private readonly armsBy = new Map<string, ArmGuard>();
  private readonly watchesBy = new Map<string, DeployWatch>();

  constructor(stateDir: string) {
    this.file = join(stateDir, 'guardrails.json');
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return; // first start
    }
    try {
      const saved = JSON.parse(text) as Saved;
      if (saved?.version !== 1 || !Array.isArray(saved.arms) || !Array.isArray(saved.watches))
        throw new Error('not a guardrails file');
      for (const a of saved.arms) this.armsBy.set(armField(a.route, a.arm), a);
      for (const w of saved.watches) this.watchesBy.set(w.model, w);
    } catch {
      this.armsBy.clear();
      this.watchesBy.clear();
      try {
        renameSync(this.file, `${this.file}.unreadable-${Date.now()}`);
      } catch {
        /* the next write replaces it */
      }
    }
  }

  async arms(): Promise<ArmGuard[]> {
    return [...this.armsBy.values()];
  }

  async disable(route: string, arm: string, reason: string, atMs: number): Promise<boolean> {
    const field = armField(route, arm);
    if (this.armsBy.get(field)?.disabled) return false;
    this.armsBy.set(field, { route, arm, disabled: true, reason, atMs });
    this.save();
    return true;
  }

  async enable(route: string, arm: string, by: string, atMs: number, offset?: readonly number[]): Promise<boolean> {
    const field = armField(route, arm);
    if (!this.armsBy.get(field)?.disabled) return false;
    this.armsBy.set(field, {
      route,
      arm,
      disabled: false,
      reason: by,
      atMs,
      ...(offset ? { offset: [...offset] } : {}),
    });
    this.save();
    return true;
  }

  async watches(): Promise<DeployWatch[]> {
    return [...this.watchesBy.values()];
  }

  async watch(watch: DeployWatch): Promise<void> {
    this.watchesBy.set(watch.model, watch);
    this.save();
  }

  async endWatch(model: string, version: string): Promise<boolean> {
    if (this.watchesBy.get(model)?.version !== version) return false;
    this.watchesBy.delete(model);
    this.save();
    return true;
  }

  private save(): void {
    const saved: Saved = { version: 1, arms: [...this.armsBy.values()], watches: [...this.watchesBy.values()] };
    writeFileAtomic(this.file, JSON.stringify(saved));
  }
}
