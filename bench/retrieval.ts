/**
 * Retrieval benchmark: for each data set, train the two-tower embeddings (train split, early stop on
 * dev) and a student that reads their cosine, then on the TEST split, in one run: recall@100 of BM25,
 * vector and hybrid against the judged relevant items (L4 and up: R(rel=3)@100, docs/metrics.md), and
 * nDCG@10 of the retrieval protocol for each retriever alone and with the student re-ranking its top
 * 200 (with the twotower_cosine feature, and without it: the lexical feature set); query-embedding latency p50/p99 on one core (cold: cache miss; cached: hit), the cache hit
 * rate on a replay of the test queries with repeats, the index build time and memory.
 * Run: `npm run bench:retrieval [data sets…]` (EMBED_EPOCHS=n to cap the embedding epochs). Never
 * part of `npm test`.
 *
 * The replay: 10 × (number of test queries) draws, seeded, each picking a test query by a Zipf law
 * (s = 1) over a seeded shuffle of the queries — a few head queries repeat often, most are rare, as
 * in search logs — against an LRU of 1,000 queries (smaller than the distinct queries replayed).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fmt, table, mulberry32 } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { DEFAULT_EMBED_CONFIG, Embeddings, QueryEncoder, readEmbedArtifact, trainEmbeddingsForDataset, VectorRanker } from '../src/embed/index.ts';
import { evaluate, percentile } from '../src/eval/index.ts';
import { Bm25Ranker, EQUAL_WEIGHTS, HybridRanker, negativePool, type Ranker } from '../src/retrieve/index.ts';
import { fusionWeightsOf } from '../src/models/index.ts';
import { Store } from '../src/store/index.ts';
import { StudentRanker, trainStudent, writeStudentArtifact } from '../src/student/index.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = only.length ? only : ['home-depot', 'icecat-chorus'];
const epochs = process.env.EMBED_EPOCHS ? Number(process.env.EMBED_EPOCHS) : DEFAULT_EMBED_CONFIG.epochs;
const REPLAY_FACTOR = 10;
const REPLAY_CACHE = 1000;
const MEASURES = ['nDCG@10', 'R(rel=3)@100'];
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-retrieval-'));
const cpu = cpus();
const t00 = performance.now();

console.log(`distilrank retrieval benchmark — ${new Date().toISOString()}`);
console.log(`machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
console.log(`data: ${dataDir}; TEST split of each data set (seeded 70/10/20 by query); relevant = L4 and up (rel=3); gains linear L1=0 … L5=4\n`);

const quality: string[][] = [];
const speed: string[][] = [];

try {
  for (const name of names) {
    const store = Store.open(join(work, `${name}.sqlite`), { create: true });
    store.ingest(DATASETS[name]!.load(await resolveDatasetDir(name, { dataDir, download: false })));
    const dataset = store.dataset(name);
    const rss0 = process.memoryUsage().rss;
    const te = performance.now();
    const { card, dir } = await trainEmbeddingsForDataset({
      dataset,
      negativePool: negativePool(dataset, 200),
      negativeDepth: 200,
      lexical: new Bm25Ranker(dataset),
      config: { epochs },
      onEpoch: (e) => process.stderr.write(`${name}: embed epoch ${e.epoch} dev nDCG@10 ${e.devNdcg10.toFixed(4)}\n`),
    });
    const embedSeconds = (performance.now() - te) / 1000;
    const embeddings = Embeddings.forDataset(dataset);
    const rssEmbed = process.memoryUsage().rss;
    const ts = performance.now();
    const student = await trainStudent({ dataset, embedding: embeddings });
    const studentDir = join(work, `${name}-student`);
    writeStudentArtifact(studentDir, student.onnx, student.card);
    const studentSeconds = (performance.now() - ts) / 1000;
    // The same student without the embedding feature (the lexical feature set), for the ablation column.
    const lexical = await trainStudent({ dataset, embedding: null });
    const lexicalDir = join(work, `${name}-student-lexical`);
    writeStudentArtifact(lexicalDir, lexical.onnx, lexical.card);
    process.stderr.write(`${name}: embeddings ${embedSeconds.toFixed(0)} s, student ${studentSeconds.toFixed(0)} s\n`);

    const bm25 = new Bm25Ranker(dataset);
    const vector = new VectorRanker(embeddings);
    const weights = fusionWeightsOf(vector);
    if (card.fusion)
      process.stderr.write(
        `${name}: fusion weights bm25 ${weights.bm25}, vector ${weights.vector}; dev nDCG@10 by weight: ${card.fusion.grid.map((g) => `${g.bm25}/${g.vector} ${g.devNdcg10.toFixed(4)}`).join(', ')}\n`,
      );
    // hybrid: the weights chosen on dev (the card's), as `--model hybrid` fuses; hybrid=: plain RRF with equal weights, for comparison.
    const retrievers: Array<[string, Ranker]> = [
      ['bm25', bm25],
      ['vector', vector],
      [`hybrid ${weights.bm25}/${weights.vector}`, new HybridRanker(bm25, vector, { weights })],
      ['hybrid 1/1 (equal)', new HybridRanker(bm25, vector, { weights: EQUAL_WEIGHTS })],
    ];
    for (const [label, r] of retrievers) {
      const alone = await evaluate({ dataset, split: 'test', protocol: 'retrieval', ranker: r, measures: MEASURES });
      const reranked = await StudentRanker.load(dataset, studentDir, { retriever: r, embedding: embeddings });
      const withStudent = await evaluate({ dataset, split: 'test', protocol: 'retrieval', ranker: reranked, measures: MEASURES });
      await reranked.close();
      const lexicalRanker = await StudentRanker.load(dataset, lexicalDir, { retriever: r });
      const withLexical = await evaluate({ dataset, split: 'test', protocol: 'retrieval', ranker: lexicalRanker, measures: MEASURES });
      await lexicalRanker.close();
      quality.push([
        name,
        label,
        String(alone.report.queries),
        fmt(alone.report.metrics['R(rel=3)@100']!),
        fmt(alone.report.metrics['nDCG@10']!),
        fmt(withStudent.report.metrics['nDCG@10']!),
        fmt(withLexical.report.metrics['nDCG@10']!),
        fmt(alone.report.latencyMs.p50, 2),
        fmt(withStudent.report.latencyMs.p50, 2),
      ]);
      process.stderr.write(`${name}: ${label} done\n`);
    }

    // Query-embedding latency, one core: cold (a fresh encoder: every query a miss) and cached.
    const tests = store.queries(name, 'test').map((q) => q.text);
    const art = readEmbedArtifact(dir);
    const encoder = new QueryEncoder(art.model, tests.length + 1);
    const cold: number[] = [];
    const warm: number[] = [];
    for (const t of tests) {
      const a = performance.now();
      encoder.encode(t);
      cold.push(performance.now() - a);
    }
    for (const t of tests) {
      const a = performance.now();
      encoder.encode(t);
      warm.push(performance.now() - a);
    }
    // Replay with repeats (see the header): Zipf(1) over a seeded shuffle, LRU of REPLAY_CACHE.
    const rand = mulberry32(2024);
    const order = [...new Set(tests)];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const cdf: number[] = [];
    let z = 0;
    for (let r = 1; r <= order.length; r++) cdf.push((z += 1 / r));
    const replay = new QueryEncoder(art.model, REPLAY_CACHE);
    const draws = REPLAY_FACTOR * tests.length;
    for (let i = 0; i < draws; i++) {
      const u = rand() * z;
      let lo = 0;
      let hi = cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid]! < u) lo = mid + 1;
        else hi = mid;
      }
      replay.encode(order[lo]!);
    }
    const st = replay.stats();
    const mib = (f: string) => (statSync(join(dir, f)).size / 2 ** 20).toFixed(1);
    speed.push([
      name,
      String(card.items),
      `${card.training.bestEpoch}/${card.training.epochs}`,
      fmt(embedSeconds, 1),
      fmt(card.index.buildSeconds, 1),
      `${(percentile(cold, 0.5) * 1000).toFixed(0)} / ${(percentile(cold, 0.99) * 1000).toFixed(0)}`,
      `${(percentile(warm, 0.5) * 1000).toFixed(1)} / ${(percentile(warm, 0.99) * 1000).toFixed(1)}`,
      `${(st.hitRate * 100).toFixed(1)}% of ${draws} (${order.length} distinct)`,
      `${mib('items.f32')} + ${mib('index.usearch')} + ${mib('weights.bin')}`,
      `${Math.round((rssEmbed - rss0) / 2 ** 20)}`,
    ]);
    store.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log('Retrieval quality, TEST split, retrieval protocol (top 100; unjudged = not relevant); student re-ranks each retriever’s top 200');
console.log(
  table(
    [
      'data set',
      'retriever',
      'queries',
      'R(rel=3)@100',
      'nDCG@10 alone',
      'nDCG@10 + student',
      'nDCG@10 + student w/o twotower_cosine',
      'p50 ms alone',
      'p50 ms + student',
    ],
    quality,
  ),
);
console.log('\nEmbeddings: training, index, query-embedding latency (one core), query cache');
console.log(
  table(
    [
      'data set',
      'items',
      'best/epochs',
      'embed train s',
      'index build s',
      'query µs cold p50/p99',
      'query µs cached p50/p99',
      `cache hit rate (LRU ${REPLAY_CACHE})`,
      'MiB vectors+index+weights',
      'RSS Δ MiB',
    ],
    speed,
  ),
);
console.log(
  `\ntotal ${((performance.now() - t00) / 1000).toFixed(0)} s. Embedding epochs ≤ ${epochs}; HNSW index built on all cores, queried on one; RRF k = 60, 200 candidates per leg; hybrid W/V: BM25 weight W, vector weight V, chosen on the dev split (the embedding card's fusion).`,
);
