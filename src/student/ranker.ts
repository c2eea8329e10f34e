/**
 * The trained student as a ranking model, in-process through ONNX Runtime. It scores candidates by
 * expected level; over the whole catalogue it re-ranks a retriever's top `candidates` (BM25's top 200
 * by default; `retriever` swaps in vector or hybrid candidates).
 * `explain` says which features pushed a pair's score up or down.
 */
import { DistilrankError, collectSliced } from '../core/index.ts';
import { Embeddings, type CacheStats } from '../embed/index.ts';
import { studentFeatureSet, type QueryItemSimilarity } from '../features/index.ts';
import { Bm25Ranker, type LevelPredictor, type Ranker, type ScoredItem } from '../retrieve/index.ts';
import type { Dataset, StoredItem } from '../store/index.ts';
import { readStudentArtifact, type ModelCard } from './artifact.ts';
import { StudentFeatures } from './features.ts';
import { OnnxScorer } from '../ml/index.ts';
import { applyLabelShift } from './train.ts';

export const DEFAULT_CANDIDATES = 200;

export interface FeatureContribution {
  feature: string;
  value: number;
  /** Change of the expected level when this feature is replaced by its training mean (signed). */
  contribution: number;
}

export interface Explanation {
  itemId: string;
  expectedLevel: number;
  probabilities: number[];
  /** Sorted by |contribution|, largest first. */
  contributions: FeatureContribution[];
}

export class StudentRanker implements Ranker, LevelPredictor {
  readonly name: string;
  readonly retriever: Ranker;

  private constructor(
    readonly card: ModelCard,
    private readonly scorer: OnnxScorer,
    private readonly extractor: StudentFeatures,
    dataset: Dataset,
    readonly candidates: number,
    retriever: Ranker | undefined,
  ) {
    this.retriever = retriever ?? new Bm25Ranker(dataset);
    this.name = `student(${card.labels})${this.retriever.name === 'bm25' ? '' : `@${this.retriever.name}`}`;
  }

  /** The embeddings the model reads (null: trained without twotower_cosine); their query cache has stats(). */
  get embedding(): QueryItemSimilarity | null {
    return this.extractor.embedding;
  }

  /** Hits and misses of the query-embedding cache (for the service's metrics); null without embeddings. */
  embeddingCacheStats(): CacheStats | null {
    const e = this.extractor.embedding;
    return e instanceof Embeddings ? e.stats() : null;
  }

  /** Load an artifact for a data set of the store; refuses artifacts of another data set or feature set. */
  static async load(
    dataset: Dataset,
    dir: string,
    opts: { candidates?: number; retriever?: Ranker; embedding?: QueryItemSimilarity } = {},
  ): Promise<StudentRanker> {
    const { card, onnx } = readStudentArtifact(dir);
    const expected = studentFeatureSet(card.embedding != null).id;
    if (card.featureSetId !== expected) {
      throw new DistilrankError('MODEL_MISMATCH', `the model was trained on feature set ${card.featureSetId}; this distilrank computes ${expected}`, {
        file: dir,
        field: 'featureSetId',
        hint: `retrain: distilrank train --dataset ${dataset}`,
      });
    }
    if (card.dataset !== dataset.name) {
      throw new DistilrankError('MODEL_MISMATCH', `the model was trained on ${card.dataset}, not ${dataset}`, {
        file: dir,
        field: 'dataset',
        hint: `its item priors and statistics belong to ${card.dataset}: train one for ${dataset} with \`distilrank train --dataset ${dataset}\``,
      });
    }
    let embedding: QueryItemSimilarity | null = null;
    if (card.embedding) {
      embedding = opts.embedding ?? Embeddings.forDataset(dataset);
      if (embedding.id !== card.embedding.id) {
        throw new DistilrankError('MODEL_MISMATCH', `the model reads embedding artifact ${card.embedding.id}, but the embeddings given are ${embedding.id}`, {
          file: dir,
          field: 'embedding',
          hint: `the embeddings were retrained after the student: retrain it (distilrank train --dataset ${dataset}), or restore embedding artifact ${card.embedding.id}`,
        });
      }
    }
    const priors = await collectSliced(dataset.store.iterateJudgments(dataset.name, { split: 'train', judgmentSet: card.judgmentSet }));
    // Built in slices: a service loading its next artifact set keeps answering meanwhile.
    const extractor = await StudentFeatures.fromStoreSliced(dataset, { priorJudgments: priors, embedding });
    const scorer = await OnnxScorer.load(onnx);
    return new StudentRanker(card, scorer, extractor, dataset, opts.candidates ?? DEFAULT_CANDIDATES, opts.retriever);
  }

  /**
   * Level distributions as a rater would judge these pairs: the model's output with the judged-pool
   * label shift of the model card applied (see labelShift in train.ts).
   */
  async predictLevels(queryText: string, itemIds: readonly string[]): Promise<Float32Array> {
    return applyLabelShift(await this.rankingProbabilities(queryText, itemIds), this.card.negatives.priorShift);
  }

  /** The model's own output, with the catalogue-wide prior it was trained with: what ranking uses. */
  async rankingProbabilities(queryText: string, itemIds: readonly string[]): Promise<Float32Array> {
    if (itemIds.length === 0) return new Float32Array(0);
    return this.scorer.predict(this.extractor.extract({ text: queryText }, itemIds), itemIds.length);
  }

  /**
   * Ranking probabilities for items outside the catalogue (free texts, as the rerank API receives
   * them), featurised against the catalogue's statistics (FeatureExtractor.adHoc). Ids must be distinct.
   */
  async rankingProbabilitiesAdHoc(queryText: string, items: readonly StoredItem[]): Promise<Float32Array> {
    if (items.length === 0) return new Float32Array(0);
    const extractor = this.extractor.adHoc(items);
    return this.scorer.predict(
      extractor.extract(
        { text: queryText },
        items.map((it) => it.id),
      ),
      items.length,
    );
  }

  async score(queryText: string, itemIds: readonly string[]): Promise<ScoredItem[]> {
    const probs = await this.rankingProbabilities(queryText, itemIds);
    return itemIds.map((itemId, i) => ({ itemId, score: expectation(probs, i) }));
  }

  async retrieve(queryText: string, k: number): Promise<ScoredItem[]> {
    const pool = (await this.retriever.retrieve(queryText, Math.max(k, this.candidates))).map((c) => c.itemId);
    const scored = await this.score(queryText, pool);
    return scored.sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? 1 : -1)).slice(0, k);
  }

  /** Occlusion: each feature in turn set to its training mean, all variants scored in one batch. */
  async explain(queryText: string, itemId: string): Promise<Explanation> {
    const names = this.extractor.names;
    const dims = names.length;
    const x = this.extractor.extract({ text: queryText }, [itemId]);
    const batch = new Float32Array((dims + 1) * dims);
    for (let r = 0; r <= dims; r++) {
      batch.set(x, r * dims);
      if (r > 0) batch[r * dims + (r - 1)] = this.card.featureMeans[r - 1] ?? 0;
    }
    const probs = await this.scorer.predict(batch, dims + 1);
    const base = expectation(probs, 0);
    const contributions = names.map((feature, j) => ({ feature, value: x[j]!, contribution: base - expectation(probs, j + 1) }));
    contributions.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
    return { itemId, expectedLevel: base, probabilities: Array.from(probs.subarray(0, 5)), contributions };
  }

  async close(): Promise<void> {
    await this.scorer.close();
  }
}

function expectation(probs: Float32Array, row: number): number {
  let e = 0;
  for (let k = 0; k < 5; k++) e += probs[row * 5 + k]! * (k + 1);
  return e;
}
