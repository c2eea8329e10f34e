/**
 * Small self-contained SVG charts for reports: a confusion-matrix heat map and a line chart (the
 * scaling curve: a metric against the multiple of labelled pairs). No dependencies, no scripts, no
 * external fonts; the output depends only on the input (numbers are written with fixed decimals).
 */
import { DistilrankError } from '../core/index.ts';

const FONT = 'font-family="Helvetica, Arial, sans-serif"';
const PALETTE = ['#2166ac', '#d6604d', '#1b7837', '#762a83', '#e08214', '#4d4d4d', '#35978f', '#c51b7d'];

/** Text for SVG: &, <, >, " and ' escaped; control characters dropped. */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '') // eslint-disable-line no-control-regex
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const f1 = (x: number): string => (Math.round(x * 10) / 10).toFixed(1);

/** A number as a short label: integers as is, else up to 3 significant digits. */
function tickLabel(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const s = x.toPrecision(3);
  return s.includes('e') ? s : String(Number(s));
}

function svgOpen(width: number, height: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">\n` +
    `<title>${escapeXml(title)}</title>\n` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>\n` +
    `<text x="${f1(width / 2)}" y="22" text-anchor="middle" ${FONT} font-size="15" font-weight="bold">${escapeXml(title)}</text>\n`
  );
}

export interface ConfusionSvgOptions {
  title: string;
  /** Axis title of the rows (e.g. "human level"). */
  rowLabel: string;
  /** Axis title of the columns (e.g. "teacher level"). */
  colLabel: string;
  /** One label per row and per column (the matrix is square). */
  labels: string[];
  /** Side of a cell in pixels (default 56). */
  cell?: number;
}

/** White → blue by share. */
function shade(share: number): string {
  const mix = (from: number, to: number) => Math.round(from + (to - from) * share);
  const hex = (v: number) => v.toString(16).padStart(2, '0');
  return `#${hex(mix(255, 0x21))}${hex(mix(255, 0x66))}${hex(mix(255, 0xac))}`;
}

/**
 * A confusion matrix as an SVG heat map: cells shaded by their share of the row (row-normalised),
 * the count written in each cell, row labels on the left, column labels on top, axis titles. BAD_INPUT
 * when the matrix is not square with one label per row, or holds a negative or non-finite count.
 */
export function confusionSvg(matrix: readonly (readonly number[])[], opts: ConfusionSvgOptions): string {
  const n = opts.labels.length;
  if (matrix.length !== n || matrix.some((row) => row.length !== n)) {
    throw new DistilrankError('BAD_INPUT', `confusionSvg: the matrix must be ${n}×${n} (one row and column per label)`, {
      hint: 'pass a square matrix with one label per row',
    });
  }
  if (matrix.some((row) => row.some((x) => !Number.isFinite(x) || x < 0))) {
    throw new DistilrankError('BAD_INPUT', 'confusionSvg: counts must be finite and non-negative', { hint: 'pass counts' });
  }
  const cell = opts.cell ?? 56;
  const left = 110;
  const top = 78;
  const width = left + n * cell + 24;
  const height = top + n * cell + 24;
  let svg = svgOpen(width, height, opts.title);
  // Column axis title and labels (top), row axis title (rotated, left) and labels.
  svg += `<text x="${f1(left + (n * cell) / 2)}" y="44" text-anchor="middle" ${FONT} font-size="12">${escapeXml(opts.colLabel)}</text>\n`;
  svg += `<text x="18" y="${f1(top + (n * cell) / 2)}" text-anchor="middle" ${FONT} font-size="12" transform="rotate(-90 18 ${f1(top + (n * cell) / 2)})">${escapeXml(opts.rowLabel)}</text>\n`;
  opts.labels.forEach((label, j) => {
    svg += `<text x="${f1(left + j * cell + cell / 2)}" y="${top - 8}" text-anchor="middle" ${FONT} font-size="12">${escapeXml(label)}</text>\n`;
  });
  opts.labels.forEach((label, i) => {
    svg += `<text x="${left - 8}" y="${f1(top + i * cell + cell / 2 + 4)}" text-anchor="end" ${FONT} font-size="12">${escapeXml(label)}</text>\n`;
  });
  matrix.forEach((row, i) => {
    const total = row.reduce((s, x) => s + x, 0);
    row.forEach((count, j) => {
      const share = total > 0 ? count / total : 0;
      const x = left + j * cell;
      const y = top + i * cell;
      svg += `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${shade(share)}" stroke="#bbbbbb" stroke-width="1"/>\n`;
      svg += `<text x="${f1(x + cell / 2)}" y="${f1(y + cell / 2 + 4)}" text-anchor="middle" ${FONT} font-size="12" fill="${share > 0.5 ? '#ffffff' : '#000000'}">${tickLabel(count)}</text>\n`;
    });
  });
  return svg + '</svg>\n';
}

