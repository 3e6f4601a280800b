// @ts-check
/**
 * Models: versions, which is live, sha256, load per worker (and per replica in Redis mode); drift
 * per feature as bars; a calibration plot per model; and, for admins, Deploy and Roll back, each
 * asked for with the browser's confirm() and its answer shown.
 */
import { seg } from '../api.js';
import { calibrationChart, chartBox } from '../charts.js';
import { bar, h, replace, table } from '../dom.js';
import { num, shown, when } from '../format.js';

/** @typedef {import('../main.js').Session} Session */

/** PSI at or above this is drift (the contract's default rule threshold). */
const DRIFT = 0.2;
/** Bars are drawn against this PSI; anything above fills the bar. */
const PSI_SCALE = 0.5;
/** Features shown at once per version, the most drifted first. */
const TOP_FEATURES = 10;

/**
 * @param {Session} session
 * @param {HTMLElement} target
 */
export async function renderModels(session, target) {
  const { api } = session;
  const [models, monitor] = await Promise.all([api.get('/admin/models'), api.get('/admin/monitor')]);
  const list = /** @type {any[]} */ (models.models ?? []);
  /** @type {{ box: HTMLElement, title: string, series: any[] }[]} */
  const plots = [];
  const sections = list.map((m) => {
    const calibration = calibrationSeries(monitor, m.name);
    /** @type {HTMLElement | null} */
    let plot = null;
    if (calibration.length > 0) {
      const c = chartBox(`Calibration of ${m.name} over the last 24 hours: observed positive rate per score bucket.`);
      plots.push({ box: c.box, title: `Calibration, ${m.name}`, series: calibration });
      plot = c.figure;
    } else {
      const why = noLabelsOf(monitor, m.name);
      if (why) plot = h('p', { class: 'meta' }, `No calibration plot for ${m.name}: ${why}.`);
    }
    const noDrift = monitor.noDrift?.[m.name] ?? {};
    return modelSection(session, m, monitor.models?.[m.name] ?? {}, noDrift, plot);
  });
  replace(
    target,
    h('h1', {}, 'Models'),
    list.length === 0 ? h('p', {}, 'No models.') : null,
    ...sections,
    (models.refused ?? []).length > 0
      ? table(
          'Versions refused at load',
          ['Model', 'Version', 'Reason'],
          models.refused.map((/** @type {any} */ r) => [shown(r.model), shown(r.version), shown(r.reason ?? r.error)]),
        )
      : null,
  );
  for (const p of plots) calibrationChart(p.box, { title: p.title, series: p.series });
}

/**
 * Every arm serving this model, with its 24 h calibration table (arms with labels only).
 * @param {any} monitor
 * @param {string} model
 */
function calibrationSeries(monitor, model) {
  const out = [];
  for (const [route, r] of Object.entries(monitor.routes ?? {}))
    for (const [arm, a] of Object.entries(/** @type {any} */ (r).arms ?? {})) {
      const points = a.model === model ? a.windows?.['24h']?.labels?.calibration : undefined;
      if (Array.isArray(points) && points.some((p) => p.n > 0))
        out.push({ label: `${route}/${arm} (v${a.version})`, points });
    }
  return out;
}

/**
 * Why the arms serving this model have no label metrics (the first reason given), if they have none.
 * @param {any} monitor
 * @param {string} model
 */
function noLabelsOf(monitor, model) {
  for (const r of Object.values(monitor.routes ?? {}))
    for (const a of Object.values(/** @type {any} */ (r).arms ?? {}))
      if (a.model === model && a.noLabels) return String(a.noLabels);
  return undefined;
}

/**
 * @param {Session} session
 * @param {any} m the model in /admin/models
 * @param {Record<string, any>} drift per version, from /admin/monitor
 * @param {Record<string, string>} noDrift per version without drift: why
 * @param {HTMLElement | null} plot
 */
