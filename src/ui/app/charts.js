// @ts-check
/**
 * uPlot charts: time series for a route's allocation and reward, and a calibration plot. Colours
 * come from a fixed palette so that an arm keeps its colour across charts.
 */
import { h } from './dom.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/** @param {number} i */
export const colour = (i) => PALETTE[i % PALETTE.length];

/** Width for a chart: its container's, within reason. @param {HTMLElement} box */
const widthOf = (box) => Math.max(320, Math.min(960, box.clientWidth || 720));

/**
 * A time-series chart (seconds since the epoch on x) with one line per named series.
 * @param {HTMLElement} box where it goes (labelled by the caller)
 * @param {{ title: string, times: number[], series: { label: string, values: (number | null)[] }[],
 *   yRange?: [number, number], yLabel: string, value: (v: number) => string, ticks?: (v: number) => string }} spec
 */
export function timeChart(box, spec) {
  /** @type {uPlot.AlignedData} */
  const data = [spec.times, ...spec.series.map((s) => s.values)];
  /** @type {uPlot.Options} */
  const opts = {
    title: spec.title,
    width: widthOf(box),
    height: 260,
    scales: spec.yRange ? { y: { range: spec.yRange } } : {},
    axes: [
      {},
      {
        label: spec.yLabel,
        size: 64,
        ...(spec.ticks
          ? { values: (/** @type {uPlot} */ _u, /** @type {number[]} */ ticks) => ticks.map(spec.ticks ?? String) }
          : {}),
      },
    ],
    series: [
      { label: 'time (UTC)' },
      ...spec.series.map((s, i) => ({
        label: s.label,
        stroke: colour(i),
        width: 2,
        spanGaps: false,
        // A bucket with traffic between empty ones is a lone point: drawn as a dot, or it would not show.
        points: { show: true, size: 5, fill: colour(i) },
        value: (/** @type {uPlot} */ _u, /** @type {number | null} */ v) => (v === null ? '–' : spec.value(v)),
      })),
    ],
    tzDate: (/** @type {number} */ ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
  };
  return new uPlot(opts, data, box);
}

/**
 * Calibration: mean score (x) against observed positive rate (y) per bucket, one series of points
 * per arm, and the diagonal a calibrated model follows.
 * @param {HTMLElement} box
 * @param {{ title: string, series: { label: string, points: { meanScore: number, observedRate: number | null, n: number }[] }[] }} spec
 */
export function calibrationChart(box, spec) {
  // uPlot wants one shared, ascending x: the union of every series' mean scores, plus 0 and 1.
  const xs = [
    ...new Set([0, 1, ...spec.series.flatMap((s) => s.points.filter((p) => p.n > 0).map((p) => p.meanScore))]),
  ].sort((a, b) => a - b);
  const ys = spec.series.map((s) => {
    const at = new Map(s.points.filter((p) => p.n > 0).map((p) => [p.meanScore, p.observedRate]));
    return xs.map((x) => at.get(x) ?? null);
  });
  /** @type {uPlot.AlignedData} */
  const data = [xs, xs.slice(), ...ys];
  /** @type {uPlot.Options} */
  const opts = {
    title: spec.title,
    width: widthOf(box),
    height: 300,
    scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
    axes: [{ label: 'mean score' }, { label: 'observed positive rate' }],
    series: [
      { label: 'score' },
      { label: 'perfectly calibrated', stroke: '#999', dash: [4, 4], width: 1, points: { show: false } },
      ...spec.series.map((s, i) => ({
        label: s.label,
        stroke: colour(i),
        width: 1,
        spanGaps: true,
        points: { show: true, size: 8, fill: colour(i) },
      })),
    ],
  };
  return new uPlot(opts, data, box);
}

/**
 * A labelled box for a chart: a figure with a caption, so the chart has a name for every reader.
 * @param {string} caption
 */
export function chartBox(caption) {
  const box = h('div', { class: 'chart' });
  const figure = h('figure', { class: 'figure' }, box, h('figcaption', {}, caption));
  return { figure, box };
}
