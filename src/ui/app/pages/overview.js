// @ts-check
/**
 * Overview: every route with its arms, the versions they serve, the allocation in force, reward and
 * label metrics over 1 h and 24 h, sample-ratio mismatch; and the alerts firing.
 */
import { recentAllocation } from '../allocation.js';
import { seg } from '../api.js';
import { h, replace } from '../dom.js';
import { num, pct, when } from '../format.js';
import { shadowTable } from '../shadows.js';

/** @typedef {import('../main.js').Session} Session */

const WINDOWS = /** @type {const} */ (['1h', '24h']);
const RECENT_MINUTES = 15;

/**
 * @param {Session} session
 * @param {HTMLElement} target
 */
export async function renderOverview(session, target) {
  const { api } = session;
  const [monitor, routes, models] = await Promise.all([
    api.get('/admin/monitor'),
    api.get('/admin/routes'),
    api.get('/admin/models'),
  ]);
  const names = Object.keys(monitor.routes ?? {});
  const series = await Promise.all(
    names.map((name) => api.get(`/admin/monitor/series?route=${seg(name)}&window=1h`).then((s) => s.minutes)),
  );
  /** @type {Map<string, string>} */
  const live = new Map((models.models ?? []).map((/** @type {any} */ m) => [m.name, m.live]));
  replace(
    target,
    h('h1', {}, 'Overview'),
    alertsSection(monitor.alerts ?? []),
    names.length === 0 ? h('p', {}, 'No routes.') : null,
    ...names.map((name, i) => routeSection(name, monitor.routes[name], routes.routes?.[name], series[i] ?? [], live)),
  );
}

/** @param {any[]} alerts */
function alertsSection(alerts) {
  const firing = alerts.filter((a) => a.state === 'firing');
  return h(
    'section',
    { class: 'alerts', 'aria-labelledby': 'alerts-title' },
    h('h2', { id: 'alerts-title' }, `Alerts firing (${firing.length})`),
    firing.length === 0
      ? h('p', { class: 'ok' }, 'No alert is firing.')
      : h(
          'ul',
          {},
          firing.map((a) =>
            h('li', { class: 'alarm' }, h('strong', {}, a.rule), ` since ${when(a.since)}: `, String(a.summary ?? '')),
          ),
        ),
  );
}

/**
 * @param {string} name
 * @param {any} report the route in /admin/monitor
 * @param {any} spec the route in /admin/routes
 * @param {import('../allocation.js').Minute[]} minutes the last hour, per minute
 * @param {Map<string, string>} live each model's live version
 */
function routeSection(name, report, spec, minutes, live) {
  const arms = Object.keys(report.arms ?? {});
  const alloc = recentAllocation(minutes, arms, RECENT_MINUTES);
  const id = `route-${name.replace(/[^\w-]/g, '_')}`;
  const specArms = new Map((spec?.arms ?? []).map((/** @type {any} */ a) => [a.name, a]));
  const head = h(
    'thead',
    {},
    h(
      'tr',
      {},
      h('th', { scope: 'col', rowspan: 2 }, 'Arm'),
      h('th', { scope: 'col', rowspan: 2 }, 'Serves'),
      h('th', { scope: 'col', rowspan: 2 }, `Allocation (last ${RECENT_MINUTES} min)`),
      ...WINDOWS.map((w) => h('th', { scope: 'colgroup', colspan: 5 }, w === '1h' ? 'Last hour' : 'Last 24 hours')),
    ),
    h(
      'tr',
      {},
      ...WINDOWS.flatMap(() =>
        ['Pulls / outcomes', 'Mean reward', 'Precision', 'Recall', 'AUC'].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
  );
  const columns = 3 + WINDOWS.length * 5;
  const rows = arms.flatMap((arm) => {
    const a = report.arms[arm];
    const pinned = specArms.get(arm)?.version;
    const isLive = live.get(a.model) === a.version;
    const share = alloc[arm];
    const row = h(
      'tr',
      { class: a.disabled ? 'disabled' : undefined },
      h(
        'th',
        { scope: 'row' },
        arm,
        a.disabled
          ? h('span', { class: 'badge alarm', title: String(a.disabledReason ?? '') }, 'disabled by guardrail')
          : null,
      ),
      h(
        'td',
        {},
        `${a.model} v${a.version}`,
        isLive ? h('span', { class: 'badge live' }, 'live') : null,
        pinned === 'live' ? h('span', { class: 'note sub' }, 'follows live') : null,
      ),
      h(
        'td',
        { title: "mean weight in the route's decisions (expected pulls / decisions); share of pulls in brackets" },
        share?.weight === null || share === undefined ? '–' : pct(share.weight),
        share?.share === null || share === undefined
          ? null
          : h('span', { class: 'note sub' }, `${pct(share.share)} of pulls`),
      ),
      ...WINDOWS.flatMap((w) => {
        const win = a.windows?.[w] ?? {};
        const labels = win.labels;
        return [
          `${num(win.pulls)} / ${num(win.outcomes)}`,
          num(win.meanReward),
          num(labels?.precision),
          num(labels?.recall),
          num(labels?.auc),
        ].map((text) => h('td', { class: 'n' }, text));
      }),
    );
    // The numbers a reader would miss, said in words under the row rather than left as bare dashes.
    const why = [
      a.disabled ? `${arm} gets no traffic since ${when(a.disabledSince)}: ${a.disabledReason ?? 'disabled'}.` : null,
      a.noLabels ? `No precision, recall or AUC for ${arm}: ${a.noLabels}.` : null,
    ].filter((x) => x !== null);
    return why.length === 0
      ? [row]
      : [row, h('tr', { class: 'why-row' }, h('td', { colspan: columns }, h('span', {}, why.join(' '))))];
  });
  return h(
    'section',
    { class: 'route', 'aria-labelledby': id },
    h('h2', { id }, h('a', { href: `#/route/${seg(name)}` }, name)),
    h(
      'p',
      { class: 'meta' },
      spec ? `Policy ${spec.policy}, reward ${spec.reward ?? 'bernoulli'}. ` : '',
      'Sample-ratio mismatch: ',
      ...WINDOWS.map((w, i) => {
        const srm = report.srm?.[w];
        return h(
          'span',
          { class: srm?.srm ? 'badge alarm' : 'badge ok' },
          `${i ? ' ' : ''}${w} p = ${num(srm?.pValue)}${srm?.srm ? ' — SRM!' : ''}`,
        );
      }),
    ),
    h('div', { class: 'scroll' }, h('table', {}, h('caption', {}, `Arms of ${name}`), head, h('tbody', {}, rows))),
    shadowTable(name, report.shadows),
  );
}
