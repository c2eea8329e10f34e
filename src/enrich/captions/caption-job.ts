/**
 * The captions job: for each item with an image URL, download the image under the URL rules of
 * src/enrich/net, ask the VLM for a caption, and commit it to the caption cache the moment it arrives. The
 * shared job core (src/jobs) gives it the labelling job's discipline: bounded concurrency, retries
 * with backoff (429 honouring Retry-After, 5xx, timeouts), a budget, progress, a graceful stop.
 *
 * Resumable by construction: an item whose caption ref (same model, prompt version and URL) is in
 * the cache is neither downloaded nor requested again; an image whose bytes were captioned before
 * (under another item or URL) is not paid again. Only calls in flight when the process dies can be
 * paid twice (at most `concurrency`).
 *
 * Counting: every item lands in exactly one of noImage, cached, duplicates (same URL as an earlier
 * item of the run, settled with it) and, per distinct URL, captioned, sameImage, refusedByModel,
 * urlRefused, failed or remaining.
 *
 * Image failures: a URL the rules refuse (bad scheme, private address, too large, not an image,
 * too many redirects) settles the item as `urlRefused` — not cached, so a later run with other
 * settings tries again; a transient failure (DNS, network, timeout, HTTP error) is retried like a
 * failed call but costs nothing.
 */
import {
  runJobCore,
  checkJobOptions,
  jobSettings,
  type CoreProgress,
  type JobSettings,
  type StopReason,
  CallError,
  ZERO_COST,
  type CallCost,
  type CallErrorKind,
} from '../../jobs/index.ts';
import { fetchImage, ImageFetchError, TRANSIENT_FETCH_FAILURES, type FetchImageOptions, type FetchedImage, type ImageFetchFailure } from '../net/index.ts';
import type { CaptionCache, CaptionKey, CaptionRef } from './cache.ts';
import type { CaptionAnswer, CaptionImage } from './vlm.ts';

/** What the job needs of a captioner (VlmCaptioner is one). */
export interface Captioner {
  readonly model: string;
  readonly promptVersion: string;
  caption(image: CaptionImage, signal?: AbortSignal): Promise<CaptionAnswer>;
}

export interface CaptionItem {
  itemId: string;
  /** The item's image URL, or null when it has none. */
  imageUrl: string | null;
}

export interface CaptionProgress extends CoreProgress {
  /** Items given to the job (with and without images). */
  items: number;
}

export interface UrlRefusal {
  itemId: string;
  url: string;
  reason: ImageFetchFailure;
  message: string;
}

export interface CaptionFailure {
  itemId: string;
  kind: CallErrorKind;
  message: string;
}

export interface CaptionJobSummary {
  items: number;
  /** Items without an image URL: skipped. */
  noImage: number;
  /** Items already captioned (same model, prompt and URL) before this run. */
  cached: number;
  /** Items sharing an image URL with an earlier item of this run: answered by its caption. */
  duplicates: number;
  /** Items captioned by a paid call in this run. */
  captioned: number;
  /** Items whose image bytes were already captioned (another URL or item): no call. */
  sameImage: number;
  /** Items the model refused to caption (the refusal is cached: it was paid for). */
  refusedByModel: number;
  /** Items whose URL the image rules refused (not cached). */
  urlRefused: number;
  /** Items that exhausted their attempts (not cached: a later run tries again). */
  failed: number;
  /** Items not settled because the job stopped (budget, fatal, abort). */
  remaining: number;
  stoppedBy: StopReason;
  cost: CallCost;
  attempts: number;
  elapsedSeconds: number;
  /** Seconds spent waiting on the VLM endpoint, summed over calls (≥ wall time when calls overlap). */
  endpointSeconds: number;
  /** Seconds spent downloading images, summed. */
  fetchSeconds: number;
  failures: CaptionFailure[];
  urlRefusals: UrlRefusal[];
  error?: CaptionFailure;
}

export interface CaptionJobOptions extends JobSettings {
  cache: CaptionCache;
  captioner: Captioner;
  dataset: string;
  items: readonly CaptionItem[];
  /** Rules of the image download (allowPrivate, limits). */
  fetch?: Omit<FetchImageOptions, 'signal'>;
  onProgress?: (p: CaptionProgress) => void;
}

interface Task {
  url: string;
  refs: CaptionRef[];
}

