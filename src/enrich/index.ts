/**
 * The enrich stage: what an item is shown as beyond its catalogue fields — the item text
 * representation and user-action text from search logs (represent/), synthetic image captions from a
 * vision-language model (captions/), and the SSRF-safe fetcher for untrusted image URLs (net/).
 */
export {
  ABLATION_ORDER,
  ACTION_SOURCES,
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_REPRESENTATION,
  DEFAULT_REPRESENTATION_ID,
  FIELD_SOURCE_NAMES,
  readRepresentation,
  representationId,
  representationOf,
  buildItemText,
  projectItem,
  AggregatedActions,
  DEFAULT_LONG_CLICK_MS,
  storedActions,
  DEFAULT_SIMULATED_EVENTS,
  simulateLogs,
} from './represent/index.ts';
export type { FieldSource, RepresentationConfig, FieldSources } from './represent/index.ts';
export { CaptionCache, imageUrlOf, runCaptionJob, VlmCaptioner, vlmConfigFromEnv } from './captions/index.ts';
export type { CaptionItem } from './captions/index.ts';
export { DEFAULT_IMAGE_TIMEOUT_MS, DEFAULT_MAX_IMAGE_BYTES } from './net/index.ts';
