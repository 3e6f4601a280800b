// @ts-check
/**
 * A route's shadow arms (`routes.R.shadows` in /admin/monitor): copies of a share of its requests,
 * scored and compared with the served answer, never returned. Shown on the overview and, with the
 * copies shed and failed, on the route page.
 */
import { h } from './dom.js';
import { num, pct } from './format.js';

const WINDOWS = /** @type {const} */ (['1h', '24h']);

/**
 * Why a shadow number is missing, as text a reader sees (not only a tooltip).
 * @param {any} s a window's `shadow`
 */
function whyNoScore(s) {
  if (!(s?.comparisons > 0)) return 'no copies scored yet';
  if (s.withoutScores >= s.comparisons) return 'no scores to compare: a version without "monitor"';
  return 'no comparison with both scores yet';
}

/**
 * @param {number | null | undefined} value
 * @param {string} text the value as read
 * @param {any} s the window
 */
function scoreCell(value, text, s) {
  if (value !== null && value !== undefined && Number.isFinite(value)) return h('td', { class: 'n' }, text);
  return h('td', { class: 'n' }, '–', h('span', { class: 'why' }, whyNoScore(s)));
}

/**
 * One window's cells.
 * @param {any} s the window's `shadow`
 * @param {boolean} detailed
 */
function windowCells(s, detailed) {
  const cells = [
    h('td', { class: 'n' }, num(s.comparisons)),
    scoreCell(s.agreement, pct(s.agreement), s),
    scoreCell(s.meanAbsScoreDelta, num(s.meanAbsScoreDelta), s),
    s.p99LatencyMs === null || s.p99LatencyMs === undefined
      ? h('td', { class: 'n' }, '–', h('span', { class: 'why' }, 'no copies scored yet'))
      : h('td', { class: 'n' }, `${num(s.p99LatencyMs, 1)} ms`),
  ];
  if (detailed)
    cells.push(
      h('td', { class: 'n' }, num(s.withoutScores)),
      h('td', { class: s.shed > 0 ? 'n alarm' : 'n' }, num(s.shed)),
      h('td', { class: s.failed > 0 ? 'n alarm' : 'n' }, num(s.failed)),
    );
  return cells;
}

/** @param {string} arm */
const armCell = (arm) => h('th', { scope: 'row' }, arm, h('span', { class: 'badge shadow' }, 'shadow'));

/**
 * The table of a route's shadow arms, or null when it has none. The overview puts the two windows
 * side by side; the route page (`detailed`: also the copies scored without scores, shed and
 * failed) gives each window a row of its own, which keeps the table within a screen's width.
 * @param {string} route
 * @param {Record<string, any> | undefined} shadows
 * @param {boolean} [detailed]
 */
export function shadowTable(route, shadows, detailed = false) {
  const names = Object.keys(shadows ?? {});
  if (!shadows || names.length === 0) return null;
  const cols = ['Comparisons', 'Agreement', 'Mean |Δscore|', 'p99 latency'];
  /** @param {string} text */
  const th = (text) => h('th', { scope: 'col' }, text);
  /** @param {any} a */
  const serves = (a) => [
    h('td', {}, `${a.model} v${a.version}`),
    h('td', { class: 'n' }, `${pct(a.share)} of requests`),
  ];
  let head;
  let rows;
  if (detailed) {
    head = h(
      'thead',
      {},
      h('tr', {}, ...['Shadow arm', 'Scores', 'Copied', 'Window', ...cols, 'Without scores', 'Shed', 'Failed'].map(th)),
    );
    rows = names.flatMap((arm) =>
      WINDOWS.map((w) =>
        h(
          'tr',
          {},
          armCell(arm),
          ...serves(shadows[arm]),
          h('td', {}, w === '1h' ? 'last hour' : 'last 24 hours'),
          ...windowCells(shadows[arm].windows?.[w]?.shadow ?? {}, true),
        ),
      ),
    );
  } else {
    head = h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col', rowspan: 2 }, 'Shadow arm'),
        h('th', { scope: 'col', rowspan: 2 }, 'Scores'),
        h('th', { scope: 'col', rowspan: 2 }, 'Copied'),
        ...WINDOWS.map((w) =>
          h('th', { scope: 'colgroup', colspan: cols.length }, w === '1h' ? 'Last hour' : 'Last 24 hours'),
        ),
      ),
      h('tr', {}, ...WINDOWS.flatMap(() => cols.map(th))),
    );
    rows = names.map((arm) =>
      h(
        'tr',
        {},
        armCell(arm),
        ...serves(shadows[arm]),
        ...WINDOWS.flatMap((w) => windowCells(shadows[arm].windows?.[w]?.shadow ?? {}, false)),
      ),
    );
  }
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'shadows' },
      h('caption', {}, `Shadow arms of ${route}: answers never returned, compared with the served ones`),
      head,
      h('tbody', {}, rows),
    ),
  );
}
