/**
 * The embedding stage: hashed n-gram inputs (multilingual), the LRU query cache, the two-tower
 * training (seeded: same seed, same vectors), the artifact and its refusals, ANN recall against
 * exact search in sqlite-vec, reciprocal rank fusion, the vector/hybrid rankers, the student's
 * twotower_cosine feature and its embedding-artifact check, and the CLI `embed` + `--export`.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_HASHING,
  EARLY_STOPPING_METRIC,
  Embeddings,
  LruCache,
  buildIndex,
  defaultEmbedDir,
  exactTopK,
  itemBuckets,
  queryBuckets,
  readEmbedArtifact,
  trainEmbeddingsForDataset,
  type EmbedTrainConfig,
  VectorRanker,
} from '../src/embed/index.ts';
import { FEATURE_SET_ID, TWOTOWER_FEATURE, studentFeatureSet } from '../src/features/index.ts';
import { evaluate } from '../src/eval/index.ts';
import {
  Bm25Ranker,
  EQUAL_WEIGHTS,
  FUSION_GRID,
  HybridRanker,
  negativePool,
  reciprocalRankFusion,
  type Ranker,
  type ScoredItem,
} from '../src/retrieve/index.ts';
import { RANKERS, createRanker, fusionWeightsOf } from '../src/models/index.ts';
import { Store } from '../src/store/index.ts';
import { StudentRanker, trainStudent, writeStudentArtifact } from '../src/student/index.ts';
import { mulberry32 } from '../src/core/random.ts';
import { caught, ingestedStore, runCli, useTempDir } from './helpers.ts';
import { COLOURS, PRODUCTS, itemId, synth } from './synth-catalogue.ts';

const DS = 'synth-e';
const SMALL: Partial<EmbedTrainConfig> = { hashing: { ...DEFAULT_HASHING, buckets: 2 ** 12 }, dim: 16, hidden: 32, epochs: 3, batchSize: 32 };

const tmp = useTempDir('distilrank-embed-');
let store: Store;

beforeAll(() => {
  store = ingestedStore(join(tmp.path, 'store.sqlite'), synth(DS));
});

afterAll(() => {
  store?.close();
});

const train = (dir: string, seed = 7) =>
  trainEmbeddingsForDataset({
    dataset: store.dataset(DS),
    dir,
    negativePool: negativePool(store.dataset(DS), 50),
    negativeDepth: 50,
    lexical: new Bm25Ranker(store.dataset(DS)),
    config: { ...SMALL, seed },
  });

describe('hashed n-gram inputs', () => {
  it('gives CJK text character n-grams (code points), deterministic and in range', () => {
    const a = queryBuckets('赤いやかん');
    const b = queryBuckets('青い傘');
    // one word of 5 code points: 1 word bucket + n-grams of " 赤いやかん " (7 code points): 5 + 4 + 3
    expect(a.length).toBeGreaterThanOrEqual(10);
    expect(b.length).toBeGreaterThan(3);
    expect([...a]).toEqual([...queryBuckets('赤いやかん')]);
    expect([...a].some((x) => !b.includes(x))).toBe(true);
    for (const x of [...a, ...b]) expect(x >= 0 && x < DEFAULT_HASHING.buckets).toBe(true);
    // NFKC folding: full-width letters hash like plain ones
    expect([...queryBuckets('ＫＥＴＴＬＥ')]).toEqual([...queryBuckets('kettle')]);
  });

  it('caps a long text at maxFeatures buckets: the title’s come first, all from the uncapped bag', () => {
    // A free text to re-rank may be 8,000 characters; hashing stops once the cap is reached.
    const rand = mulberry32(3);
    const words = Array.from({ length: 1500 }, () => `${PRODUCTS[Math.floor(rand() * PRODUCTS.length)]!}${Math.floor(rand() * 90)}`);
    const item = { title: words.slice(0, 6).join(' '), description: words.slice(6).join(' '), fields: { colour: words.slice(10, 14).join(' ') } };
    const uncapped = new Set(itemBuckets(item, { ...DEFAULT_HASHING, maxFeatures: 1e9, descriptionTokens: 1e9 }));
    const titleOnly = itemBuckets({ title: item.title, description: null, fields: {} }, { ...DEFAULT_HASHING, maxFeatures: 1e9 });
    for (const cap of [1, titleOnly.length, titleOnly.length + 7, 300]) {
      const capped = itemBuckets(item, { ...DEFAULT_HASHING, maxFeatures: cap, descriptionTokens: 1e9 });
      expect(capped.length).toBe(cap);
      for (const b of capped) expect(uncapped.has(b)).toBe(true);
      if (cap >= titleOnly.length) for (const b of titleOnly) expect(capped).toContain(b);
    }
    expect(uncapped.size).toBeGreaterThan(300);
  });
});

describe('LruCache', () => {
  it('counts hits and misses and evicts the least recently used entry', () => {
    const c = new LruCache<string, number>(2);
    expect(c.get('a')).toBeUndefined(); // miss
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // hit; b is now the least recent
    c.set('c', 3); // evicts b
    expect(c.has('b')).toBe(false);
    expect(c.get('b')).toBeUndefined(); // miss
    expect(c.get('c')).toBe(3); // hit
    expect(c.stats()).toEqual({ hits: 2, misses: 2, size: 2, capacity: 2, hitRate: 0.5 });
  });
});

describe('reciprocal rank fusion', () => {
  const list = (...ids: string[]): ScoredItem[] => ids.map((itemId, i) => ({ itemId, score: 100 - i }));

  it('scores Σ 1/(k + rank) over the lists that hold an item, best first', () => {
    const fused = reciprocalRankFusion([list('a', 'b', 'c'), list('c', 'a', 'd')], 60);
    const expected: Record<string, number> = { a: 1 / 61 + 1 / 62, b: 1 / 62, c: 1 / 63 + 1 / 61, d: 1 / 63 };
    expect(fused.map((x) => x.itemId)).toEqual(['a', 'c', 'b', 'd']);
    for (const x of fused) expect(x.score).toBeCloseTo(expected[x.itemId]!, 12);
  });

  it('agreement beats one leg’s top rank; ties break by item id descending (trec_eval order)', () => {
    const fused = reciprocalRankFusion([list('x', 'shared'), list('y', 'shared')], 60);
    expect(fused[0]!.itemId).toBe('shared'); // 2/62 > 1/61
    expect(fused.slice(1).map((x) => x.itemId)).toEqual(['y', 'x']);
    expect(reciprocalRankFusion([])).toEqual([]);
  });

  it('weighted: Σ w/(k + rank); a list of weight 0 adds nothing, not even its items at score 0', () => {
    const fused = reciprocalRankFusion([list('a', 'b'), list('c', 'a')], 60, [1, 0.25]);
    const expected: Record<string, number> = { a: 1 / 61 + 0.25 / 62, b: 1 / 62, c: 0.25 / 61 };
    expect(fused.map((x) => x.itemId)).toEqual(['a', 'b', 'c']);
    for (const x of fused) expect(x.score).toBeCloseTo(expected[x.itemId]!, 12);
    expect(reciprocalRankFusion([list('a', 'b'), list('c', 'a')], 60, [1, 0]).map((x) => x.itemId)).toEqual(['a', 'b']);
  });

  it('tied scores in a list share the rank of the first of them (1224), so ties survive fusion', () => {
    const tied: ScoredItem[] = [
      { itemId: 'a', score: 3 },
      { itemId: 'b', score: 2 },
      { itemId: 'c', score: 2 },
      { itemId: 'd', score: 1 },
    ];
    const fused = reciprocalRankFusion([tied], 60);
    const expected: Record<string, number> = { a: 1 / 61, b: 1 / 62, c: 1 / 62, d: 1 / 64 };
    for (const x of fused) expect(x.score).toBeCloseTo(expected[x.itemId]!, 12);
    expect(fused.map((x) => x.itemId)).toEqual(['a', 'c', 'b', 'd']); // the tie broken by id, descending
  });

  it('HybridRanker refuses negative, non-finite or all-zero weights, naming the field', () => {
    const leg: Ranker = { name: 'x', retrieve: () => [], score: () => [] };
    for (const [weights, field] of [
      [{ bm25: 1, vector: -0.5 }, 'weights.vector'],
      [{ bm25: Number.NaN, vector: 1 }, 'weights.bm25'],
      [{ bm25: 0, vector: 0 }, 'weights'],
    ] as const) {
      const err = caught(() => new HybridRanker(leg, leg, { weights }));
      expect(err.code).toBe('BAD_INPUT');
      expect(err.details.field).toBe(field);
      expect(err.details.hint).toBeTruthy();
    }
  });

  it('HybridRanker fuses each leg’s own depth of candidates (at least k)', async () => {
    class Fixed implements Ranker {
      constructor(
        readonly name: string,
        private readonly ids: string[],
      ) {}
      retrieve(_q: string, k: number) {
        return list(...this.ids.slice(0, k));
      }
      score(_q: string, itemIds: readonly string[]) {
        return itemIds.map((itemId) => ({ itemId, score: -this.ids.indexOf(itemId) }));
      }
    }
    const h = new HybridRanker(new Fixed('bm25', ['a', 'b', 'c', 'd']), new Fixed('vector', ['d', 'e', 'a']), { depth: { bm25: 2, vector: 3 }, rrfK: 10 });
    const got = await h.retrieve('q', 2); // legs: bm25 top 2, vector top 3
    const want = reciprocalRankFusion([list('a', 'b'), list('d', 'e', 'a')], 10).slice(0, 2);
    expect(got).toEqual(want);
    expect(got[0]!.itemId).toBe('a');
  });
});

describe('two-tower training and the artifact', () => {
  let dir: string;
  beforeAll(async () => {
    dir = defaultEmbedDir(store.path, DS);
    await train(dir);
  }, 120_000);

  it('is deterministic: the same seed gives the same vectors, another seed other vectors', async () => {
    const a = readEmbedArtifact(dir);
    const again = await train(join(tmp.path, 'again'));
    const other = await train(join(tmp.path, 'other'), 8);
    expect(again.card.id).toBe(a.card.id);
    expect(Buffer.from(again.trained.vectors.buffer).equals(Buffer.from(a.vectors.buffer))).toBe(true);
    expect(other.card.id).not.toBe(a.card.id);
  }, 120_000);

  it('writes a model card with config, data, curve and dev metrics, and unit item vectors', () => {
    const a = readEmbedArtifact(dir);
    expect(a.card.dataset).toBe(DS);
    expect(a.card.items).toBe(130);
    expect(a.card.data.train.human).toBeGreaterThan(0);
    expect(a.card.data.negatives.queries).toBeGreaterThan(0);
    expect(a.card.training.history.length).toBeGreaterThan(0);
    expect(a.card.metrics[EARLY_STOPPING_METRIC[a.card.config.earlyStopping]]).toBeGreaterThan(0);
    for (let i = 0; i < a.itemIds.length; i++) {
      let n = 0;
      for (let j = 0; j < a.card.config.dim; j++) n += a.vectors[i * a.card.config.dim + j]! ** 2;
      expect(n).toBeCloseTo(1, 4);
    }
  });

  it('chooses the fusion weights on dev: the argmax of the dev nDCG@10 it records, which are the retrieval protocol’s', async () => {
    const { card } = readEmbedArtifact(dir);
    const f = card.fusion!;
    expect(f).toBeDefined();
    expect(f.grid.map(({ bm25, vector }) => ({ bm25, vector }))).toEqual(FUSION_GRID.map((w) => ({ ...w })));
    // the choice is the first row with the highest recorded dev nDCG@10
    const top = Math.max(...f.grid.map((r) => r.devNdcg10));
    const first = f.grid.find((r) => r.devNdcg10 === top)!;
    expect(f.weights).toEqual({ bm25: first.bm25, vector: first.vector });
    // the recorded scores are what `eval --split dev --protocol retrieval` gives the hybrid at each weight
    // with the vector leg searched exactly, as the tuning searches it (HNSW is approximate even on
    // 130 items, and its index is rebuilt per run: it made this comparison flaky)
    const e = Embeddings.forDataset(store.dataset(DS));
    const bm25 = new Bm25Ranker(store.dataset(DS));
    const vector = new VectorRanker(e);
    const allVectors = new Float32Array(e.itemIds.length * e.dim);
    e.itemIds.forEach((id, i) => allVectors.set(e.itemVector(id)!, i * e.dim));
    const exactVector: Ranker = {
      name: 'vector (exact)',
      retrieve: (q, k) =>
        exactTopK(e.queries.encode(q), allVectors, e.dim, Math.min(k, e.itemIds.length)).map((h) => ({ itemId: e.itemIds[h.row]!, score: h.score })),
      score: (q, ids) => vector.score(q, ids),
    };
    expect(f.queries).toBe(new Set(store.judgments(DS, { split: 'dev' }).map((j) => j.queryId)).size);
    for (const r of f.grid) {
      const ev = await evaluate({
        dataset: store.dataset(DS),
        split: 'dev',
        protocol: 'retrieval',
        ranker: new HybridRanker(bm25, exactVector, { weights: r }),
        measures: ['nDCG@10', 'R(rel=3)@100'],
      });
      expect(ev.report.metrics['nDCG@10']).toBeCloseTo(r.devNdcg10, 9);
      expect(ev.report.metrics['R(rel=3)@100']).toBeCloseTo(r.devRecall100, 9);
    }
    // `--model hybrid` fuses with the card's weights
    expect(fusionWeightsOf(vector)).toEqual(f.weights);
    expect((createRanker('hybrid', store.dataset(DS)) as HybridRanker).weights).toEqual(f.weights);
  });

  it('a hybrid with weight 0 on the vector leg ranks exactly as BM25, retrieving and re-ranking', async () => {
    const bm25 = new Bm25Ranker(store.dataset(DS));
    const lexicalOnly = new HybridRanker(bm25, new VectorRanker(Embeddings.forDataset(store.dataset(DS))), { weights: { bm25: 1, vector: 0 } });
    const trecOrder = (xs: readonly ScoredItem[]) => [...xs].sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? 1 : -1)).map((x) => x.itemId);
    let ties = 0;
    for (const q of [...store.queries(DS), { text: 'kettle 赤いやかん' }]) {
      const got = bm25.retrieve(q.text, 100);
      const want = got.map((x) => x.itemId);
      expect(want.length).toBeGreaterThan(0);
      ties += got.filter((x, i) => i > 0 && x.score === got[i - 1]!.score).length;
      // the ranking the evaluation reads (ties broken by id, as trec_eval): the same
      expect(trecOrder(await lexicalOnly.retrieve(q.text, 100))).toEqual(trecOrder(got));
      // re-ranking a mixed candidate list (matching and non-matching items): BM25's order, ties by id as trec_eval
      const candidates = [...want.slice(0, 7), itemId(3, 5), itemId(6, 9), 'ja-2'];
      expect(trecOrder(await lexicalOnly.score(q.text, candidates))).toEqual(trecOrder(bm25.score(q.text, candidates)));
    }
    expect(ties).toBeGreaterThan(0); // two-word titles: BM25 ties abound, and they must stay ties
    for (const split of ['dev', 'test'] as const) {
      const [a, b] = await Promise.all([bm25, lexicalOnly].map((ranker) => evaluate({ dataset: store.dataset(DS), split, protocol: 'retrieval', ranker })));
      expect(b!.report.metrics).toEqual(a!.report.metrics);
    }
  });

  it('reads a card without fusion weights (written before them) as equal weights; refuses bad ones', () => {
    const copy = join(tmp.path, 'no-fusion');
    cpSync(dir, copy, { recursive: true });
    const cardPath = join(copy, 'card.json');
    const card = JSON.parse(readFileSync(cardPath, 'utf8')) as { fusion?: { weights: { vector: number } } };
    const bad = structuredClone(card);
    delete card.fusion;
    writeFileSync(cardPath, JSON.stringify(card));
    expect(fusionWeightsOf(new VectorRanker(Embeddings.load(copy)))).toEqual(EQUAL_WEIGHTS);
    bad.fusion!.weights.vector = -1;
    writeFileSync(cardPath, JSON.stringify(bad));
    const err = caught(() => readEmbedArtifact(copy));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.details).toMatchObject({ file: cardPath, field: 'fusion.weights.vector' });
  });

  it('query vectors come from the LRU cache on repeats (hits and misses counted)', () => {
    const e = Embeddings.forDataset(store.dataset(DS));
    const v1 = e.queries.encode('crimson kettle');
    const v2 = e.queries.encode('crimson kettle');
    e.queries.encode('azure teapot');
    expect(v2).toBe(v1);
    expect(e.stats()).toMatchObject({ hits: 1, misses: 2, size: 2 });
  });

  it('vector retrieval finds the exact-title item first; hybrid and vector are registered rankers', async () => {
    expect(Object.keys(RANKERS)).toEqual(expect.arrayContaining(['vector', 'hybrid']));
    const v = createRanker('vector', store.dataset(DS));
    let top1 = 0;
    const qs = store.queries(DS);
    for (const q of qs) {
      const hits = await v.retrieve(q.text, 5);
      const [c, p] = [COLOURS.indexOf(q.text.split(' ')[0]!), PRODUCTS.indexOf(q.text.split(' ')[1]!)];
      if (hits[0]?.itemId === itemId(c, p)) top1 += 1;
    }
    expect(top1 / qs.length).toBeGreaterThan(0.8);
    const h = createRanker('hybrid', store.dataset(DS));
    const hits = await h.retrieve('crimson kettle', 10);
    expect(hits[0]!.itemId).toBe(itemId(0, 0));
    // Both expose the query-embedding cache to the service's /metrics through stats().
    await h.retrieve('crimson kettle', 10);
    expect((h as unknown as { stats(): unknown }).stats()).toMatchObject({ hits: 1, misses: 1 });
    expect((v as unknown as { stats(): unknown }).stats()).toMatchObject({ misses: qs.length });
  });

  it('refuses a modified artifact and one for another catalogue', () => {
    const a = readEmbedArtifact(dir);
    const copy = join(tmp.path, 'tampered');
    cpSync(dir, copy, { recursive: true });
    const bytes = readFileSync(join(copy, 'items.f32'));
    bytes[0] = bytes[0]! ^ 1; // one bit of one item vector
    writeFileSync(join(copy, 'items.f32'), bytes);
    expect(caught(() => readEmbedArtifact(copy)).code).toBe('MODEL_MISMATCH');
    // The artifact of DS, asked for by another data set of the same store.
    store.ingest(synth('other-catalogue'));
    expect(caught(() => Embeddings.forDataset(store.dataset('other-catalogue'), { dir })).code).toBe('MODEL_MISMATCH');
    expect(caught(() => readEmbedArtifact(join(tmp.path, 'nothing'))).code).toBe('FILE_NOT_FOUND');
    expect(a.card.id).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('exact top-k (the fusion tuning’s and early stopping’s vector leg)', () => {
  it('equals a full sort by score (ties by row), for k below, at and above the catalogue size', () => {
    const rand = mulberry32(9);
    const dim = 4;
    const n = 300;
    // coarse values: many exact ties, which must come out in row order
    const vectors = Float32Array.from({ length: n * dim }, () => Math.round(rand() * 4) / 4);
    for (let t = 0; t < 20; t++) {
      const q = Float32Array.from({ length: dim }, () => Math.round(rand() * 4) / 4 - 0.5);
      const all = Array.from({ length: n }, (_, row) => {
        let score = 0;
        for (let j = 0; j < dim; j++) score += q[j]! * vectors[row * dim + j]!;
        return { row, score };
      }).sort((a, b) => b.score - a.score || a.row - b.row);
      for (const k of [0, 1, 10, n, n + 5]) expect(exactTopK(q, vectors, dim, k)).toEqual(all.slice(0, k));
    }
  });
});

describe('usearch ANN against exact search (sqlite-vec)', () => {
  it('recall@10 ≥ 0.95 on a clustered catalogue of 3000 vectors', () => {
    const dim = 32;
    const n = 3000;
    const rand = mulberry32(5);
    const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
    const centres = Array.from({ length: 30 }, () => Float32Array.from({ length: dim }, gauss));
    const unit = (v: Float32Array) => {
      const s = Math.hypot(...v);
      return v.map((x) => x / s);
    };
    const vectors = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) vectors.set(unit(centres[i % 30]!.map((x) => x + 0.6 * gauss())), i * dim);
    const { index } = buildIndex(vectors, dim);

    const db = new Database(':memory:');
    sqliteVec.load(db);
    db.exec(`CREATE VIRTUAL TABLE v USING vec0(embedding float[${dim}] distance_metric=cosine)`);
    const ins = db.prepare('INSERT INTO v(rowid, embedding) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < n; i++) ins.run(BigInt(i), Buffer.from(vectors.buffer, i * dim * 4, dim * 4));
    })();
    const knn = db.prepare('SELECT rowid FROM v WHERE embedding MATCH ? AND k = 10 ORDER BY distance');
    let found = 0;
    const queries = 100;
    for (let qi = 0; qi < queries; qi++) {
      const q = unit(centres[qi % 30]!.map((x) => x + 0.6 * gauss()));
      const exact = new Set((knn.all(Buffer.from(q.buffer)) as Array<{ rowid: number }>).map((r) => Number(r.rowid)));
      expect(exact.size).toBe(10);
      const m = index.search(q, 10, 1);
      for (const k of m.keys) if (exact.has(Number(k))) found += 1;
    }
    db.close();
    expect(found / (queries * 10)).toBeGreaterThanOrEqual(0.95);
  });
});

describe('the student’s twotower_cosine feature', () => {
  it('a student trained with embeddings reads the full feature set, records the artifact, and refuses another one', async () => {
    const embDir = defaultEmbedDir(store.path, DS);
    const e = Embeddings.forDataset(store.dataset(DS));
    const t = await trainStudent({ dataset: store.dataset(DS), embedding: 'default', config: { epochs: 3 } }); // the data set's artifact
    expect(t.card.embedding).toEqual({ id: e.id });
    expect(t.card.featureSetId).toBe(FEATURE_SET_ID);
    expect(t.card.features.map((f) => f.name)).toContain(TWOTOWER_FEATURE);
    const dir = join(tmp.path, 'student-emb');
    writeStudentArtifact(dir, t.onnx, t.card);
    const s = await StudentRanker.load(store.dataset(DS), dir, { retriever: new HybridRanker(new Bm25Ranker(store.dataset(DS)), new VectorRanker(e)) });
    expect(s.name).toBe('student(human)@hybrid');
    const ex = await s.explain('crimson kettle', itemId(0, 0));
    expect(ex.contributions.find((c) => c.feature === TWOTOWER_FEATURE)!.value).toBeCloseTo(e.cosines('crimson kettle', [itemId(0, 0)])[0]!, 5);
    expect((await s.retrieve('crimson kettle', 5)).length).toBe(5);
    expect(s.embeddingCacheStats()!.hits).toBeGreaterThan(0); // the query was encoded once, then cached
    await s.close();

    // without embeddings (the default, even when an artifact exists): the column is left out, and the card says so
    const lexical = await trainStudent({ dataset: store.dataset(DS), config: { epochs: 2 } });
    expect(lexical.card.embedding).toBeNull();
    expect(lexical.card.featureSetId).toBe(studentFeatureSet(false).id);
    expect(lexical.card.features.map((f) => f.name)).not.toContain(TWOTOWER_FEATURE);

    // retrain the embeddings (another seed): the student refuses them
    await train(embDir, 99);
    const err = await StudentRanker.load(store.dataset(DS), dir).then(
      () => null,
      (x: unknown) => x as { code: string; message: string },
    );
    expect(err?.code).toBe('MODEL_MISMATCH');
    expect(err?.message).toContain(e.id);
  }, 180_000);
});

describe('CLI embed and --export', () => {
  it('trains, exports JSONL and .npy that round-trip to the artifact, and evaluates vector and hybrid', () => {
    const cwd = tmp.path;
    const storePath = join(tmp.path, 'cli.sqlite');
    const s = Store.open(storePath, { create: true });
    s.ingest(synth(DS));
    s.close();
    const base = ['--store', storePath, '--quiet'];
    const r = runCli([...base, 'embed', '--dataset', DS, '--epochs', '2', '--buckets', '4096', '--dim', '16'], { cwd });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/trained embeddings [0-9a-f]{12} on synth-e/);
    const art = readEmbedArtifact(defaultEmbedDir(storePath, DS));

    const jsonl = join(tmp.path, 'vectors.jsonl');
    const ex = runCli([...base, 'embed', '--dataset', DS, '--export', jsonl, '--queries', 'test'], { cwd });
    expect(ex.status).toBe(0);
    const lines = readFileSync(jsonl, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; id: string; vector: number[]; embedding?: string; dim?: number });
    expect(lines[0]).toMatchObject({ kind: 'meta', embedding: art.card.id, dim: 16 });
    const items = lines.filter((l) => l.kind === 'item');
    expect(items.map((l) => l.id)).toEqual(art.itemIds);
    items.forEach((l, i) => l.vector.forEach((x, j) => expect(x).toBeCloseTo(art.vectors[i * 16 + j]!, 5)));
    const s2 = Store.open(storePath);
    expect(lines.filter((l) => l.kind === 'query')).toHaveLength(s2.queries(DS, 'test').length);
    s2.close();

    const npy = join(tmp.path, 'vectors.npy');
    expect(runCli([...base, 'embed', '--dataset', DS, '--export', npy, '--format', 'npy'], { cwd }).status).toBe(0);
    const bytes = readFileSync(npy);
    expect(bytes.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    const headerLen = bytes.readUInt16LE(8);
    expect((10 + headerLen) % 64).toBe(0);
    expect(bytes.subarray(10, 10 + headerLen).toString('latin1')).toContain(`'shape': (${art.itemIds.length}, 16)`);
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLen, bytes.byteOffset + bytes.length));
    expect(Buffer.from(data.buffer).equals(Buffer.from(art.vectors.buffer))).toBe(true);
    expect((JSON.parse(readFileSync(`${npy}.ids.json`, 'utf8')) as { ids: string[] }).ids).toEqual(art.itemIds);

    const bad = runCli([...base, 'embed', '--dataset', DS, '--export', npy, '--format', 'csv'], { cwd });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^error\[UNKNOWN_NAME\]: unknown format "csv"/);

    const ev = runCli([...base, 'eval', '--dataset', DS, '--model', 'hybrid', '--protocol', 'retrieval', '--json'], { cwd });
    expect(ev.status).toBe(0);
    expect((JSON.parse(ev.stdout.trim().split('\n')[0]!) as { model: string }).model).toBe('hybrid');
  }, 180_000);
});
