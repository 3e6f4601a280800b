/**
 * Decision keys, and the arguments of the DECIDE script (src/redis/stats.ts) for one write of
 * decisions: built once per turn on the predict path, without a map or a string key per decision.
 */
import type { Decision } from '../feedback/decision.js';
import { KEY_PREFIX } from './connection.js';
import { statsKey } from './stats.js';

/** Decision keys are not hash-tagged: feedback knows only the id, and they spread over the slots. */
export function decisionKey(id: string): string {
  return `${KEY_PREFIX}decision:${id}`;
}

/**
 * The DECIDE script's arguments: numkeys, the decision keys then the stats keys; the decisions'
 * lines, TTLs and pull groups; per group its stats key's index, arm and version key. The decisions
 * of one turn share one group or a few (one inference batch serves one version), so the group of
 * the previous decision is tried first.
 */
export function decideArgs(live: readonly Decision[], ttls: readonly number[]): (string | number)[] {
  const n = live.length;
  const keys: string[] = new Array(n);
  const lines: string[] = new Array(n);
  const groupOf: number[] = new Array(n);
  const groups: Decision[] = [];
  const statsKeys: string[] = [];
  const statsIndex: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = live[i]!;
    keys[i] = decisionKey(d.id);
    lines[i] = d.line();
    let g = groups.length - 1;
    const last = groups[g];
    if (!last || last.route !== d.route || last.arm !== d.arm || last.versionKey !== d.versionKey) {
      g = groups.findIndex((x) => x.route === d.route && x.arm === d.arm && x.versionKey === d.versionKey);
      if (g < 0) {
        g = groups.push(d) - 1;
        const key = statsKey(d.route);
        let k = statsKeys.indexOf(key);
        if (k < 0) k = statsKeys.push(key) - 1;
        statsIndex.push(k + 1);
      }
    }
    groupOf[i] = g + 1;
  }
  const args: (string | number)[] = [n + statsKeys.length, ...keys, ...statsKeys, n, ...lines, ...ttls, ...groupOf];
  for (let g = 0; g < groups.length; g++) args.push(statsIndex[g]!, groups[g]!.arm, groups[g]!.versionKey);
  return args;
}
