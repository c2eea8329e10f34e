/**
 * The representation ablation: the teacher (the `local` teacher, trained here on the human labels)
 * and the student, each trained and evaluated with the item fields added one at a time in a stated
 * order, on the same split, under both protocols — the table Pinterest reported for its teacher.
 *
 * Each row works on a copy of the store whose items are projected onto the row's fields
 * (projectItem: what the features and the BM25 index see), so the teacher, the student and the BM25
 * candidates of the retrieval protocol all read exactly that representation; the queries, the split
 * and the judgments are the store's own. Training configurations are small (stated in the result),
 * so the table runs in minutes on two cores; absolute numbers are below the full models'.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DistilrankError } from '../core/index.ts';
import { evaluate, evaluateLabels, type Protocol } from '../eval/index.ts';
import { type Ranker, type ScoredItem, Bm25Ranker } from '../retrieve/index.ts';
import { Store, type Dataset, type Split, type StoredItem } from '../store/index.ts';
import { StudentRanker, trainStudent, writeStudentArtifact } from '../student/index.ts';
import { trainLocalTeacher, type LocalTeacher } from '../teacher/index.ts';
import { projectItem, type FieldSources, ABLATION_ORDER, ACTION_SOURCES, representationId, representationOf, type FieldSource } from '../enrich/index.ts';

/** bm25: the baseline, measured in the same run on the same projected catalogue (no κ: it predicts no levels). */
export type AblationModel = 'bm25' | 'teacher' | 'student';

export interface AblationSettings {
  teacherSeeds: number[];
  teacherEpochs: number;
  studentEpochs: number;
  /** BM25 candidates re-ranked under the retrieval protocol. */
  candidates: number;
}

/** Small on purpose: one teacher member, few epochs (early stopping on dev still applies). */
export const DEFAULT_ABLATION_SETTINGS: Readonly<AblationSettings> = Object.freeze({
  teacherSeeds: [1],
  teacherEpochs: 30,
  studentEpochs: 30,
  candidates: 100,
});

export interface AblationOptions {
  dataset: Dataset;
  /** Fields in the order they are added (default ABLATION_ORDER). */
  order?: readonly FieldSource[];
  /** The first row: the prefix of `order` ending at this field (default: the first field). */
  from?: FieldSource;
  sources?: FieldSources;
  /** Whether the action sources come from simulated logs (rows using them are labelled). */
  simulatedActions?: boolean;
  split?: Split;
  judgmentSet?: string;
  models?: readonly AblationModel[];
  settings?: Partial<AblationSettings>;
  /** A scratch folder (the projected store copy and student artifacts); removed afterwards. */
  workDir: string;
  onStage?: (stage: string) => void;
}

export interface AblationRow {
  step: number;
  /** The field this row adds ('' for a first row of several fields). */
  added: string;
  fields: FieldSource[];
  representation: string;
  model: string;
  protocol: Protocol;
  queries: number;
  'nDCG@10': number;
  /** Quadratic-weighted Cohen's κ of the argmax level vs the human level (judged pairs; as `eval` reports it); NaN (null in JSON) for bm25. */
  kappa_quadratic: number;
  simulated: boolean;
}

export interface AblationResult {
  dataset: string;
  split: Split;
  judgmentSet: string;
  order: FieldSource[];
  /** Fields of `order` no item has any text for: not given a row. */
  skipped: FieldSource[];
  settings: AblationSettings;
  rows: AblationRow[];
  seconds: number;
}

/** The teacher as a ranker: expected level; the catalogue through BM25's top `candidates`. */
class TeacherRanker implements Ranker {
  readonly name = 'teacher(local)';
  constructor(
    private readonly teacher: LocalTeacher,
    private readonly bm25: Bm25Ranker,
    private readonly candidates: number,
  ) {}
  score(queryText: string, itemIds: readonly string[]): ScoredItem[] {
    const p = this.teacher.predictLevels(queryText, itemIds);
    return itemIds.map((itemId, i) => {
      let e = 0;
      for (let k = 0; k < 5; k++) e += p[i * 5 + k]! * (k + 1);
      return { itemId, score: e };
    });
  }
  retrieve(queryText: string, k: number): ScoredItem[] {
    const pool = this.bm25.retrieve(queryText, Math.max(k, this.candidates)).map((c) => c.itemId);
    return this.score(queryText, pool)
      .sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : 1))
      .slice(0, k);
  }
}

/** Fields of `order` for which at least one item has text. */
function availableFields(
  items: readonly StoredItem[],
  order: readonly FieldSource[],
  sources: FieldSources,
): { present: FieldSource[]; skipped: FieldSource[] } {
  const present: FieldSource[] = [];
  const skipped: FieldSource[] = [];
  for (const f of order) {
    const config = representationOf(f === 'title' ? ['title'] : ['title', f]);
    const has =
      f === 'title' ||
      items.some(
        (it) => Object.keys(projectItem(it, config, sources).fields).length > 0 || (f === 'description' && projectItem(it, config, sources).description),
      );
    (has ? present : skipped).push(f);
  }
  return { present, skipped };
}

