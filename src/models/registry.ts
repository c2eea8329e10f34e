/**
 * The one registry of everything that can rank or be served, by name: the retrievers (bm25, vector,
 * hybrid, random) plus `student` (the default artifact of the data set), `student-distilled` and
 * `student:PATH` (an artifact folder). A student name may end in `@RETRIEVER` (`student@hybrid`): the
 * student then re-ranks that retriever's candidates instead of BM25's. serve and the CLI load models
 * by name only through here.
 */
import { resolve } from 'node:path';
import { unknownName } from '../core/index.ts';
import { calibrateRanker } from '../eval/index.ts';
import { VectorRanker } from '../embed/index.ts';
import {
  Bm25Ranker,
  DEFAULT_LEG_DEPTH,
  EQUAL_WEIGHTS,
  HybridRanker,
  RandomRanker,
  RRF_K,
  type Bm25Index,
  type FusionWeights,
  type LevelPredictor,
  type Ranker,
} from '../retrieve/index.ts';
import type { Dataset } from '../store/index.ts';
import { defaultStudentDir, StudentRanker } from '../student/index.ts';

/** What a caller may hand a ranker it creates: the service passes an in-memory BM25 index it built. */
export interface RankerOptions {
  bm25Index?: Bm25Index;
}

export interface RankerFactory {
  description: string;
  /** Whether the ranker reads BM25 (and so can use an in-memory index). */
  usesBm25?: boolean;
  create(dataset: Dataset, opts?: RankerOptions): Ranker;
}

export const RANKERS: Readonly<Record<string, RankerFactory>> = Object.freeze({
  bm25: {
    description: 'BM25 (SQLite FTS5, per-field weights)',
    usesBm25: true,
    create: (dataset, opts = {}) => new Bm25Ranker(dataset, undefined, { index: opts.bm25Index }),
  },
  vector: {
    description: 'ANN (usearch HNSW, cosine) over the relevance-tuned item embeddings (distilrank embed)',
    create: (dataset) => VectorRanker.forDataset(dataset),
  },
  hybrid: {
    description: `BM25 + vector fused by weighted reciprocal rank fusion (k = ${RRF_K}, ${DEFAULT_LEG_DEPTH} candidates per leg; leg weights chosen on dev by distilrank embed)`,
    usesBm25: true,
    create: (dataset, opts = {}) => {
      const vector = VectorRanker.forDataset(dataset);
      return new HybridRanker(new Bm25Ranker(dataset, undefined, { index: opts.bm25Index }), vector, { weights: fusionWeightsOf(vector) });
    },
  },
  random: { description: 'seeded random order: the floor to read every protocol against', create: (dataset) => new RandomRanker(dataset) },
});

/** The fusion weights recorded in the vector leg's embedding card (chosen on dev), or equal weights for a card without them. */
export function fusionWeightsOf(vector: VectorRanker): FusionWeights {
  return vector.embeddings.card.fusion?.weights ?? { ...EQUAL_WEIGHTS };
}

export function createRanker(name: string, dataset: Dataset, opts: RankerOptions = {}): Ranker {
  const f = RANKERS[name];
  if (!f) throw unknownName('model', name, Object.keys(RANKERS));
  return f.create(dataset, opts);
}

export const MODEL_NAMES = [...Object.keys(RANKERS), 'student', 'student-distilled', 'student:PATH', 'student@RETRIEVER'];

export interface LoadedModel {
  ranker: Ranker;
  /** Level predictions for label metrics: the model's own, or its scores calibrated on train. */
  levels: () => Promise<LevelPredictor>;
  close: () => Promise<void>;
}

/** A student name's base and its candidate retriever (`student@hybrid` → student, hybrid). */
export function splitRetriever(name: string): { base: string; retriever: string | undefined } {
  const at = name.lastIndexOf('@');
  if (name.startsWith('student') && at > 0) {
    const retriever = name.slice(at + 1);
    if (!RANKERS[retriever]) throw unknownName('retriever', retriever, Object.keys(RANKERS));
    return { base: name.slice(0, at), retriever };
  }
  return { base: name, retriever: undefined };
}

export function checkModelName(name: string): void {
  const { base } = splitRetriever(name);
  if (base === 'student' || base === 'student-distilled' || base.startsWith('student:') || (RANKERS[base] && base === name)) return;
  throw unknownName('model', name, MODEL_NAMES);
}

export async function loadModel(
  name: string,
  dataset: Dataset,
  opts: { candidates?: number; judgmentSet?: string; rankerOptions?: RankerOptions } = {},
): Promise<LoadedModel> {
  const rankerOptions = opts.rankerOptions ?? {};
  checkModelName(name);
  const { base, retriever } = splitRetriever(name);
  if (base !== name) name = base;
  if (name === 'student' || name === 'student-distilled' || name.startsWith('student:')) {
    const dir =
      name === 'student' || name === 'student-distilled'
        ? defaultStudentDir(dataset.store.path, dataset.name, name === 'student' ? 'human' : 'human+teacher')
        : resolve(name.slice('student:'.length));
    const student = await StudentRanker.load(dataset, dir, {
      ...(opts.candidates ? { candidates: opts.candidates } : {}),
      ...(retriever ? { retriever: createRanker(retriever, dataset, rankerOptions) } : {}),
    });
    return { ranker: student, levels: () => Promise.resolve(student), close: () => student.close() };
  }
  const ranker = createRanker(name, dataset, rankerOptions);
  return {
    ranker,
    levels: () => calibrateRanker(ranker, dataset, 'train', opts.judgmentSet),
    close: () => Promise.resolve(),
  };
}
