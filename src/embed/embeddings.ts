/**
 * The embeddings at serving time: item vectors from the artifact (computed offline), query vectors
 * computed online in pure TypeScript (hashing + one small MLP: tens of microseconds) behind an LRU
 * cache whose hits and misses `stats()` reports (the service exports them as a metric), cosine
 * similarities for the student's feature (for free texts too: `adHoc` runs the item tower on them),
 * and ANN search over the saved usearch index.
 */
import { DistilrankError } from '../core/index.ts';
import type { Dataset, StoredItem } from '../store/index.ts';
import { defaultEmbedDir, hasEmbedArtifact, readEmbedArtifact, type EmbedArtifact, type EmbedCard, type UsearchIndex } from './artifact.ts';
import { itemBuckets, queryBuckets } from './hashing.ts';
import { dot, encodeBuckets, encodeItems, type TwoTowerWeights } from './model.ts';

export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
  capacity: number;
  /** hits / (hits + misses); 0 before any lookup. */
  hitRate: number;
}

/** A least-recently-used cache (Map insertion order is the recency order). */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  private hits = 0;
  private misses = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a whole number ≥ 0, got ${capacity}`);
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  stats(): CacheStats {
    const total = this.hits + this.misses;
    return { hits: this.hits, misses: this.misses, size: this.map.size, capacity: this.capacity, hitRate: total ? this.hits / total : 0 };
  }

  resetStats(): void {
    this.hits = 0;
    this.misses = 0;
  }
}

export const DEFAULT_QUERY_CACHE = 10_000;
/** Longest query text encoded (characters); the rest is ignored, as item text is untrusted and so is query text. */
export const MAX_QUERY_CHARS = 1000;

/** Query vectors through the query tower, cached by exact text. Returned vectors are shared: do not modify. */
export class QueryEncoder {
  private readonly cache: LruCache<string, Float32Array>;
  private readonly scratch: Float32Array;

  constructor(
    private readonly model: TwoTowerWeights,
    capacity = DEFAULT_QUERY_CACHE,
  ) {
    this.cache = new LruCache(capacity);
    this.scratch = new Float32Array(model.config.dim + model.config.hidden);
  }

  get dim(): number {
    return this.model.config.dim;
  }

  encode(text: string): Float32Array {
    const key = text.length > MAX_QUERY_CHARS ? text.slice(0, MAX_QUERY_CHARS) : text;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const v = new Float32Array(this.model.config.dim);
    encodeBuckets(this.model, this.model.query, queryBuckets(key, this.model.config.hashing), v, 0, this.scratch);
    this.cache.set(key, v);
    return v;
  }

  stats(): CacheStats {
    return this.cache.stats();
  }

  resetStats(): void {
    this.cache.resetStats();
  }
}

export interface VectorHit {
  itemId: string;
  /** Cosine similarity. */
  score: number;
}

export class Embeddings {
  readonly id: string;
  readonly card: EmbedCard;
  readonly dim: number;
  readonly itemIds: readonly string[];
  readonly vectors: Float32Array;
  readonly queries: QueryEncoder;
  private readonly row = new Map<string, number>();
  private index: UsearchIndex | null = null;

  private constructor(
    private readonly artifact: EmbedArtifact,
    opts: { cacheSize?: number },
  ) {
    this.card = artifact.card;
    this.id = artifact.card.id;
    this.dim = artifact.model.config.dim;
    this.itemIds = artifact.itemIds;
    this.vectors = artifact.vectors;
    this.queries = new QueryEncoder(artifact.model, opts.cacheSize ?? DEFAULT_QUERY_CACHE);
    artifact.itemIds.forEach((id, i) => this.row.set(id, i));
  }

  static fromArtifact(artifact: EmbedArtifact, opts: { cacheSize?: number } = {}): Embeddings {
    return new Embeddings(artifact, opts);
  }

  static load(dir: string, opts: { cacheSize?: number } = {}): Embeddings {
    return new Embeddings(readEmbedArtifact(dir), opts);
  }

  /**
   * The data set's default artifact, checked against the store: same data set, and a vector for every
   * item of the catalogue (a re-ingested catalogue needs new item vectors). FILE_NOT_FOUND (field
   * `embedding`, hint: run distilrank embed) when there is none.
   */
  static forDataset(dataset: Dataset, opts: { dir?: string; cacheSize?: number } = {}): Embeddings {
    const dir = opts.dir ?? defaultEmbedDir(dataset.store.path, dataset.name);
    if (!hasEmbedArtifact(dir)) {
      throw new DistilrankError('FILE_NOT_FOUND', `${dataset} has no two-tower embeddings yet (no embedding artifact in this folder)`, {
        file: dir,
        field: 'embedding',
        hint: `run distilrank embed --dataset ${dataset} first`,
      });
    }
    const e = Embeddings.load(dir, opts);
    if (e.card.dataset !== dataset.name) {
      throw new DistilrankError('MODEL_MISMATCH', `the embeddings were trained on ${e.card.dataset}, not ${dataset}`, {
        file: dir,
        field: 'dataset',
        hint: `distilrank embed --dataset ${dataset}`,
      });
    }
    const n = dataset.items;
    if (n !== e.itemIds.length) {
      throw new DistilrankError('MODEL_MISMATCH', `the embedding artifact holds ${e.itemIds.length} item vectors; ${dataset} has ${n} items now`, {
        file: dir,
        hint: `the catalogue changed since the embeddings were computed: distilrank embed --dataset ${dataset}`,
      });
    }
    return e;
  }

  /** Cosine of the query vector with each item's vector. */
  cosines(queryText: string, itemIds: readonly string[]): Float32Array {
    return this.cosinesOver(queryText, itemIds, this.vectors, this.row, (id) => {
      throw new DistilrankError('MODEL_MISMATCH', `item "${id}" has no vector in embedding artifact ${this.id}`, {
        file: this.artifact.dir,
        hint: `the catalogue changed since the embeddings were computed: distilrank embed --dataset ${this.card.dataset}`,
      });
    });
  }

  /**
   * Vectors of items outside the artifact (free texts), through the item tower exactly as the offline
   * pass computes the catalogue's (the same bags, itemBuckets, and encodeItems): rows × dim, unit rows.
   */
  encodeItems(items: ReadonlyArray<Pick<StoredItem, 'title' | 'description' | 'fields'>>): Float32Array {
    const m = this.artifact.model;
    return encodeItems(
      m,
      items.map((it) => itemBuckets(it, m.config.hashing)),
    );
  }

  /**
   * The similarity for items outside the catalogue (what FeatureExtractor.adHoc asks for): their vectors
   * from the item tower (encodeItems, once, here), query vectors from this query encoder and its cache.
   * It has this artifact's id: the same model, applied to other items. Ids must be distinct.
   */
  adHoc(items: readonly StoredItem[]): Pick<Embeddings, 'id' | 'cosines'> {
    const vectors = this.encodeItems(items);
    const row = new Map(items.map((it, i) => [it.id, i]));
    return {
      id: this.id,
      cosines: (queryText, itemIds) =>
        this.cosinesOver(queryText, itemIds, vectors, row, (id) => {
          throw new RangeError(`item "${id}" is not one of the ${items.length} ad-hoc items`);
        }),
    };
  }

  private cosinesOver(
    queryText: string,
    itemIds: readonly string[],
    vectors: Float32Array,
    row: ReadonlyMap<string, number>,
    missing: (id: string) => never,
  ): Float32Array {
    const q = this.queries.encode(queryText);
    const out = new Float32Array(itemIds.length);
    for (let r = 0; r < itemIds.length; r++) {
      const i = row.get(itemIds[r]!);
      if (i === undefined) missing(itemIds[r]!);
      out[r] = dot(q, 0, vectors, i * this.dim, this.dim);
    }
    return out;
  }

  /** The stored vector of an item (a view into the artifact's matrix), or undefined. */
  itemVector(itemId: string): Float32Array | undefined {
    const i = this.row.get(itemId);
    return i === undefined ? undefined : this.vectors.subarray(i * this.dim, (i + 1) * this.dim);
  }

  /** Approximate nearest items to a vector (usearch HNSW, cosine), best first. */
  searchVector(vector: Float32Array, k: number): VectorHit[] {
    if (k <= 0 || this.itemIds.length === 0) return [];
    this.index ??= this.artifact.loadIndex();
    const m = this.index.search(vector, Math.min(k, this.itemIds.length), 1);
    const out: VectorHit[] = [];
    for (let j = 0; j < m.keys.length; j++) {
      const id = this.itemIds[Number(m.keys[j]!)];
      if (id !== undefined) out.push({ itemId: id, score: 1 - m.distances[j]! });
    }
    return out;
  }

  /** Approximate nearest items to the query's vector. */
  search(queryText: string, k: number): VectorHit[] {
    return this.searchVector(this.queries.encode(queryText), k);
  }

  /** Query-cache statistics (hits, misses, hit rate). */
  stats() {
    return this.queries.stats();
  }
}
