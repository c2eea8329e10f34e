/**
 * The captions stage (enrich): synthetic image captions from a vision-language model, cached and
 * paid once, for the item text representation. Read captions through `CaptionCache.captionSource`.
 */
export { CAPTION_CACHE_APPLICATION_ID, CAPTION_CACHE_FILE, CAPTION_CACHE_SCHEMA_VERSION, CaptionCache } from './cache.ts';
export type { CaptionFilter, CaptionKey, CaptionRef, CaptionTotals, StoredCaption } from './cache.ts';
export { IMAGE_URL_COLUMN, imageUrlOf } from './image-url.ts';
export { runCaptionJob } from './caption-job.ts';
export type { CaptionFailure, CaptionItem, CaptionJobOptions, CaptionJobSummary, CaptionProgress, Captioner, UrlRefusal } from './caption-job.ts';
export {
  CAPTION_INSTRUCTION,
  CAPTION_PROMPT_VERSION,
  CAPTION_SYSTEM_PROMPT,
  MAX_CAPTION_CHARS,
  VLM_DEFAULTS,
  VLM_ENV,
  VlmCaptioner,
  cleanCaption,
  resolveVlmConfig,
  vlmConfigFromEnv,
} from './vlm.ts';
export type { CaptionAnswer, CaptionImage, ImageMode, ResolvedVlmConfig, VlmConfig } from './vlm.ts';
