/**
 * The native scales of the built-in data sets and the common scales users bring, each with its
 * explicit mapping onto the five levels. docs/datasets.md explains every choice.
 */
import { DistilrankError, unknownName, discreteMapping, isLevel, linearMapping, type Level, type ScaleMapping } from '../../core/index.ts';

/** Quepid's 0–3 e-commerce scale (icecat-chorus: Supahands and Haystack raters). */
export const QUEPID_0_3 = discreteMapping('quepid-0-3', 'Quepid e-commerce scale: 0 irrelevant/poor, 1 fair, 2 good, 3 perfect', [
  [0, 1, '0 "poor/irrelevant" → L1 highly irrelevant (gain 0): the scale has no separate "off-topic" grade'],
  [1, 3, '1 "fair" → L3 marginally relevant (gain 2)'],
  [2, 4, '2 "good" → L4 relevant (gain 3)'],
  [3, 5, '3 "perfect" → L5 highly relevant (gain 4)'],
]);

/** Home Depot: the mean of ≥3 raters' grades on 1 (irrelevant) … 3 (perfect match). */
export const HOME_DEPOT_MEAN_1_3 = linearMapping(
  'home-depot-mean-1-3',
  'mean of ≥3 raters on 1 irrelevant, 2 partially relevant, 3 perfect match; rescaled linearly to 1–5 and rounded half up',
  1,
  3,
  [1, 4 / 3, 1.5, 5 / 3, 2, 7 / 3, 2.5, 8 / 3, 3],
);

/** Cranfield: Cleverdon's codes, lower is more relevant (cranqrel.readme), −1 = the source paper. */
export const CRANFIELD_CODES = discreteMapping(
  'cranfield-cleverdon',
  "Cleverdon's relevance codes: 1 complete answer … 4 minimum interest; −1 the paper the question was derived from",
  [
    [1, 5, '1 "complete answer" → L5 (gain 4)'],
    [2, 4, '2 "high degree of relevance" → L4 (gain 3)'],
    [3, 3, '3 "useful background or methods" → L3 (gain 2)'],
    [4, 2, '4 "minimum interest, e.g. historical" → L2 (gain 1)'],
    [-1, 5, '−1 the source paper of the question: a complete answer by construction → L5 (gain 4)'],
  ],
);

/** Scales a user can name with `ingest --scale NAME`. */
export const NAMED_SCALES: Readonly<Record<string, ScaleMapping>> = Object.freeze({
  'levels-1-5': discreteMapping('levels-1-5', 'distilrank levels L1 … L5 given directly', [
    [1, 1, 'L1'],
    [2, 2, 'L2'],
    [3, 3, 'L3'],
    [4, 4, 'L4'],
    [5, 5, 'L5'],
  ]),
  'graded-0-4': discreteMapping('graded-0-4', 'five grades 0 (worst) … 4 (best), e.g. trec_eval-style gains', [
    [0, 1, '0 → L1'],
    [1, 2, '1 → L2'],
    [2, 3, '2 → L3'],
    [3, 4, '3 → L4'],
    [4, 5, '4 → L5'],
  ]),
  'quepid-0-3': QUEPID_0_3,
  'trec-0-2': discreteMapping('trec-0-2', 'TREC graded: 0 not relevant, 1 relevant, 2 highly relevant', [
    [0, 1, '0 not relevant → L1'],
    [1, 4, '1 relevant → L4'],
    [2, 5, '2 highly relevant → L5'],
  ]),
  'binary-0-1': discreteMapping('binary-0-1', 'binary: 0 not relevant, 1 relevant', [
    [0, 1, '0 → L1'],
    [1, 5, '1 → L5'],
  ]),
});

/**
 * A user-given mapping `"0:1,1:3,2:4,3:5"` (native grade : level; level `-` drops the grade) or the
 * name of a scale in NAMED_SCALES.
 */
export function parseScale(spec: string): ScaleMapping {
  const named = NAMED_SCALES[spec];
  if (named) return named;
  if (!spec.includes(':')) throw unknownName('scale', spec, [...Object.keys(NAMED_SCALES), 'GRADE:LEVEL,… (e.g. 0:1,1:3,2:4,3:5)']);
  const table: Array<[number, Level | null, string]> = [];
  for (const part of spec.split(',')) {
    const [g, l] = part.split(':').map((s) => s.trim());
    const grade = Number(g);
    const level = l === '-' ? null : Number(l);
    if (g === undefined || g === '' || !Number.isFinite(grade) || (level !== null && !isLevel(level))) {
      throw new DistilrankError('BAD_OPTION', `invalid scale mapping entry "${part}"`, {
        field: 'scale',
        hint: 'write NATIVE:LEVEL pairs with levels 1–5 (or - to drop a grade), e.g. 0:1,1:3,2:4,3:5',
      });
    }
    table.push([grade, level, `${grade} → ${level === null ? 'dropped' : `L${level}`}`]);
  }
  return discreteMapping(`custom(${spec})`, 'mapping given on the command line', table);
}
