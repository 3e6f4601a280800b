/** Cumulative regret against T (log scale) as a self-contained SVG: no plotting dependency. */
import type { RegretPoint } from './simulator.js';

const COLORS = ['#1f77b4', '#ff7f0e', '#7f7f7f', '#2ca02c', '#d62728'];

export interface PlotText {
  readonly title?: string;
  readonly yLabel?: string;
}

export function regretSvg(
  series: readonly { name: string; points: readonly RegretPoint[] }[],
  text: PlotText = {},
): string {
  const W = 760,
    H = 480,
    L = 70,
    R = 20,
    T = 30,
    B = 50;
  const all = series.flatMap((s) => s.points);
  const tMin = Math.min(...all.map((p) => p.t)),
    tMax = Math.max(...all.map((p) => p.t));
  // Uniform A/B dwarfs the rest: cap the y axis at a few times the largest Thompson regret.
  const others = series.filter((s) => !s.name.startsWith('uniform')).flatMap((s) => s.points.map((p) => p.regret));
  const yMax = Math.max(...others) * 1.15;
  const x = (t: number): number =>
    L + ((Math.log10(t) - Math.log10(tMin)) / (Math.log10(tMax) - Math.log10(tMin))) * (W - L - R);
  const y = (r: number): number => H - B - (Math.min(r, yMax) / yMax) * (H - T - B);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${text.title ?? 'Cumulative regret, K = 10, p* = 0.5, others 0.4 (Chapelle &amp; Li 2011 §3)'}</text>`,
  );
  for (let e = Math.ceil(Math.log10(tMin)); e <= Math.log10(tMax); e++) {
    const xv = x(10 ** e);
    parts.push(
      `<line x1="${xv}" y1="${T}" x2="${xv}" y2="${H - B}" stroke="#eee"/><text x="${xv}" y="${H - B + 16}" text-anchor="middle">1e${e}</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const r = (yMax / 5) * i;
    parts.push(
      `<line x1="${L}" y1="${y(r)}" x2="${W - R}" y2="${y(r)}" stroke="#eee"/><text x="${L - 6}" y="${y(r) + 4}" text-anchor="end">${r.toFixed(0)}</text>`,
    );
  }
  parts.push(`<text x="${W / 2}" y="${H - 10}" text-anchor="middle">T (requests, log scale)</text>`);
  parts.push(
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${text.yLabel ?? 'cumulative regret (uniform A/B clipped)'}</text>`,
  );
  series.forEach((s, i) => {
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.regret).toFixed(1)}`).join(' ');
    const dash = s.name.startsWith('Lai') ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"${dash}/>`);
    parts.push(
      `<rect x="${L + 12}" y="${T + 8 + i * 18}" width="14" height="3" fill="${COLORS[i % COLORS.length]}"/><text x="${L + 32}" y="${T + 13 + i * 18}">${s.name.replace(/&/g, '&amp;')}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
