/** Network access to untrusted URLs (catalogue image fields): SSRF-safe, size- and time-limited. */
export {
  DEFAULT_IMAGE_TIMEOUT_MS,
  DEFAULT_MAX_IMAGE_BYTES,
  DEFAULT_MAX_REDIRECTS,
  ImageFetchError,
  TRANSIENT_FETCH_FAILURES,
  fetchImage,
  isBlockedAddress,
} from './fetch-image.ts';
export type { FetchImageOptions, FetchedImage, ImageFetchFailure } from './fetch-image.ts';
