/**
 * Training the embeddings of a data set from the store: human judgments of the train split (dev for
 * early stopping; the test split is never read), the teacher's soft labels for pool pairs when given,
 * negatives from a candidate retriever (BM25 in the CLI), and the artifact with its model card.
 */
import { DistilrankError } from '../core/index.ts';
import { splitQrels } from '../eval/index.ts';
import type { Split, Dataset, StoredJudgment } from '../store/index.ts';
import { defaultEmbedDir, writeEmbedArtifact, type EmbedCard } from './artifact.ts';
import { tuneFusion, type FusionCard, type LexicalLeg } from './fusion.ts';
import { FOLDING } from './hashing.ts';
import { trainEmbeddings, type EmbedEpoch, type EmbedPair, type EmbedTrainConfig, type TrainedEmbeddings } from './train.ts';

/** The card's name for the dev measure early stopping read (the history's devNdcg10). */
export const EARLY_STOPPING_METRIC = Object.freeze({
  judged: 'dev nDCG@10 (judged pairs by cosine)',
  retrieval: 'dev nDCG@10 (vector retrieval, exact cosine, early stopping)',
} as const);

/** Expected gain (L1 = 0 … L5 = 4) of a judgment: the soft label's expectation where there is one. */
function expectedGain(j: StoredJudgment): number {
  if (j.soft) return j.soft.reduce((s, p, k) => s + p * k, 0);
  return j.level - 1;
}

export function embedPairs(dataset: Dataset, split: Split, judgmentSet?: string): EmbedPair[] {
  const texts = new Map(dataset.storedQueries(split).map((q) => [q.id, q.text]));
  return dataset
    .storedJudgments({ split, ...(judgmentSet ? { judgmentSet } : {}) })
    .filter((j) => texts.has(j.queryId))
    .map((j) => ({ queryId: j.queryId, queryText: texts.get(j.queryId)!, itemId: j.itemId, gain: expectedGain(j), weight: 1 }));
}

export interface TrainForDatasetOptions {
  dataset: Dataset;
  judgmentSet?: string;
  /** Teacher soft labels for pool pairs (train-split or logged queries only), at a loss weight. */
  teacher?: {
    labels: ReadonlyArray<{ queryId: string; queryText: string; itemId: string; distribution: readonly number[] }>;
    weight: number;
    name: string;
    model: string;
    promptVersion: string;
  };
  /** Candidates for a query text (e.g. BM25's top 200): unjudged ones become sampled negatives. */
  negativePool?: (queryText: string) => string[];
  negativeDepth?: number;
  /**
   * The lexical leg of `hybrid` (BM25 in the CLI): when given, the fusion's leg weights are chosen on
   * the dev split after training (fusion.ts) and recorded in the card; without it the card has no
   * fusion and `hybrid` fuses with equal weights.
   */
  lexical?: LexicalLeg;
  config?: Partial<EmbedTrainConfig>;
  /** Artifact folder (default: models/DATASET/embed beside the store). */
  dir?: string;
  onEpoch?: (e: EmbedEpoch) => void;
  onStage?: (stage: string) => void;
}

