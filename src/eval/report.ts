/**
 * A self-contained HTML report of evaluation results: one HTML5 file with inline CSS and inline SVG
 * (from plot.ts), no scripts, no external fonts, images or style sheets, so it opens offline in any
 * browser and prints cleanly. Every piece of text is escaped (item titles and query text are
 * untrusted); numeric table columns are right-aligned. Section builders turn what distilrank
 * computes (eval reports, confusion matrices, scaling curves) into sections.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic, DistilrankError } from '../core/index.ts';
import type { EvalReport } from './evaluate.ts';
import type { LabelReport } from './labels.ts';
import { confusionSvg, escapeXml, lineSvg, type LineSeries } from './plot.ts';

export interface HtmlTable {
  header: string[];
  /** Rows of cells; a row shorter than the header is padded with empty cells. */
  rows: string[][];
  caption?: string;
}

export interface HtmlSection {
  heading: string;
  /** A paragraph of plain text (blank lines separate paragraphs). */
  text?: string;
  table?: HtmlTable;
  /** An SVG chart from plot.ts (confusionSvg, lineSvg), inlined as is. */
  svg?: string;
}

export interface HtmlReport {
  title: string;
  /** When the numbers were computed (e.g. an ISO timestamp); shown under the title. */
  generatedAt: string;
  /** Where they were computed (host, CPU/GPU); shown under the title when given. */
  machine?: string;
  sections: HtmlSection[];
}

/** Label-agreement columns, shown by evalTableSection when at least one report has label metrics. */
export const LABEL_METRICS: ReadonlyArray<keyof LabelReport['metrics']> = ['accuracy', 'macro_F1', 'kappa', 'kappa_quadratic', 'RMSE_expected_level'];

const CSS = `
:root { color-scheme: light; }
body { font-family: Helvetica, Arial, sans-serif; color: #1a1a1a; background: #ffffff; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 0.25rem 0; }
h2 { font-size: 1.2rem; margin: 2rem 0 0.5rem 0; border-bottom: 1px solid #dddddd; padding-bottom: 0.2rem; }
p.meta { color: #555555; margin: 0 0 1rem 0; font-size: 0.9rem; }
p { margin: 0.4rem 0; white-space: pre-wrap; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
caption { caption-side: top; text-align: left; color: #555555; padding-bottom: 0.3rem; }
th, td { border: 1px solid #cccccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tbody tr:nth-child(even) { background: #fafafa; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 0.5rem 0; }
svg { max-width: 100%; height: auto; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section, table, figure { break-inside: avoid; page-break-inside: avoid; }
  .table-wrap { overflow: visible; }
  tbody tr:nth-child(even) { background: none; }
}
`.trim();

/** A number as a table cell (an optional sign, digits, decimals, exponent, %), or "n/a"/"NaN". */
const NUMERIC = /^(?:[-+−]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?%?|[-+]?Infinity|n\/a|NaN)$/i;
const isNumberCell = (c: string): boolean => /\d/.test(c) && NUMERIC.test(c.trim());

/** A column is numeric when it holds at least one number and nothing but numbers, n/a and blanks. */
function numericColumns(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string>>): boolean[] {
  return header.map((_, j) => {
    const cells = rows.map((r) => (r[j] ?? '').trim()).filter((c) => c !== '');
    return cells.some(isNumberCell) && cells.every((c) => NUMERIC.test(c));
  });
}

function renderTable(t: HtmlTable, where: string): string {
  const width = t.header.length;
  t.rows.forEach((r, i) => {
    if (r.length > width) {
      throw new DistilrankError('BAD_INPUT', `${where}: table row ${i + 1} has ${r.length} cells but the header has ${width}`, {
        hint: 'give every row at most one cell per header column',
      });
    }
  });
  const num = numericColumns(t.header, t.rows);
  const cls = (j: number) => (num[j] ? ' class="num"' : '');
  let html = '<div class="table-wrap">\n<table>\n';
  if (t.caption !== undefined) html += `<caption>${escapeXml(t.caption)}</caption>\n`;
  html += `<thead>\n<tr>${t.header.map((h, j) => `<th scope="col"${cls(j)}>${escapeXml(h)}</th>`).join('')}</tr>\n</thead>\n<tbody>\n`;
  for (const r of t.rows) {
    html += `<tr>${t.header.map((_, j) => `<td${cls(j)}>${escapeXml(r[j] ?? '')}</td>`).join('')}</tr>\n`;
  }
  return html + '</tbody>\n</table>\n</div>\n';
}

/**
 * Check that `svg` is a chart as plot.ts writes it (one <svg> element, no script, no event handler,
 * no link, no foreign content) and drop the SVG namespace attribute, which HTML does not need (the
 * document then names no URL at all). BAD_INPUT otherwise: it is inlined unescaped.
 */
