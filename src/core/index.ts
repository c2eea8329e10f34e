/**
 * Shared leaves every layer may use: the error catalogue, the relevance scale, the seeded PRNG, atomic
 * file writes, work in slices, growable typed arrays, the paid-work SQLite sidecar opener and table
 * formatting. Nothing here imports another folder of src/.
 */
export { isDistilrankError, unknownName, ERROR_CODES, DistilrankError } from './errors.ts';
export type { ErrorCode, ErrorDetails } from './errors.ts';
export { defaultGain, isLevel, discreteMapping, linearMapping, softLabel, oneHot, expectedLevel, LEVELS, LEVEL_NAMES } from './relevance-scale.ts';
export type { Level, LevelDistribution, MappingRow, ScaleMapping } from './relevance-scale.ts';
export { mulberry32 } from './random.ts';
export { writeFileAtomic, replaceDirAtomic } from './atomic.ts';
export { runSync, runSliced, collectSliced } from './sliced.ts';
export type { Sliced } from './sliced.ts';
export { TypedList } from './typed-list.ts';
export { checkSqliteHeader, openSidecarDb } from './sidecar-db.ts';
export type { SidecarKind } from './sidecar-db.ts';
export { table, fmt } from './table.ts';
export { isRecord } from './guards.ts';
