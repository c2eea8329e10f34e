/** Built-in data sets: adapters, native scales with their mappings, and public-source downloads. */
export { DATASETS, datasetAdapter } from './registry.ts';
export type { DatasetAdapter } from './registry.ts';
export { CRANFIELD_CODES, HOME_DEPOT_MEAN_1_3, NAMED_SCALES, QUEPID_0_3, parseScale } from './scales.ts';
export { resolveDatasetDir } from './download.ts';
export { queryIdFor, normaliseQueryText } from './adapters/common.ts';
