// @ts-check
/** How numbers and times read on the page; a missing value is a dash. */

/**
 * @param {number | null | undefined} x
 * @param {number} [digits]
 */
export function num(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (Number.isInteger(x)) return x.toLocaleString('en');
  return x.toFixed(digits);
}

/** @param {number | null | undefined} x a share in [0, 1] */
export function pct(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return `${(x * 100).toFixed(1)} %`;
}

/** @param {string | null | undefined} iso */
export function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC');
}

/** @param {unknown} v */
export function shown(v) {
  if (v === null || v === undefined) return '–';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
