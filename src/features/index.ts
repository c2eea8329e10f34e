/**
 * Query–item features for the student: the frozen registry (names, versions, FEATURE_SET_ID) and the
 * extractor that fills feature rows for a query's candidates.
 */
export { FEATURES, FEATURE_SET_ID, TWOTOWER_FEATURE, featureIndex, featureNames, featureSetId, studentFeatureSet } from './registry.ts';
export type { FeatureGroup, FeatureSpec } from './registry.ts';
export { BM25_B, BM25_K1, FeatureExtractor, PRIOR_STRENGTH, findSorted } from './extractor.ts';
export type { ExtractorOptions, FeatureQuery, QueryItemSimilarity } from './extractor.ts';
export { UNITS, numbersIn, quantitiesIn } from './quantities.ts';
export type { Quantity } from './quantities.ts';
export { renderFeatureReference } from './reference.ts';