function inlineSvg(svg: string, where: string): string {
  const s = svg.trim();
  const bad = (why: string) => new DistilrankError('BAD_INPUT', `${where}: the SVG ${why}`, { hint: 'pass a chart from confusionSvg or lineSvg' });
  if (!/^<svg[\s>]/i.test(s) || !/<\/svg>$/i.test(s)) throw bad('must be one <svg>…</svg> element');
  if ((s.match(/<svg[\s>]/gi) ?? []).length !== 1) throw bad('must hold exactly one <svg> element');
  for (const tag of s.match(/<[^>]*>/g) ?? []) {
    const name = /^<\/?\s*([A-Za-z][\w:-]*)/.exec(tag)?.[1]?.toLowerCase() ?? '';
    if (['script', 'foreignobject', 'iframe', 'object', 'embed', 'image', 'use', 'a', 'style'].includes(name)) {
      throw bad(`holds a <${name}> element`);
    }
    if (/\son[a-z]+\s*=/i.test(tag) || /(?:href|src)\s*=/i.test(tag) || /url\s*\(/i.test(tag)) {
      throw bad('holds an event handler or an external reference');
    }
  }
  return s.replace(/\s+xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '');
}

function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => `<p>${escapeXml(p)}</p>\n`)
    .join('');
}

/** The report as one HTML5 document (inline CSS and SVG, no scripts, no external resources). */
export function renderHtmlReport(report: HtmlReport): string {
  const meta = [`generated ${report.generatedAt}`, ...(report.machine !== undefined ? [`on ${report.machine}`] : [])].join(' ');
  let body = `<h1>${escapeXml(report.title)}</h1>\n<p class="meta">${escapeXml(meta)}</p>\n`;
  report.sections.forEach((s, i) => {
    const where = `section ${i + 1} ("${s.heading}")`;
    body += `<section>\n<h2>${escapeXml(s.heading)}</h2>\n`;
    if (s.text !== undefined) body += paragraphs(s.text);
    if (s.table) body += renderTable(s.table, where);
    if (s.svg !== undefined) body += `<figure>\n${inlineSvg(s.svg, where)}\n</figure>\n`;
    body += '</section>\n';
  });
  return (
    '<!doctype html>\n' +
    '<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${escapeXml(report.title)}</title>\n<style>\n${CSS}\n</style>\n</head>\n<body>\n${body}</body>\n</html>\n`
  );
}

/** Write the report to `path` atomically (a temp file beside it, then a rename); makes the folder. */
export function writeHtmlReport(path: string, report: HtmlReport): void {
  const html = renderHtmlReport(report);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path, html);
}

const fmt = (x: number | undefined, digits: number): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/**
 * A table of evaluation reports, one row each: model, protocol (with the BM25 candidate count of a
 * re-ranker under retrieval), queries, the measures, the label metrics (columns present only when
 * some report has them; blank for the others), p50/p99 latency in ms.
 */
export function evalTableSection(
  reports: readonly EvalReport[],
  measures: readonly string[],
  opts: { heading?: string; text?: string; caption?: string } = {},
): HtmlSection {
  const labels = reports.some((r) => r.levels !== undefined || LABEL_METRICS.some((m) => r.metrics[m] !== undefined)) ? LABEL_METRICS : [];
  const scopes = [...new Set(reports.map((r) => `${r.dataset} ${r.split}, judgments ${r.judgmentSet}`))];
  const caption = opts.caption ?? (scopes.length ? scopes.join('; ') : undefined);
  return {
    heading: opts.heading ?? 'Evaluation',
    ...(opts.text !== undefined ? { text: opts.text } : {}),
    table: {
      header: ['model', 'protocol', 'queries', ...measures, ...labels, 'p50 ms', 'p99 ms'],
      rows: reports.map((r) => [
        r.model,
        r.candidates ? `${r.protocol} (bm25@${r.candidates})` : r.protocol,
        String(r.queries),
        ...measures.map((m) => fmt(r.metrics[m], 4)),
        ...labels.map((m) => (r.metrics[m] === undefined ? '' : fmt(r.metrics[m], 4))),
        fmt(r.latencyMs.p50, 2),
        fmt(r.latencyMs.p99, 2),
      ]),
      ...(caption !== undefined ? { caption } : {}),
    },
  };
}

/**
 * A confusion matrix (rows: human level, columns: predicted level, labels L1…Ln by default) as a
 * heat map. BAD_INPUT when it is not square or holds a negative or non-finite count.
 */
export function confusionSection(
  title: string,
  confusion: readonly (readonly number[])[],
  opts: { rowLabel?: string; colLabel?: string; labels?: string[]; text?: string } = {},
): HtmlSection {
  const labels = opts.labels ?? confusion.map((_, i) => `L${i + 1}`);
  return {
    heading: title,
    ...(opts.text !== undefined ? { text: opts.text } : {}),
    svg: confusionSvg(confusion, {
      title,
      rowLabel: opts.rowLabel ?? 'human level',
      colLabel: opts.colLabel ?? 'predicted level',
      labels,
    }),
  };
}

/** A line chart of one or more series (e.g. a metric against the multiple of labelled pairs). */
export function curveSection(
  title: string,
  series: readonly LineSeries[],
  xLabel: string,
  yLabel: string,
  opts: { logX?: boolean; text?: string } = {},
): HtmlSection {
  return {
    heading: title,
    ...(opts.text !== undefined ? { text: opts.text } : {}),
    svg: lineSvg(series, { title, xLabel, yLabel, ...(opts.logX !== undefined ? { logX: opts.logX } : {}) }),
  };
}
