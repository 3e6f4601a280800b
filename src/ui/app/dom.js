// @ts-check
/**
 * Building the page from data without innerHTML: every value from the server is text, never markup.
 */

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {{ [key: string]: string | number | boolean | null | undefined | ((e: Event) => void) }} Attrs
 */

/**
 * An element with attributes (`on<event>` takes a listener; `class`, `for`, `aria-*`, `data-*` as
 * written) and children (text or nodes; null, undefined and false are skipped).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Node} el
 * @param {(Child | Child[])[]} children
 */
function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces an element's children.
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * A table: a caption, the header cells, and rows of cells (a cell that is a node goes in as it is).
 * @param {string} caption
 * @param {Child[]} head
 * @param {Child[][]} rows
 * @param {string} [empty] what to say when there are no rows
 */
export function table(caption, head, rows, empty = 'Nothing yet.') {
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))),
    h(
      'tbody',
      {},
      rows.length === 0
        ? h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, empty))
        : rows.map((cells) => h('tr', {}, ...cells.map((c) => h('td', {}, c)))),
    ),
  );
}

/**
 * A horizontal bar for a value in [0, max]: width set through the CSSOM (allowed by the
 * Content-Security-Policy, unlike a style attribute), with the number beside it for every reader.
 * @param {number | null | undefined} value
 * @param {number} max
 * @param {string} text
 * @param {boolean} [alarm]
 */
export function bar(value, max, text, alarm = false) {
  const fill = h('span', { class: alarm ? 'bar-fill alarm' : 'bar-fill' });
  const share = value === null || value === undefined || !Number.isFinite(value) ? 0 : Math.min(value / max, 1);
  fill.style.width = `${(share * 100).toFixed(1)}%`;
  return h(
    'span',
    { class: 'bar' },
    h('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
    h('span', { class: 'bar-value' }, text),
  );
}
