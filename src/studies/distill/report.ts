/** The distillation study as terminal tables and as HTML report sections with plots. */
import { fmt, table } from '../../core/index.ts';
import { curveSection, type HtmlSection } from '../../eval/index.ts';
import type { DistillStudy, RoiRow, ScalingRow } from './study.ts';

const pct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : 'n/a');
const times = (x: number): string => (Number.isFinite(x) && x !== 1 ? `${x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1)}×` : '');
const usd = (x: number): string => (!Number.isFinite(x) ? 'n/a' : x >= 0.01 ? `$${x.toFixed(2)}` : `$${x.toPrecision(2)}`);
const num = (x: number, d = 4): string => (Number.isFinite(x) ? fmt(x, d) : 'n/a');
const labelOf = (r: ScalingRow): string => {
  if (r.multiple === 0) return 'human only';
  const actual = r.teacherPairs / r.humanPairs;
  return Math.abs(actual - r.multiple) > 0.1 * r.multiple ? `human + teacher ${r.multiple}× (pool: ${actual.toFixed(1)}×)` : `human + teacher ${r.multiple}×`;
};

export const SCALING_HEADER = [
  'training labels',
  'human pairs',
  'teacher pairs',
  'nDCG@10 rerank',
  'nDCG@10 retrieval',
  'accuracy',
  'kappa_quadratic',
  'train s',
];
export const ROI_HEADER = [
  'model',
  'nDCG@10 rerank',
  'nDCG@10 retrieval',
  'kappa_quadratic',
  'µs/pair',
  'p50 ms/query',
  'p99 ms/query',
  '$/1k queries',
  'share of teacher gain (nDCG / κ)',
  'cheaper than teacher',
];

export function scalingRows(s: DistillStudy): string[][] {
  return s.curve.map((r) => [
    labelOf(r),
    String(r.humanPairs),
    String(r.teacherPairs),
    num(r.rerank),
    num(r.retrieval),
    num(r.accuracy),
    num(r.kappaQuadratic),
    fmt(r.trainSeconds, 1),
  ]);
}

export function roiRows(s: DistillStudy): string[][] {
  return s.roi.map((r: RoiRow) => [
    r.model,
    num(r.rerank),
    num(r.retrieval),
    num(r.kappaQuadratic),
    num(r.usPerPair, 1),
    num(r.p50MsPerQuery, 2),
    num(r.p99MsPerQuery, 2),
    usd(r.usdPerThousandQueries),
    r.kind === 'student' ? `${pct(r.shareOfTeacherGain.rerank)} / ${pct(r.shareOfTeacherGain.kappa)}` : '',
    times(r.cheaperThanTeacher),
  ]);
}

export const scalingCaption = (s: DistillStudy): string =>
  `Scaling curve, ${s.dataset}, test split, human labels only (${s.teacherEval.pairs.evaluation} judged test pairs); teacher ${s.teacher.name} (${s.teacher.model}); the teacher labelled a seeded sample of ${s.pool.pairs} of the ${s.pool.candidates} top-${s.pool.k} BM25 candidates of the training queries.`;

export const roiCaption = (s: DistillStudy): string =>
  `ROI, ${s.dataset}, test split: latency and cost of scoring 100 BM25 candidates per query (BM25 retrieval itself excluded); local models' cost = measured CPU time at $${s.cpuUsdPerHour}/core-hour; the teacher's retrieval column is not measured (it would judge 200 candidates of every test query). Share of teacher gain = (model − BM25) / (teacher − BM25).`;

/** Both tables as terminal text. */
export function formatStudy(s: DistillStudy): string {
  return [scalingCaption(s), table(SCALING_HEADER, scalingRows(s)), '', roiCaption(s), table(ROI_HEADER, roiRows(s)), ...s.notes.map((n) => `note: ${n}`)].join(
    '\n',
  );
}

/** The scaling curves (nDCG@10 both protocols, κ) and an ROI plot (quality against cost), as report sections. */
export function studySections(s: DistillStudy): HtmlSection[] {
  // x = training pairs (human + teacher), log scale: the human-only student is the first point.
  const xOf = (r: ScalingRow) => r.humanPairs + r.teacherPairs;
  const bm25 = s.roi.find((r) => r.kind === 'baseline');
  const teacher = s.roi.find((r) => r.kind === 'teacher');
  const flat = (name: string, y: number | undefined) =>
    y === undefined || !Number.isFinite(y)
      ? []
      : [
          {
            name,
            points: [
              { x: xOf(s.curve[0]!), y },
              { x: xOf(s.curve[s.curve.length - 1]!), y },
            ],
          },
        ];
  const sections: HtmlSection[] = [
    {
      heading: `Scaling curve — ${s.dataset}`,
      text: scalingCaption(s),
      table: { header: SCALING_HEADER, rows: scalingRows(s) },
    },
    curveSection(
      `nDCG@10 against training pairs — ${s.dataset}`,
      [
        { name: 'student, rerank', points: s.curve.map((r) => ({ x: xOf(r), y: r.rerank })) },
        { name: 'student, retrieval', points: s.curve.map((r) => ({ x: xOf(r), y: r.retrieval })) },
        ...flat('bm25, rerank', bm25?.rerank),
        ...flat('bm25, retrieval', bm25?.retrieval),
        ...flat('teacher, rerank', teacher?.rerank),
      ],
      'training pairs (human + teacher), log scale',
      'nDCG@10 (test)',
      { logX: true },
    ),
    curveSection(
      `Quadratic κ against training pairs — ${s.dataset}`,
      [
        { name: 'student', points: s.curve.map((r) => ({ x: xOf(r), y: r.kappaQuadratic })) },
        ...flat('bm25 (calibrated)', bm25?.kappaQuadratic),
        ...flat('teacher', teacher?.kappaQuadratic),
      ],
      'training pairs (human + teacher), log scale',
      'quadratic κ vs human levels (test)',
      { logX: true },
    ),
    {
      heading: `ROI — ${s.dataset}`,
      text: roiCaption(s) + (s.notes.length ? `\n\n${s.notes.join('\n')}` : ''),
      table: { header: ROI_HEADER, rows: roiRows(s) },
    },
  ];
  const priced = s.roi.filter((r) => Number.isFinite(r.usdPerThousandQueries) && r.usdPerThousandQueries > 0 && Number.isFinite(r.rerank));
  if (priced.length) {
    sections.push(
      curveSection(
        `Quality against cost — ${s.dataset}`,
        priced.map((r) => ({ name: r.model, points: [{ x: r.usdPerThousandQueries, y: r.rerank }] })),
        'cost per 1,000 queries (USD, log scale)',
        'nDCG@10 rerank (test)',
        { logX: true, text: 'Each model is one point: up is better, left is cheaper.' },
      ),
    );
  }
  return sections;
}
