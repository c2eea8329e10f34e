import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DistilrankError } from '../src/core/errors.ts';
import type { EvalReport } from '../src/eval/evaluate.ts';
import { lineSvg } from '../src/eval/plot.ts';
import { LABEL_METRICS, confusionSection, curveSection, evalTableSection, renderHtmlReport, writeHtmlReport, type HtmlReport } from '../src/eval/report.ts';
import { caught, useTempDir } from './helpers.ts';

const EVIL = '<script>alert(1)</script> & more';

function evalReport(model: string, over: Partial<EvalReport> = {}): EvalReport {
  return {
    dataset: 'wands',
    split: 'test',
    protocol: 'rerank',
    model,
    queries: 120,
    metrics: { 'nDCG@10': 0.61234, 'AP(rel=3)': 0.4321 },
    judgmentSet: 'human',
    depth: null,
    latencyMs: { p50: 1.234, p99: 9.876 },
    ...over,
  };
}

const CONFUSION = [
  [17, 2, 0, 0, 1],
  [3, 11, 4, 0, 0],
  [0, 5, 23, 6, 1],
  [0, 0, 7, 41, 9],
  [1, 0, 2, 8, 333],
];

function sample(): HtmlReport {
  const student = evalReport('student', {
    metrics: { 'nDCG@10': 0.71234, 'AP(rel=3)': 0.5555, accuracy: 0.6789, macro_F1: 0.5, kappa: 0.4, kappa_quadratic: 0.8123, RMSE_expected_level: 0.9 },
    levels: { from: 'student', pairs: 500, confusion: CONFUSION },
  });
  return {
    title: `Report ${EVIL}`,
    generatedAt: '2024-05-01T12:00:00Z',
    machine: 'test box',
    sections: [
      {
        heading: `Items ${EVIL}`,
        text: 'Titles come from the catalogue.\n\nThey are untrusted.',
        table: {
          header: ['query', 'item title', 'score'],
          rows: [
            ['q1', EVIL, '0.9876'],
            ['q2', 'chair & table', '-1.5'],
            ['q3', 'sofa'],
          ],
          caption: `caption ${EVIL}`,
        },
      },
      evalTableSection([evalReport('bm25'), student], ['nDCG@10', 'AP(rel=3)']),
      confusionSection('Student vs human levels', student.levels!.confusion),
      curveSection(
        'Scaling curve',
        [
          {
            name: 'student',
            points: [
              { x: 1, y: 0.55 },
              { x: 2, y: 0.61 },
              { x: 10, y: 0.68 },
            ],
          },
          {
            name: `bm25 ${EVIL}`,
            points: [
              { x: 1, y: 0.5 },
              { x: 10, y: 0.5 },
            ],
          },
        ],
        'multiple of labelled pairs',
        'nDCG@10',
        { logX: true },
      ),
    ],
  };
}

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

