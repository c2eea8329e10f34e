/**
 * Query–item features for the student: the frozen registry (names, versions, FEATURE_SET_ID) and the
 * extractor that fills feature rows for a query's candidates.
 */
export { FEATURES, FEATURE_SET_ID, TWOTOWER_FEATURE, featureIndex, featureNames, featureSetId, studentFeatureSet } from './registry.ts';
export type { FeatureSpec } from './registry.ts';
export { FeatureExtractor, findSorted } from './extractor.ts';
export type { FeatureQuery, QueryItemSimilarity } from './extractor.ts';
export { UNITS, quantitiesIn } from './quantities.ts';
export { renderFeatureReference } from './reference.ts';
