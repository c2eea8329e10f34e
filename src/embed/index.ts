/**
 * Relevance-tuned embeddings: a two-tower model on hashed word and character n-grams (no pretrained
 * weights), trained on human and teacher labels; item vectors offline in a versioned artifact with
 * an HNSW index, query vectors online behind an LRU cache. Retrieval (`vector`, `hybrid`) and the
 * student's `twotower_cosine` feature read it.
 */
export { DEFAULT_HASHING, itemBuckets, queryBuckets } from './hashing.ts';
export type { HashingConfig } from './hashing.ts';
export { encodeBuckets, encodeItems, exactTopK } from './model.ts';
export type { TowerWeights, TwoTowerConfig, TwoTowerWeights } from './model.ts';
export { DEFAULT_EMBED_CONFIG, trainEmbeddings } from './train.ts';
export type { EmbedEpoch, EmbedPair, EmbedTrainConfig, TrainEmbeddingsInput, TrainedEmbeddings } from './train.ts';
export { EMBED_FORMAT, EMBED_FORMAT_VERSION, INDEX_CONFIG, buildIndex, defaultEmbedDir, hasEmbedArtifact, readEmbedArtifact, writeEmbedArtifact } from './artifact.ts';
export type { EmbedArtifact, EmbedCard, EmbedCardInput } from './artifact.ts';
export { DEFAULT_QUERY_CACHE, Embeddings, LruCache, MAX_QUERY_CHARS, QueryEncoder } from './embeddings.ts';
export type { CacheStats, VectorHit } from './embeddings.ts';
export { EARLY_STOPPING_METRIC, embedPairs, trainEmbeddingsForDataset } from './dataset.ts';
export { argmaxFusion, tuneFusion } from './fusion.ts';
export type { FusionCard, LexicalLeg, TuneFusionInput, TunedFusion } from './fusion.ts';
export type { TrainForDatasetOptions } from './dataset.ts';
