/**
 * Vector retrieval over the data set's relevance-tuned embeddings (src/embed): ANN search in the
 * artifact's usearch HNSW index (cosine); `score` is the exact cosine of given candidates.
 */
import { Embeddings, type CacheStats } from './embeddings.ts';
import type { Dataset } from '../store/index.ts';
import type { Ranker, ScoredItem } from '../retrieve/index.ts';

export class VectorRanker implements Ranker {
  readonly name = 'vector';

  constructor(readonly embeddings: Embeddings) {}

  /** The data set's default embedding artifact (FILE_NOT_FOUND with a hint when there is none). */
  static forDataset(dataset: Dataset): VectorRanker {
    return new VectorRanker(Embeddings.forDataset(dataset));
  }

  retrieve(queryText: string, k: number): ScoredItem[] {
    return this.embeddings.search(queryText, k);
  }

  score(queryText: string, itemIds: readonly string[]): ScoredItem[] {
    const c = this.embeddings.cosines(queryText, itemIds);
    return itemIds.map((itemId, i) => ({ itemId, score: c[i]! }));
  }

  /** The query-embedding cache's hits and misses (the service exports them as metrics). */
  stats(): CacheStats {
    return this.embeddings.stats();
  }
}
