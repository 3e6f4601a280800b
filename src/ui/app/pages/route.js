// @ts-check
/**
 * One route: its allocation and reward over the last 24 hours (uPlot, 10-minute buckets), and the
 * arms its guardrails disabled, each with an Enable button for admins.
 */
import { bucketed } from '../allocation.js';
import { seg } from '../api.js';
import { chartBox, timeChart } from '../charts.js';
import { h, replace, table } from '../dom.js';
import { num, pct, when } from '../format.js';
import { shadowTable } from '../shadows.js';

/** @typedef {import('../main.js').Session} Session */

/** Each window's chart step: 10-minute buckets over a day, minutes over an hour. */
const BUCKET_MINUTES = { '24h': 10, '1h': 1 };

/**
 * @param {Session} session
 * @param {HTMLElement} target
 * @param {string} name
 * @param {string} [window] `24h` (the default) or `1h`
 */
export async function renderRoute(session, target, name, window = '24h') {
  const span = window === '1h' ? '1h' : '24h';
  const step = BUCKET_MINUTES[span];
  const spanText = span === '1h' ? 'hour' : '24 hours';
  const { api } = session;
  const [monitor, routes, series] = await Promise.all([
    api.get('/admin/monitor'),
    api.get('/admin/routes'),
    api.get(`/admin/monitor/series?route=${seg(name)}&window=${span}`),
  ]);
  const report = monitor.routes?.[name];
  const spec = routes.routes?.[name];
  if (!report || !spec) {
    replace(target, h('h1', {}, name), h('p', { class: 'error', role: 'alert' }, `There is no route named "${name}".`));
    return;
  }
  const arms = Object.keys(report.arms);
  const { times, share, reward } = bucketed(series.minutes ?? [], arms, step);
  const steps = step === 1 ? 'per minute' : `in ${step}-minute steps`;
  const allocation = chartBox(`Share of ${name}'s decisions per arm, ${steps} (UTC).`);
  const rewards = chartBox(`Mean reward of ${name}'s outcomes per arm, ${steps} (UTC).`);
  const other = span === '1h' ? '24h' : '1h';
  const switchTo = h(
    'a',
    { href: `#/route/${seg(name)}/${other}`, class: 'switch' },
    other === '1h' ? 'Show the last hour, per minute' : 'Show the last 24 hours',
  );
  const result = h('p', { class: 'result', role: 'status' });
  const disabled = arms.filter((arm) => report.arms[arm].disabled);
  replace(
    target,
    h('h1', {}, `Route ${name}`),
    h(
      'p',
      { class: 'meta' },
      `Policy ${spec.policy}, reward ${spec.reward ?? 'bernoulli'}, arms: `,
      spec.arms.map((/** @type {any} */ a) => `${a.name} → ${a.model} ${a.version}`).join(', '),
      '.',
    ),
    h(
      'section',
      { 'aria-labelledby': 'guardrail-title' },
      h('h2', { id: 'guardrail-title' }, 'Arms disabled by guardrails'),
      disabled.length === 0
        ? h('p', { class: 'ok' }, 'None: every arm takes traffic.')
        : h(
            'ul',
            { class: 'disabled-arms' },
            disabled.map((arm) =>
              h(
                'li',
                {},
                h('strong', {}, arm),
                ` (${report.arms[arm].model} v${report.arms[arm].version}) gets no traffic since ${when(report.arms[arm].disabledSince)}. `,
                session.role === 'admin'
                  ? h('button', { type: 'button', onclick: () => enable(session, name, arm, result) }, `Enable ${arm}`)
                  : null,
                h('span', { class: 'reason' }, `Why: ${report.arms[arm].disabledReason ?? 'not said'}`),
              ),
            ),
          ),
      result,
    ),
    h(
      'section',
      { 'aria-labelledby': 'charts-title' },
      h('h2', { id: 'charts-title' }, `Last ${spanText}`),
      switchTo,
      allocation.figure,
      rewards.figure,
    ),
    report.shadows && Object.keys(report.shadows).length > 0
      ? h(
          'section',
          { 'aria-labelledby': 'shadows-title' },
          h('h2', { id: 'shadows-title' }, 'Shadow arms'),
          shadowTable(name, report.shadows, true),
        )
      : null,
    h(
      'section',
      { 'aria-labelledby': 'windows-title' },
      h('h2', { id: 'windows-title' }, 'Totals'),
      table(
        `Arms of ${name}`,
        ['Arm', 'Pulls 1 h', 'Mean reward 1 h', 'Pulls 24 h', 'Mean reward 24 h', 'Observed positive rate 24 h'],
        arms.map((arm) => {
          const w = report.arms[arm].windows ?? {};
          return [
            arm,
            num(w['1h']?.pulls),
            num(w['1h']?.meanReward),
            num(w['24h']?.pulls),
            num(w['24h']?.meanReward),
            report.arms[arm].noLabels
              ? h('span', {}, '–', h('span', { class: 'why' }, `no labels: ${report.arms[arm].noLabels}`))
              : pct(w['24h']?.labels?.observedPositiveRate),
          ];
        }),
      ),
    ),
  );
  timeChart(allocation.box, {
    title: 'Allocation',
    times,
    series: arms.map((arm) => ({ label: arm, values: share[arm] ?? [] })),
    yRange: [0, 1],
    yLabel: 'share of decisions',
    value: (v) => `${(v * 100).toFixed(1)} %`,
    ticks: (v) => `${Math.round(v * 100)} %`,
  });
  timeChart(rewards.box, {
    title: 'Reward',
    times,
    series: arms.map((arm) => ({ label: arm, values: reward[arm] ?? [] })),
    yLabel: 'mean reward',
    value: (v) => v.toFixed(3),
  });
}

/**
 * @param {Session} session
 * @param {string} route
 * @param {string} arm
 * @param {HTMLElement} result
 */
async function enable(session, route, arm, result) {
  if (!window.confirm(`Enable arm "${arm}" of route "${route}" again? It gets traffic at once.`)) return;
  result.textContent = `Enabling ${arm}…`;
  try {
    await session.api.post(`/admin/routes/${seg(route)}/arms/${seg(arm)}/enable`);
    result.textContent = `${arm} is enabled again.`;
    session.say(`Arm ${arm} of ${route} enabled.`);
    session.refresh();
  } catch (e) {
    result.textContent = `Not enabled: ${/** @type {Error} */ (e).message}`;
  }
}