describe('renderHtmlReport', () => {
  const html = renderHtmlReport(sample());

  it('is one self-contained HTML5 document', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(count(html, /<html[\s>]/gi)).toBe(1);
    expect(count(html, /<\/html>/gi)).toBe(1);
    expect(count(html, /<head>/gi)).toBe(1);
    expect(count(html, /<body>/gi)).toBe(1);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<style>');
    // No external loads: no URL at all, no link/script/img element, no url() in CSS.
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<(script|link|img|iframe)[\s>]/i);
    expect(html).not.toMatch(/url\s*\(/i);
    expect(html).not.toMatch(/@import/i);
  });

  it('balances tables and SVGs', () => {
    expect(count(html, /<table>/g)).toBe(2);
    expect(count(html, /<\/table>/g)).toBe(2);
    expect(count(html, /<svg[\s>]/g)).toBe(2);
    expect(count(html, /<\/svg>/g)).toBe(2);
    expect(count(html, /<section>/g)).toBe(4);
    expect(count(html, /<\/section>/g)).toBe(4);
    // Each table's rows have one cell per header column.
    for (const table of html.match(/<table>[\s\S]*?<\/table>/g)!) {
      const widths = (table.match(/<tr>[\s\S]*?<\/tr>/g) ?? []).map((tr) => count(tr, /<t[hd][\s>]/g));
      expect(new Set(widths).size).toBe(1);
    }
  });

  it('contains the numbers', () => {
    for (const n of ['0.9876', '-1.5', '0.6123', '0.4321', '0.7123', '0.5555', '0.6789', '0.8123', '1.23', '9.88', '120', '333']) {
      expect(html).toContain(n);
    }
    expect(html).toContain('2024-05-01T12:00:00Z');
    expect(html).toContain('test box');
  });

  it('escapes untrusted text in cells, headings, captions, titles and chart legends', () => {
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('alert(1)</script>');
    const escaped = '&lt;script&gt;alert(1)&lt;/script&gt; &amp; more';
    expect(html).toContain(`<td>${escaped}</td>`);
    expect(html).toContain(`<h2>Items ${escaped}</h2>`);
    expect(html).toContain(`<h1>Report ${escaped}</h1>`);
    expect(html).toContain(`<title>Report ${escaped}</title>`);
    expect(html).toContain(`<caption>caption ${escaped}</caption>`);
    expect(html).toContain(`bm25 ${escaped}`);
    expect(html).toContain('chair &amp; table');
    // Every & in the document starts an entity.
    expect(html).not.toMatch(/&(?![a-z]+;|#\d+;)/);
  });

  it('right-aligns numeric columns only', () => {
    expect(html).toContain('<td class="num">0.9876</td>');
    expect(html).toContain('<th scope="col" class="num">score</th>');
    expect(html).toContain('<td>q1</td>');
    expect(html).toContain('<th scope="col">item title</th>');
    // A missing cell is padded, and the column stays numeric.
    expect(html).toContain('<td>sofa</td><td class="num"></td>');
    expect(html).toContain('<td class="num">120</td>');
    expect(html).toContain('<td>rerank</td>');
    // A column of blanks and n/a only is not numeric.
    const blank = renderHtmlReport({
      title: 't',
      generatedAt: 'now',
      sections: [
        {
          heading: 'h',
          table: {
            header: ['a', 'b'],
            rows: [
              ['x', ''],
              ['y', 'n/a'],
            ],
          },
        },
      ],
    });
    expect(blank).toContain('<td>x</td><td></td>');
    expect(blank).not.toContain('class="num"');
  });

  it('splits text into escaped paragraphs', () => {
    expect(html).toContain('<p>Titles come from the catalogue.</p>\n<p>They are untrusted.</p>');
  });

  it('rejects a table row wider than its header', () => {
    const e = caught(() => renderHtmlReport({ title: 't', generatedAt: 'now', sections: [{ heading: 'h', table: { header: ['a'], rows: [['1', '2']] } }] }));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toContain('row 1');
  });

  it('inlines only chart SVGs: no script, handler, link or second document', () => {
    const ok = lineSvg([{ name: 'href="x" onload=1', points: [{ x: 1, y: 1 }] }], { title: 't', xLabel: 'x', yLabel: 'y' });
    expect(() => renderHtmlReport({ title: 't', generatedAt: 'now', sections: [{ heading: 'h', svg: ok }] })).not.toThrow();
    for (const svg of [
      '<svg><script>alert(1)</script></svg>',
      '<svg onload="alert(1)"></svg>',
      '<svg><image href="https://example.com/x.png"/></svg>',
      '<svg><rect style="fill: url(https://example.com/x)"/></svg>',
      '<div>not svg</div>',
      '<svg></svg><svg></svg>',
    ]) {
      expect(caught(() => renderHtmlReport({ title: 't', generatedAt: 'now', sections: [{ heading: 'h', svg }] })).code).toBe('BAD_INPUT');
    }
  });
});

describe('evalTableSection', () => {
  it('has label metric columns only when a report has them', () => {
    const plain = evalTableSection([evalReport('bm25'), evalReport('random')], ['nDCG@10']);
    expect(plain.table!.header).toEqual(['model', 'protocol', 'queries', 'nDCG@10', 'p50 ms', 'p99 ms']);
    expect(plain.table!.rows[0]).toEqual(['bm25', 'rerank', '120', '0.6123', '1.23', '9.88']);
    for (const m of LABEL_METRICS) expect(plain.table!.header).not.toContain(m);

    const withLabels = evalTableSection(
      [
        evalReport('bm25', { protocol: 'retrieval', depth: 100 }),
        evalReport('student', {
          metrics: { 'nDCG@10': 0.7, accuracy: 0.6, macro_F1: 0.5, kappa: 0.4, kappa_quadratic: 0.3, RMSE_expected_level: 0.2 },
          levels: { from: 'student', pairs: 10, confusion: CONFUSION },
        }),
      ],
      ['nDCG@10'],
    );
    expect(withLabels.table!.header).toEqual(['model', 'protocol', 'queries', 'nDCG@10', ...LABEL_METRICS, 'p50 ms', 'p99 ms']);
    expect(withLabels.table!.rows[0]).toEqual(['bm25', 'retrieval', '120', '0.6123', '', '', '', '', '', '1.23', '9.88']);
    expect(withLabels.table!.rows[1]).toEqual(['student', 'rerank', '120', '0.7000', '0.6000', '0.5000', '0.4000', '0.3000', '0.2000', '1.23', '9.88']);
  });

  it('writes n/a for a missing measure and names a re-ranker’s candidates', () => {
    const s = evalTableSection([evalReport('student', { protocol: 'retrieval', candidates: 200, latencyMs: { p50: NaN, p99: NaN } })], ['RR(rel=3)']);
    expect(s.table!.rows[0]).toEqual(['student', 'retrieval (bm25@200)', '120', 'n/a', 'n/a', 'n/a']);
    expect(s.table!.caption).toBe('wands test, judgments human');
  });
});

describe('confusionSection and curveSection', () => {
  it('draw with plot.ts and reject bad input', () => {
    const c = confusionSection('C', CONFUSION);
    expect(c.heading).toBe('C');
    expect(c.svg).toContain('>L5</text>');
    expect(c.svg).toContain('>333</text>');
    expect(caught(() => confusionSection('C', [[1, 2]])).code).toBe('BAD_INPUT');
    const l = curveSection('S', [{ name: 'a', points: [{ x: 1, y: 2 }] }], 'x', 'y');
    expect(l.svg).toContain('<circle');
    expect(caught(() => curveSection('S', [{ name: 'a', points: [] }], 'x', 'y')).code).toBe('BAD_INPUT');
  });
});

describe('writeHtmlReport', () => {
  const tmp = useTempDir('distilrank-report-', { each: true });

  it('writes the document and leaves no temp file behind', () => {
    const path = join(tmp.path, 'out', 'report.html');
    writeHtmlReport(path, sample());
    expect(readFileSync(path, 'utf8')).toBe(renderHtmlReport(sample()));
    expect(readdirSync(join(tmp.path, 'out'))).toEqual(['report.html']);
    // Overwrites in place.
    writeHtmlReport(path, { title: 'second', generatedAt: 'now', sections: [] });
    expect(readFileSync(path, 'utf8')).toContain('<h1>second</h1>');
    expect(readdirSync(join(tmp.path, 'out'))).toEqual(['report.html']);
  });

  it('leaves neither the file nor a temp file when rendering fails', () => {
    const path = join(tmp.path, 'bad.html');
    expect(() => writeHtmlReport(path, { title: 't', generatedAt: 'now', sections: [{ heading: 'h', svg: '<p>x</p>' }] })).toThrow(DistilrankError);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(tmp.path)).toEqual([]);
  });
});
