/** Relevance scales: the five levels, native-scale mappings, gains and soft labels. */
export {
  LEVELS,
  LEVEL_NAMES,
  defaultGain,
  discreteMapping,
  expectedLevel,
  isLevel,
  linearMapping,
  oneHot,
  softLabel,
} from './scale.ts';
export type { Level, LevelDistribution, MappingRow, ScaleMapping } from './scale.ts';
