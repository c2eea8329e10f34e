/**
 * `distilrank enrich …`: the item text representation's enrichments. `enrich captions` asks a
 * vision-language model for a caption of each item's image (cached, budgeted, resumable).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  CaptionCache,
  imageUrlOf,
  runCaptionJob,
  VlmCaptioner,
  vlmConfigFromEnv,
  type CaptionItem,
  DEFAULT_IMAGE_TIMEOUT_MS,
  DEFAULT_MAX_IMAGE_BYTES,
} from '../enrich/index.ts';
import { DistilrankError } from '../core/index.ts';
import { DEFAULT_CONCURRENCY } from '../jobs/index.ts';
import type { Dataset } from '../store/index.ts';
import { note, positiveInt, storeWithDataset, type GlobalOptions } from './common.ts';
import { createProgress } from './progress.ts';

/** Every item of a data set with its image URL (null when it has none), read in chunks. */
function captionItems(dataset: Dataset, field: string | undefined): CaptionItem[] {
  const ids = dataset.itemIds();
  const out: CaptionItem[] = [];
  for (let i = 0; i < ids.length; i += 2000) {
    for (const it of dataset.storedItems(ids.slice(i, i + 2000))) out.push({ itemId: it.id, imageUrl: imageUrlOf(it, field) });
  }
  return out;
}

interface CaptionsOptions {
  dataset: string;
  model?: string;
  imageField?: string;
  concurrency: number;
  maxCalls?: number;
  maxTokens?: number;
  maxUsd?: number;
  allowPrivateUrls?: boolean;
  maxImageBytes: number;
  imageTimeoutMs: number;
  cache?: string;
}

export function registerEnrichCommands(program: Command, g: () => GlobalOptions): void {
  const enrich = program.command('enrich').description('enrich the item text representation (image captions from a vision-language model)');

  enrich
    .command('captions')
    .description(
      'caption each item image with a vision-language model (OpenAI-compatible endpoint, DISTILRANK_VLM_*): images fetched under SSRF rules, captions cached and paid once, budgeted, resumable',
    )
    .requiredOption('--dataset <name>', 'data set')
    .option('--model <name>', 'VLM model name (default: DISTILRANK_VLM_MODEL)')
    .option(
      '--image-field <name>',
      'where the image URL is: image_url (the column) or the name of a field or attribute (default: the column, else a field that looks like an image URL)',
    )
    .option('--concurrency <n>', 'calls in flight', positiveInt('concurrency'), DEFAULT_CONCURRENCY)
    .option('--max-calls <n>', 'budget: calls in this run', positiveInt('max-calls'))
    .option('--max-tokens <n>', 'budget: input + output tokens in this run', positiveInt('max-tokens'))
    .option('--max-usd <x>', 'budget: money in this run, at the configured prices', (v) => Number(v))
    .option('--allow-private-urls', 'let image URLs reach private, loopback and link-local addresses (an intranet catalogue; never for untrusted data)')
    .option('--max-image-bytes <n>', 'largest image downloaded', positiveInt('max-image-bytes'), DEFAULT_MAX_IMAGE_BYTES)
    .option('--image-timeout-ms <n>', 'time limit of one image download', positiveInt('image-timeout-ms'), DEFAULT_IMAGE_TIMEOUT_MS)
    .option('--cache <file>', 'caption cache (default: captions.sqlite beside the store)')
    .action(async (o: CaptionsOptions) => {
      if (o.maxUsd !== undefined && !(o.maxUsd > 0)) {
        throw new DistilrankError('BAD_OPTION', `--max-usd must be a positive number, got ${o.maxUsd}`, { field: 'max-usd', hint: 'e.g. --max-usd 5' });
      }
      const captioner = new VlmCaptioner(vlmConfigFromEnv(process.env, o.model ? { model: o.model } : {}));
      const store = await storeWithDataset(g(), o.dataset);
      const cache = CaptionCache.open(resolve(o.cache ?? CaptionCache.defaultPath(store.path)), { create: true });
      try {
        const items = captionItems(store.dataset(o.dataset), o.imageField);
        note(
          g(),
          `VLM ${captioner.model} (prompt ${captioner.promptVersion}, images sent as ${captioner.config.imageMode === 'url' ? 'URLs' : 'data: URLs'}); ${items.length} items; cache ${cache.path}`,
        );
        const bar = createProgress(`captions ${o.dataset}`, g().quiet);
        const controller = new AbortController();
        const stop = () => controller.abort();
        process.once('SIGINT', stop);
        const s = await runCaptionJob({
          cache,
          captioner,
          dataset: o.dataset,
          items,
          fetch: { allowPrivate: Boolean(o.allowPrivateUrls), maxBytes: o.maxImageBytes, timeoutMs: o.imageTimeoutMs },
          concurrency: o.concurrency,
          budget: { ...(o.maxCalls ? { calls: o.maxCalls } : {}), ...(o.maxTokens ? { tokens: o.maxTokens } : {}), ...(o.maxUsd ? { usd: o.maxUsd } : {}) },
          signal: controller.signal,
          onProgress: (p) => bar.update(p.items - p.total + p.succeeded + p.skipped + p.failed + p.late, p.items),
        }).finally(() => {
          process.off('SIGINT', stop);
          bar.stop();
        });
        const c = s.cost;
        const settled = s.captioned + s.sameImage + s.refusedByModel + s.urlRefused + s.failed;
        console.log(
          `${o.dataset}: ${s.items} items — ${s.captioned} captioned now, ${s.cached} already cached, ${s.sameImage} same image as a cached one, ` +
            `${s.duplicates} duplicate URLs, ${s.noImage} without an image, ${s.refusedByModel} refused by the model, ${s.urlRefused} image URLs refused, ` +
            `${s.failed} failed, ${s.remaining} remaining; stopped: ${s.stoppedBy}`,
        );
        console.log(
          `cost of this run: ${c.calls} calls, ${c.inputTokens} input + ${c.outputTokens} output tokens, $${c.usd.toFixed(4)}; ` +
            `${(s.elapsedSeconds > 0 ? settled / s.elapsedSeconds : 0).toFixed(1)} items/s over ${s.elapsedSeconds.toFixed(1)} s`,
        );
        for (const r of s.urlRefusals.slice(0, 5)) note(g(), `  image refused (${r.reason}) for item ${r.itemId}: ${r.message}`);
        for (const f of s.failures.slice(0, 5)) note(g(), `  failed (${f.kind}) item ${f.itemId}: ${f.message}`);
        if (s.stoppedBy === 'fatal') {
          throw new DistilrankError('CAPTIONER_FAILED', `the VLM endpoint stopped the job: ${s.error?.message ?? 'unknown error'}`, {
            field: 'DISTILRANK_VLM_BASE_URL',
            hint: 'fix the endpoint settings (DISTILRANK_VLM_*) and run the same command again: captions already paid for are kept',
          });
        }
      } finally {
        cache.close();
        store.close();
      }
    });
}