function modelSection(session, m, drift, noDrift, plot) {
  const id = `model-${String(m.name).replace(/[^\w-]/g, '_')}`;
  const result = h('p', { class: 'result', role: 'status', id: `${id}-result` });
  const admin = session.role === 'admin';
  const versions = /** @type {any[]} */ (m.versions ?? []);
  const rows = versions.map((v) => [
    v.version,
    v.live ? h('span', { class: 'badge live' }, 'live') : '',
    h('code', { class: 'sha', title: v.sha256 }, String(v.sha256 ?? '').slice(0, 16), '…'),
    when(v.created),
    v.runs === 'inline' ? 'main thread' : `${v.workers?.loaded ?? 0} of ${v.workers?.of ?? 0} workers`,
    Array.isArray(v.replicas)
      ? v.replicas.map((/** @type {any} */ r) => `${r.replica}: ${r.loaded}/${r.of}`).join(', ')
      : '–',
    admin && !v.live
      ? h(
          'button',
          { type: 'button', onclick: () => deploy(session, m.name, v.version, result) },
          `Deploy v${v.version}`,
        )
      : '',
  ]);
  const history = /** @type {string[]} */ (m.history ?? []);
  return h(
    'section',
    { class: 'model', 'aria-labelledby': id },
    h('h2', { id }, `${m.name}`),
    h(
      'p',
      { class: 'meta' },
      `Live: version ${m.live}. `,
      history.length > 0 ? `Before it: ${history.join(', ')}. ` : 'No earlier live version to roll back to. ',
      admin && history.length > 0
        ? h(
            'button',
            { type: 'button', class: 'danger', onclick: () => rollback(session, m.name, result) },
            'Roll back',
          )
        : null,
    ),
    result,
    h(
      'div',
      { class: 'scroll' },
      table(
        `Versions of ${m.name}`,
        ['Version', 'Live', 'sha256', 'Created', 'Loaded', 'Replicas', admin ? 'Action' : ''],
        rows,
      ),
    ),
    ...Object.entries(drift).map(([version, d]) => driftTable(m.name, version, d.drift ?? {})),
    ...Object.entries(noDrift).map(([version, why]) =>
      h('p', { class: 'meta no-drift' }, `Drift of ${m.name} v${version}: – (${why}).`),
    ),
    plot,
  );
}

/**
 * PSI per feature and for the prediction, 1 h and 24 h, as bars: the most drifted features first,
 * the rest folded away (a model may have hundreds of features).
 * @param {string} model
 * @param {string} version
 * @param {any} drift
 */
function driftTable(model, version, drift) {
  const hour = drift['1h'] ?? {};
  const day = drift['24h'] ?? {};
  const title = `Drift of ${model} v${version}`;
  if (!(hour.rows > 0) && !(day.rows > 0))
    return h('p', { class: 'meta' }, `${title}: no rows counted in the last 24 hours.`);
  /** @param {string} f */
  const worst = (f) => Math.max(hour.features?.[f] ?? 0, day.features?.[f] ?? 0);
  const features = [...new Set([...Object.keys(hour.features ?? {}), ...Object.keys(day.features ?? {})])].sort(
    (a, b) => worst(b) - worst(a),
  );
  /** @param {number | null | undefined} psi */
  const cell = (psi) => bar(psi, PSI_SCALE, num(psi), typeof psi === 'number' && psi >= DRIFT);
  /** @param {string} f */
  const row = (f) => [f, cell(hour.features?.[f]), cell(day.features?.[f])];
  const head = ['Feature', 'PSI, last hour', 'PSI, last 24 hours'];
  const top = features.slice(0, TOP_FEATURES);
  const rest = features.slice(TOP_FEATURES);
  return h(
    'div',
    { class: 'drift' },
    h('h3', {}, title),
    h(
      'p',
      { class: 'meta' },
      `Population stability index against the training baseline (${DRIFT} or more is drift); rows counted: ${num(hour.rows)} in 1 h, ${num(day.rows)} in 24 h.`,
    ),
    table(title, head, [[h('strong', {}, 'prediction'), cell(hour.prediction), cell(day.prediction)], ...top.map(row)]),
    rest.length > 0
      ? h(
          'details',
          {},
          h('summary', {}, `The other ${rest.length} features`),
          table(`${title}, other features`, head, rest.map(row)),
        )
      : null,
  );
}

/** @param {any} body */
function summary(body) {
  if (body && typeof body === 'object') {
    const live = body.live ?? body.version ?? body.to;
    const from = body.previous ?? body.from ?? body.before;
    if (live !== undefined) return from !== undefined ? `live is now v${live} (was v${from})` : `live is now v${live}`;
  }
  return shown(body);
}

/**
 * @param {Session} session
 * @param {string} model
 * @param {string} version
 * @param {HTMLElement} result
 */
async function deploy(session, model, version, result) {
  if (!window.confirm(`Deploy ${model} version ${version}? It is loaded and warmed, then goes live at once.`)) return;
  result.textContent = `Deploying ${model} v${version}…`;
  try {
    const body = await session.api.post(`/admin/models/${seg(model)}/deploy`, { version });
    session.say(`Deployed ${model}: ${summary(body)}.`);
    session.refresh();
  } catch (e) {
    result.textContent = `Deploy refused: ${/** @type {Error} */ (e).message}`;
  }
}

/**
 * @param {Session} session
 * @param {string} model
 * @param {HTMLElement} result
 */
async function rollback(session, model, result) {
  if (!window.confirm(`Roll ${model} back to the version live before?`)) return;
  result.textContent = `Rolling ${model} back…`;
  try {
    const body = await session.api.post(`/admin/models/${seg(model)}/rollback`);
    session.say(`Rolled back ${model}: ${summary(body)}.`);
    session.refresh();
  } catch (e) {
    result.textContent = `Rollback refused: ${/** @type {Error} */ (e).message}`;
  }
}
