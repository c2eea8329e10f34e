/**
 * Relevance-tuned embeddings: a two-tower model on hashed word and character n-grams (no pretrained
 * weights), trained on human and teacher labels; item vectors offline in a versioned artifact with
 * an HNSW index, query vectors online behind an LRU cache. Retrieval (`vector`, `hybrid`) and the
 * student's `twotower_cosine` feature read it.
 */
export { DEFAULT_HASHING, itemBuckets, queryBuckets } from './hashing.ts';
export { exactTopK } from './model.ts';
export { DEFAULT_EMBED_CONFIG } from './train.ts';
export type { EmbedTrainConfig } from './train.ts';
export { buildIndex, defaultEmbedDir, hasEmbedArtifact, readEmbedArtifact } from './artifact.ts';
export type { EmbedCard } from './artifact.ts';
export { Embeddings, LruCache, QueryEncoder } from './embeddings.ts';
export type { CacheStats } from './embeddings.ts';
export { EARLY_STOPPING_METRIC, trainEmbeddingsForDataset } from './dataset.ts';
export { VectorRanker } from './vector-ranker.ts';