export interface LineSeries {
  name: string;
  points: ReadonlyArray<{ x: number; y: number }>;
}

export interface LineSvgOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Log-scaled x axis (x must be positive), e.g. for multiples of labelled pairs 1, 2, 5, 10, 100. */
  logX?: boolean;
  width?: number;
  height?: number;
}

/** About five round tick values, from a round value at or below lo to one at or above hi. */
function niceTicks(lo: number, hi: number): number[] {
  const span = hi - lo;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= 6) ?? 10 * mag;
  const out: number[] = [];
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  for (let i = first; i <= last; i++) out.push(Number((i * step).toFixed(12)));
  return out;
}

/**
 * A line chart: one polyline with point markers per series, a legend, x ticks at the distinct x
 * values of the points (at most 12; else round ticks), round y ticks. Points with a non-finite
 * coordinate (or x ≤ 0 with logX) are skipped. BAD_INPUT when no point is drawable.
 */
export function lineSvg(series: readonly LineSeries[], opts: LineSvgOptions): string {
  const width = opts.width ?? 560;
  const height = opts.height ?? 340;
  const ok = (p: { x: number; y: number }) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!opts.logX || p.x > 0);
  const all = series.flatMap((s) => s.points.filter(ok));
  if (!all.length) {
    throw new DistilrankError('BAD_INPUT', 'lineSvg: no point with finite coordinates to draw', { hint: 'pass at least one finite point' });
  }
  const tx = (x: number) => (opts.logX ? Math.log10(x) : x);
  let xLo = Math.min(...all.map((p) => tx(p.x)));
  let xHi = Math.max(...all.map((p) => tx(p.x)));
  if (xLo === xHi) [xLo, xHi] = [xLo - 1, xHi + 1];
  let yLo = Math.min(...all.map((p) => p.y));
  let yHi = Math.max(...all.map((p) => p.y));
  if (yLo === yHi) [yLo, yHi] = [yLo - (Math.abs(yLo) * 0.1 || 0.5), yHi + (Math.abs(yHi) * 0.1 || 0.5)];
  const yTicks = niceTicks(yLo, yHi);
  yLo = Math.min(yLo, yTicks[0]!);
  yHi = Math.max(yHi, yTicks[yTicks.length - 1]!);
  const distinctX = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  const xTicks =
    distinctX.length <= 12
      ? distinctX
      : niceTicks(xLo, xHi)
          .filter((t) => t >= xLo - 1e-9 && t <= xHi + 1e-9)
          .map((t) => (opts.logX ? 10 ** t : t));

  const legendWidth = 150;
  const left = 64;
  const right = width - legendWidth;
  const top = 40;
  const bottom = height - 52;
  const px = (x: number) => left + ((tx(x) - xLo) / (xHi - xLo)) * (right - left);
  const py = (y: number) => bottom - ((y - yLo) / (yHi - yLo)) * (bottom - top);

  let svg = svgOpen(width, height, opts.title);
  svg += `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#000000"/>\n`;
  svg += `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#000000"/>\n`;
  for (const t of yTicks) {
    const y = f1(py(t));
    svg += `<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e5e5e5"/>\n`;
    svg += `<text x="${left - 6}" y="${f1(py(t) + 4)}" text-anchor="end" ${FONT} font-size="11">${tickLabel(t)}</text>\n`;
  }
  for (const t of xTicks) {
    if (opts.logX && !(t > 0)) continue;
    const x = f1(px(t));
    svg += `<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="#000000"/>\n`;
    svg += `<text x="${x}" y="${bottom + 18}" text-anchor="middle" ${FONT} font-size="11">${tickLabel(t)}</text>\n`;
  }
  svg += `<text x="${f1((left + right) / 2)}" y="${height - 12}" text-anchor="middle" ${FONT} font-size="12">${escapeXml(opts.xLabel)}</text>\n`;
  const midY = f1((top + bottom) / 2);
  svg += `<text x="16" y="${midY}" text-anchor="middle" ${FONT} font-size="12" transform="rotate(-90 16 ${midY})">${escapeXml(opts.yLabel)}</text>\n`;
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const pts = s.points
      .filter(ok)
      .slice()
      .sort((a, b) => a.x - b.x);
    if (pts.length > 1) {
      svg += `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map((p) => `${f1(px(p.x))},${f1(py(p.y))}`).join(' ')}"/>\n`;
    }
    for (const p of pts) svg += `<circle cx="${f1(px(p.x))}" cy="${f1(py(p.y))}" r="3" fill="${colour}"/>\n`;
    const ly = top + 8 + i * 18;
    svg += `<line x1="${right + 14}" y1="${ly}" x2="${right + 34}" y2="${ly}" stroke="${colour}" stroke-width="2"/>\n`;
    svg += `<text x="${right + 40}" y="${ly + 4}" ${FONT} font-size="11">${escapeXml(s.name)}</text>\n`;
  });
  return svg + '</svg>\n';
}
