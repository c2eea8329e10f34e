/**
 * The student's feature rows: the registry's features, minus the two-tower cosine when the student
 * has no embedding artifact (studentFeatureSet) — the column is dropped, not zero-filled, and the
 * model card's feature set id says which set the model reads.
 */
import {
  FEATURES,
  FeatureExtractor,
  TWOTOWER_FEATURE,
  studentFeatureSet,
  type FeatureQuery,
  type FeatureSpec,
  type QueryItemSimilarity,
} from '../features/index.ts';
import { DistilrankError } from '../core/index.ts';
import type { Dataset, StoredItem, StoredJudgment } from '../store/index.ts';

/** What training rows and the ranker need from a feature source. */
export interface RowSource {
  readonly names: readonly string[];
  has(itemId: string): boolean;
  extract(query: FeatureQuery, itemIds: readonly string[]): Float32Array;
}

export class StudentFeatures implements RowSource {
  readonly names: readonly string[];
  readonly specs: readonly FeatureSpec[];
  readonly featureSetId: string;
  private readonly keep: Int32Array | null;

  private constructor(
    private readonly extractor: FeatureExtractor,
    readonly embedding: QueryItemSimilarity | null,
  ) {
    const set = studentFeatureSet(embedding !== null);
    this.specs = set.specs;
    this.featureSetId = set.id;
    this.names = Object.freeze(set.specs.map((f) => f.name));
    this.keep = embedding ? null : Int32Array.from(FEATURES.flatMap((f, j) => (f.name === TWOTOWER_FEATURE ? [] : [j])));
  }

  static fromStore(dataset: Dataset, opts: { priorJudgments: readonly StoredJudgment[]; embedding: QueryItemSimilarity | null }): StudentFeatures {
    const extractor = FeatureExtractor.fromStore(dataset, { priorJudgments: opts.priorJudgments, ...(opts.embedding ? { embedding: opts.embedding } : {}) });
    return new StudentFeatures(extractor, opts.embedding);
  }

  /** fromStore in slices, the event loop running between them (a serving process stays responsive). */
  static async fromStoreSliced(
    dataset: Dataset,
    opts: { priorJudgments: readonly StoredJudgment[]; embedding: QueryItemSimilarity | null },
  ): Promise<StudentFeatures> {
    const extractor = await FeatureExtractor.fromStoreSliced(dataset, {
      priorJudgments: opts.priorJudgments,
      ...(opts.embedding ? { embedding: opts.embedding } : {}),
    });
    return new StudentFeatures(extractor, opts.embedding);
  }

  /**
   * Features for items outside the catalogue (free texts), against the catalogue's statistics. For a
   * student that reads the two-tower cosine, the embeddings compute the free texts' item vectors with
   * their item tower (QueryItemSimilarity.adHoc); a similarity that cannot embed texts is refused.
   */
  adHoc(items: readonly StoredItem[]): StudentFeatures {
    if (this.embedding && !this.embedding.adHoc) {
      throw new DistilrankError(
        'MODEL_MISMATCH',
        `this student reads the two-tower cosine, and its similarity (${this.embedding.id}) cannot embed free-text documents (no item vector)`,
        {
          field: 'model',
          hint: 'rerank free texts with a student trained with the embeddings of distilrank embed, or without the embedding feature, or search the catalogue instead',
        },
      );
    }
    return new StudentFeatures(this.extractor.adHoc(items), this.embedding);
  }

  has(itemId: string): boolean {
    return this.extractor.has(itemId);
  }

  extract(query: FeatureQuery, itemIds: readonly string[]): Float32Array {
    const full = this.extractor.extract(query, itemIds);
    const keep = this.keep;
    if (!keep) return full;
    const all = FEATURES.length;
    const w = keep.length;
    const out = new Float32Array(itemIds.length * w);
    for (let r = 0; r < itemIds.length; r++) for (let j = 0; j < w; j++) out[r * w + j] = full[r * all + keep[j]!]!;
    return out;
  }
}
