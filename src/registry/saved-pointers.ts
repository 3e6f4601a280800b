/**
 * Start-up: the live pointers a store saved (src/state/live-pointers.ts) win over the repository's
 * LIVE files, as long as the version they name is still served.
 */
import type { Logger } from '../log.js';
import type { LivePointer } from './lifecycle.js';
import { HISTORY_LIMIT, type Registry } from './registry.js';

/**
 * Sets each model's live version and history from its saved pointer. A saved version that is no
 * longer served (removed or refused) is skipped with a warning: the repository's choice stands.
 */
export function restorePointers(registry: Registry, pointers: readonly LivePointer[], log: Logger): void {
  for (const pointer of pointers) {
    const model = registry.model(pointer.model);
    if (!model) continue;
    const live = model.versions.get(pointer.live);
    if (!live) {
      log.warn(
        { model: pointer.model, version: pointer.live },
        'saved live version is no longer served; keeping the repository choice',
      );
      continue;
    }
    if (live.sha256 !== pointer.sha256)
      log.warn(
        { model: pointer.model, version: pointer.live, saved: pointer.sha256, now: live.sha256 },
        'live version changed on disk since it was deployed',
      );
    registry.point(model, live, pointer.history.slice(-HISTORY_LIMIT));
  }
}