export async function runAblation(opts: AblationOptions): Promise<AblationResult> {
  const t0 = performance.now();
  const { dataset } = opts;
  const { store } = dataset;
  const split = opts.split ?? 'test';
  const judgmentSet = opts.judgmentSet ?? dataset.defaultJudgmentSet;
  const settings: AblationSettings = { ...DEFAULT_ABLATION_SETTINGS, ...opts.settings };
  const models = opts.models ?? ['bm25', 'teacher', 'student'];
  const order = [...(opts.order ?? ABLATION_ORDER)];
  if (order[0] !== 'title' || new Set(order).size !== order.length) {
    throw new DistilrankError('BAD_OPTION', `the field order must start with title and list each field once, got ${order.join(',')}`, {
      field: 'order',
      hint: `e.g. ${ABLATION_ORDER.join(',')}`,
    });
  }
  const sources = opts.sources ?? {};
  const original = dataset.storedItems(dataset.itemIds());
  const { present, skipped } = availableFields(original, order, sources);
  let first = 0;
  if (opts.from !== undefined) {
    first = present.indexOf(opts.from);
    if (first < 0) throw new DistilrankError('BAD_OPTION', `--from ${opts.from} is not among the fields with data: ${present.join(', ')}`, { field: 'from' });
  }

  if (existsSync(opts.workDir)) rmSync(opts.workDir, { recursive: true, force: true });
  mkdirSync(opts.workDir, { recursive: true });
  const copyPath = join(opts.workDir, 'store.sqlite');
  opts.onStage?.('copy store');
  store.copyTo(copyPath);
  const copy = Store.open(copyPath);
  const rows: AblationRow[] = [];
  try {
    for (const other of copy.datasetNames()) if (other !== dataset.name) copy.deleteDataset(other);
    const projected = copy.dataset(dataset.name);
    for (let step = first; step < present.length; step++) {
      const fields = present.slice(0, step + 1);
      const config = representationOf(fields);
      const label = fields.join('+');
      const simulated = Boolean(opts.simulatedActions) && fields.some((f) => ACTION_SOURCES.includes(f));
      const base = {
        step: step - first + 1,
        added: step === first && first > 0 ? '' : fields[step]!,
        fields,
        representation: representationId(config),
        simulated,
      };
      opts.onStage?.(`[${label}] project items`);
      copy.rewriteItems(
        dataset.name,
        original.map((it) => projectItem(it, config, sources)),
      );
      const bm25 = new Bm25Ranker(projected);
      if (models.includes('bm25')) {
        for (const protocol of ['rerank', 'retrieval'] as const) {
          const ev = await evaluate({ dataset: projected, split, protocol, ranker: bm25, judgmentSet, measures: ['nDCG@10'] });
          rows.push({ ...base, model: 'bm25', protocol, queries: ev.report.queries, 'nDCG@10': ev.report.metrics['nDCG@10']!, kappa_quadratic: NaN });
        }
      }
      if (models.includes('teacher')) {
        opts.onStage?.(`[${label}] train teacher`);
        const { teacher } = await trainLocalTeacher({
          dataset: projected,
          judgmentSet,
          seeds: settings.teacherSeeds,
          config: { epochs: settings.teacherEpochs },
          dir: null,
        });
        const ranker = new TeacherRanker(teacher, bm25, settings.candidates);
        const kappa = (await evaluateLabels({ dataset: projected, split, predictor: teacher, judgmentSet })).metrics.kappa_quadratic;
        for (const protocol of ['rerank', 'retrieval'] as const) {
          opts.onStage?.(`[${label}] evaluate teacher ${protocol}`);
          const ev = await evaluate({ dataset: projected, split, protocol, ranker, judgmentSet, measures: ['nDCG@10'] });
          rows.push({
            ...base,
            model: 'teacher (local)',
            protocol,
            queries: ev.report.queries,
            'nDCG@10': ev.report.metrics['nDCG@10']!,
            kappa_quadratic: kappa,
          });
        }
      }
      if (models.includes('student')) {
        opts.onStage?.(`[${label}] train student`);
        const trained = await trainStudent({ dataset: projected, judgmentSet, config: { epochs: settings.studentEpochs } });
        const dir = join(opts.workDir, `student-${step}`);
        writeStudentArtifact(dir, trained.onnx, trained.card);
        const student = await StudentRanker.load(projected, dir, { candidates: settings.candidates });
        try {
          const kappa = (await evaluateLabels({ dataset: projected, split, predictor: student, judgmentSet })).metrics.kappa_quadratic;
          for (const protocol of ['rerank', 'retrieval'] as const) {
            opts.onStage?.(`[${label}] evaluate student ${protocol}`);
            const ev = await evaluate({ dataset: projected, split, protocol, ranker: student, judgmentSet, measures: ['nDCG@10'] });
            rows.push({ ...base, model: 'student', protocol, queries: ev.report.queries, 'nDCG@10': ev.report.metrics['nDCG@10']!, kappa_quadratic: kappa });
          }
        } finally {
          await student.close();
        }
      }
    }
  } finally {
    copy.close();
    rmSync(opts.workDir, { recursive: true, force: true });
  }
  return { dataset: dataset.name, split, judgmentSet, order, skipped, settings, rows, seconds: (performance.now() - t0) / 1000 };
}
