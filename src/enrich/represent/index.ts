/**
 * The enrich stage's item text representation: which fields an item is shown with (title,
 * description, brand, attributes, caption, engaged-query tokens, board titles, link text), in what
 * order and budget; user-action text aggregated from search logs with a leakage-proof cut-off;
 * and simulated logs for data sets without any. (The field ablation is a study: src/studies.)
 */
export {
  ABLATION_BUDGETS,
  ABLATION_ORDER,
  ACTION_SOURCES,
  BUILDER_VERSION,
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_MAX_CHARS,
  DEFAULT_REPRESENTATION,
  DEFAULT_REPRESENTATION_ID,
  FIELD_SOURCES,
  FIELD_SOURCE_NAMES,
  normaliseRepresentation,
  readRepresentation,
  representationId,
  representationOf,
  validateRepresentation,
} from './config.ts';
export type { FieldSource, FieldSpec, RepresentationConfig } from './config.ts';
export { brandOf, buildItemText, fieldLines, projectItem } from './builder.ts';
export type { ActionTextSource, CaptionSource, FieldSources, ItemActionText } from './builder.ts';
export {
  AggregatedActions,
  DEFAULT_ACTION_WEIGHTS,
  DEFAULT_LONG_CLICK_MS,
  DEFAULT_TOP_TOKENS,
  EXTRA_KEYS,
  aggregateActions,
  evaluationQueryTexts,
  queryKey,
  storedActions,
} from './actions.ts';
export type { ActionEvent, ActionWeights, AggregateOptions, AggregateStats } from './actions.ts';
export { CLICK_BY_LEVEL, DEFAULT_SIMULATED_EVENTS, DEFAULT_SIMULATION_START, ETA, LONG_BY_LEVEL, SAVE_BY_LEVEL, UNJUDGED, simulateLogs } from './simulate.ts';
export type { SimulateOptions, Simulation } from './simulate.ts';
