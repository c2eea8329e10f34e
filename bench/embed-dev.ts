/**
 * Dev-split comparison of embedding training configurations (what docs/design.md's table of variants
 * was measured with): ingest a data set into a temporary store, train the two-tower embeddings with the
 * given config (JSON in EMBED_CONFIG, merged over DEFAULT_EMBED_CONFIG), choose the hybrid fusion's
 * weights on dev, and print the card's dev metrics — vector retrieval by exact cosine, BM25, equal and
 * chosen hybrid — and every fusion weight's dev nDCG@10 and R(rel=3)@100. Reads no test split.
 * Run: `npx tsx bench/embed-dev.ts home-depot` (e.g. EMBED_CONFIG='{"selfPairs":0,"epochs":3}').
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { DEFAULT_EMBED_CONFIG, trainEmbeddingsForDataset, type EmbedTrainConfig } from '../src/embed/index.ts';
import { Bm25Ranker, negativePool } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const name = process.argv[2] ?? 'home-depot';
const config = JSON.parse(process.env.EMBED_CONFIG ?? '{}') as Partial<EmbedTrainConfig>;
const stopping = { ...DEFAULT_EMBED_CONFIG, ...config }.earlyStopping;
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-embed-dev-'));
console.log(`distilrank embedding dev comparison — ${new Date().toISOString()}; ${cpus().length} cores; ${name}, DEV split`);
console.log(`config: ${JSON.stringify({ ...DEFAULT_EMBED_CONFIG, ...config })}`);
try {
  const store = Store.open(join(work, 'store.sqlite'), { create: true });
  store.ingest(DATASETS[name]!.load(await resolveDatasetDir(name, { dataDir, download: false })));
  const dataset = store.dataset(name);
  const t0 = performance.now();
  const { card } = await trainEmbeddingsForDataset({
    dataset,
    dir: join(work, 'embed'),
    negativePool: negativePool(dataset, 200),
    negativeDepth: 200,
    lexical: new Bm25Ranker(dataset),
    config,
    onEpoch: (e) =>
      console.log(
        `epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}, dev nDCG@10 (${stopping}) ${e.devNdcg10.toFixed(4)}, ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      ),
  });
  console.log(`best epoch ${card.training.bestEpoch} of ${card.training.epochs}; ${((performance.now() - t0) / 1000).toFixed(0)} s with the fusion tuning`);
  for (const [k, v] of Object.entries(card.metrics)) console.log(`${k}: ${v.toFixed(4)}`);
  if (card.fusion) {
    console.log(`fusion weights (bm25/vector) chosen: ${card.fusion.weights.bm25}/${card.fusion.weights.vector}, on ${card.fusion.queries} dev queries`);
    for (const g of card.fusion.grid) console.log(`  ${g.bm25}/${g.vector}: nDCG@10 ${g.devNdcg10.toFixed(4)}, R(rel=3)@100 ${g.devRecall100.toFixed(4)}`);
  }
  store.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}
