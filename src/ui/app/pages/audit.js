// @ts-check
/**
 * Audit: the latest entries, newest first, and the chain checked in the browser: the entries shown
 * at once, the whole chain from its first entry on request.
 */
import { verifyEntries } from '../audit-chain.js';
import { h, replace, table } from '../dom.js';
import { shown, when } from '../format.js';

/** @typedef {import('../main.js').Session} Session */
/** @typedef {import('../audit-chain.js').Entry} Entry */
/** @typedef {import('../audit-chain.js').Verdict} Verdict */

const SHOWN = 200;
const PAGE = 10000;

/**
 * @param {Session} session
 * @param {HTMLElement} target
 */
export async function renderAudit(session, target) {
  const { entries } = await session.api.get(`/admin/audit?limit=${SHOWN}`);
  const list = /** @type {Entry[]} */ (entries ?? []);
  const verdictLine = h(
    'p',
    { id: 'chain-verdict', role: 'status' },
    describe(verifyEntries(list), 'The entries shown'),
  );
  const whole = h(
    'button',
    { type: 'button', onclick: () => verifyWhole(session, verdictLine, whole) },
    'Verify the whole chain',
  );
  const rows = list
    .slice()
    .reverse()
    .map((e) => [
      `#${e.seq}`,
      when(/** @type {string} */ (e.time)),
      shown(e.actor ?? '(gateway)'),
      shown(e.action),
      shown(e.target),
      h('span', { class: `result-${String(e.result)}` }, shown(e.result)),
      shown(e.status),
      e.before === null && e.after === null ? '' : `${shown(e.before)} → ${shown(e.after)}`,
      e.error ? `${/** @type {any} */ (e.error).code}: ${/** @type {any} */ (e.error).message}` : '',
    ]);
  replace(
    target,
    h('h1', {}, 'Audit'),
    h(
      'section',
      { 'aria-labelledby': 'chain-title', class: 'chain' },
      h('h2', { id: 'chain-title' }, 'Chain verification'),
      verdictLine,
      whole,
    ),
    h(
      'section',
      { 'aria-labelledby': 'entries-title' },
      h('h2', { id: 'entries-title' }, `Latest entries (${list.length})`),
      h(
        'div',
        { class: 'scroll' },
        table(
          'Audit entries, newest first',
          ['Seq', 'Time', 'Actor', 'Action', 'Target', 'Result', 'Status', 'Change', 'Error'],
          rows,
          'No entries yet.',
        ),
      ),
    ),
  );
}

/**
 * @param {Verdict} v
 * @param {string} what
 */
function describe(v, what) {
  if (v.checked === 0 && v.ok) return 'No entries to verify.';
  if (!v.ok) return `✗ Chain broken at entry #${v.problem?.seq}: ${v.problem?.reason}.`;
  const range = `#${v.from} to #${v.to}`;
  return v.fromGenesis
    ? `✓ ${what} (${range}) form an intact chain from its first entry: ${v.checked} hashes and links verified.`
    : `✓ ${what} (${range}) are intact: ${v.checked} hashes and links verified (the link before #${v.from} is checked by verifying the whole chain).`;
}

/**
 * Every entry from the first, page by page (newest pages first, as the API gives them), then checked.
 * @param {Session} session
 * @param {HTMLElement} line
 * @param {HTMLButtonElement} button
 */
async function verifyWhole(session, line, button) {
  button.disabled = true;
  line.textContent = 'Reading the whole chain…';
  try {
    /** @type {Entry[][]} */
    const pages = [];
    /** @type {number | undefined} */
    let before;
    for (;;) {
      const q = before === undefined ? '' : `&before=${before}`;
      const { entries } = await session.api.get(`/admin/audit?limit=${PAGE}${q}`);
      const page = /** @type {Entry[]} */ (entries ?? []);
      if (page.length === 0) break;
      pages.unshift(page);
      const first = page[0];
      if (!first || first.seq <= 1) break;
      before = first.seq;
    }
    line.textContent = describe(verifyEntries(pages.flat()), 'All entries');
  } catch (e) {
    line.textContent = `Cannot read the chain: ${/** @type {Error} */ (e).message}`;
  } finally {
    button.disabled = false;
  }
}