export async function trainEmbeddingsForDataset(opts: TrainForDatasetOptions): Promise<{ trained: TrainedEmbeddings; card: EmbedCard; dir: string }> {
  const { dataset } = opts;
  const { store } = dataset;
  const judgmentSet = opts.judgmentSet ?? dataset.defaultJudgmentSet;
  opts.onStage?.('pairs');
  const human = embedPairs(dataset, 'train', judgmentSet);
  const dev = embedPairs(dataset, 'dev', judgmentSet);
  if (!human.length && !opts.teacher?.labels.length) {
    throw new DistilrankError('BAD_INPUT', `the train split of ${dataset} has no judged pairs to train embeddings on`, {
      hint: 'ingest judgments for this data set (or label its pool with a teacher)',
    });
  }
  const humanKeys = new Set(human.map((p) => `${p.queryId}\0${p.itemId}`));
  const teacher: EmbedPair[] = (opts.teacher?.labels ?? [])
    .filter((l) => !humanKeys.has(`${l.queryId}\0${l.itemId}`)) // the human label wins
    .map((l) => ({
      queryId: l.queryId,
      queryText: l.queryText,
      itemId: l.itemId,
      gain: l.distribution.reduce((s, p, k) => s + p * k, 0),
      weight: opts.teacher!.weight,
    }));
  const train = [...human, ...teacher];
  const negatives = new Map<string, string[]>();
  if (opts.negativePool) {
    opts.onStage?.('negatives');
    const seen = new Set<string>();
    for (const p of [...train, ...dev]) {
      if (seen.has(p.queryId)) continue;
      seen.add(p.queryId);
      negatives.set(p.queryId, opts.negativePool(p.queryText));
    }
  }
  opts.onStage?.('loading items');
  const items = dataset.storedItems(dataset.itemIds());
  opts.onStage?.('training');
  const trained = await trainEmbeddings({
    items,
    train,
    dev,
    negatives,
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.onEpoch ? { onEpoch: opts.onEpoch } : {}),
  });
  let fusion: FusionCard | undefined;
  if (opts.lexical) {
    opts.onStage?.('fusion weights on dev');
    const qrels = splitQrels(dataset, 'dev', judgmentSet);
    const queries = dataset.storedQueries('dev').filter((q) => qrels.has(q.id));
    fusion = (await tuneFusion({ model: trained.model, itemIds: trained.itemIds, vectors: trained.vectors, queries, qrels, lexical: opts.lexical })).card;
  }
  opts.onStage?.('writing');
  const dir = opts.dir ?? defaultEmbedDir(store.path, dataset.name);
  const best = trained.history.find((h) => h.epoch === trained.bestEpoch);
  const gridRow = (bm25: number, vector: number) => fusion?.grid.find((r) => r.bm25 === bm25 && r.vector === vector);
  const retrievalMetrics: Record<string, number> = {};
  for (const [name, row] of [
    ['bm25', gridRow(1, 0)],
    ['vector', gridRow(0, 1)],
    ['hybrid, equal weights', gridRow(1, 1)],
    ['hybrid, chosen weights', fusion ? gridRow(fusion.weights.bm25, fusion.weights.vector) : undefined],
  ] as const) {
    if (!row) continue;
    retrievalMetrics[`dev nDCG@10 (retrieval, ${name})`] = row.devNdcg10;
    retrievalMetrics[`dev R(rel=3)@100 (retrieval, ${name})`] = row.devRecall100;
  }
  const card = writeEmbedArtifact(dir, trained.model, trained.config, trained.itemIds, trained.vectors, {
    dataset: dataset.name,
    judgmentSet,
    labels: teacher.length ? 'human+teacher' : 'human',
    inputs: `hashed word unigrams + bigrams and character ${trained.config.hashing.charMin}–${trained.config.hashing.charMax}-grams (code points) into ${trained.config.hashing.buckets} buckets; ${FOLDING}`,
    data: {
      splitSeed: dataset.splitSeed,
      train: { human: human.length, teacher: teacher.length, queries: new Set(train.map((p) => p.queryId)).size },
      dev: { pairs: dev.length, queries: new Set(dev.map((p) => p.queryId)).size },
      teacher: opts.teacher
        ? { name: opts.teacher.name, model: opts.teacher.model, promptVersion: opts.teacher.promptVersion, weight: opts.teacher.weight }
        : null,
      negatives: { depth: opts.negativePool ? (opts.negativeDepth ?? 0) : 0, queries: negatives.size },
    },
    training: {
      history: trained.history,
      bestEpoch: trained.bestEpoch,
      epochs: trained.history.length,
      seconds: Number(trained.seconds.toFixed(2)),
      backend: trained.backend,
    },
    metrics: { [EARLY_STOPPING_METRIC[trained.config.earlyStopping]]: best?.devNdcg10 ?? trained.history[0]?.devNdcg10 ?? 0, ...retrievalMetrics },
    ...(fusion ? { fusion } : {}),
  });
  return { trained, card, dir };
}