const MAX_KEPT = 100;

/** An image-download failure the core retries without counting a call. */
class FetchRetry extends CallError {
  readonly unbilled = true;
}

export async function runCaptionJob(opts: CaptionJobOptions): Promise<CaptionJobSummary> {
  checkJobOptions(opts);
  const { cache, captioner, dataset } = opts;
  const model = captioner.model;
  const promptVersion = captioner.promptVersion;

  let noImage = 0;
  let cached = 0;
  let duplicates = 0;
  const tasks = new Map<string, Task>();
  for (const it of opts.items) {
    const url = it.imageUrl?.trim();
    if (!url) {
      noImage += 1;
      continue;
    }
    if (cache.refOf(dataset, it.itemId, model, promptVersion)?.imageUrl === url) {
      cached += 1;
      continue;
    }
    const ref: CaptionRef = { dataset, itemId: it.itemId, imageUrl: url };
    const task = tasks.get(url);
    if (task) {
      task.refs.push(ref);
      duplicates += 1;
    } else tasks.set(url, { url, refs: [ref] });
  }
  const todo = [...tasks.values()];

  let sameImage = 0;
  let refusedByModel = 0;
  let captioned = 0;
  let urlRefused = 0;
  let endpointSeconds = 0;
  let fetchSeconds = 0;
  const urlRefusals: UrlRefusal[] = [];

  const attempt = async (task: Task, n: number, signal: AbortSignal) => {
    let image: FetchedImage;
    const t0 = performance.now();
    try {
      image = await fetchImage(task.url, { ...opts.fetch, signal });
    } catch (e) {
      if (!(e instanceof ImageFetchError)) throw e;
      if (TRANSIENT_FETCH_FAILURES.has(e.reason)) throw new FetchRetry(e.reason === 'timeout' ? 'timeout' : 'server', `image ${e.message}`);
      urlRefused += 1;
      if (urlRefusals.length < MAX_KEPT) urlRefusals.push({ itemId: task.refs[0]!.itemId, url: task.url, reason: e.reason, message: e.message });
      return { cost: { ...ZERO_COST }, outcome: 'skipped' as const };
    } finally {
      fetchSeconds += (performance.now() - t0) / 1000;
    }
    const key: CaptionKey = { model, promptVersion, imageHash: image.sha256 };
    if (cache.has(key)) {
      cache.addRefs(task.refs.map((ref) => ({ key, ref })));
      sameImage += 1;
      return { cost: { ...ZERO_COST } };
    }
    const t1 = performance.now();
    let answer: CaptionAnswer;
    try {
      answer = await captioner.caption({ bytes: image.bytes, contentType: image.contentType, url: image.finalUrl }, signal);
    } finally {
      endpointSeconds += (performance.now() - t1) / 1000;
    }
    cache.put(key, { ...answer, contentType: image.contentType }, task.refs[0]!, n);
    cache.addRefs(task.refs.slice(1).map((ref) => ({ key, ref })));
    if (answer.caption === null) refusedByModel += 1;
    else captioned += 1;
    return { cost: answer.cost };
  };

  const core = await runJobCore<Task>({
    tasks: todo,
    attempt,
    alreadyDone: (task) => task.refs.every((r) => cache.refOf(dataset, r.itemId, model, promptVersion)?.imageUrl === task.url),
    ...jobSettings(opts),
    ...(opts.onProgress ? { onProgress: (p: CoreProgress) => opts.onProgress!({ ...p, items: opts.items.length }) } : {}),
  });
  const failureOf = (f: { task: Task; kind: CallErrorKind; message: string }): CaptionFailure => ({
    itemId: f.task.refs[0]!.itemId,
    kind: f.kind,
    message: f.message,
  });
  const summary: CaptionJobSummary = {
    items: opts.items.length,
    noImage,
    cached: cached + core.late,
    duplicates,
    captioned,
    sameImage,
    refusedByModel,
    urlRefused,
    failed: core.failed,
    remaining: core.remaining,
    stoppedBy: core.stoppedBy,
    cost: core.cost,
    attempts: core.attempts,
    elapsedSeconds: core.elapsedSeconds,
    endpointSeconds,
    fetchSeconds,
    failures: core.failures.map(failureOf),
    urlRefusals,
  };
  if (core.error) summary.error = failureOf(core.error);
  return summary;
}
