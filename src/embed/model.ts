/**
 * The two-tower model and its pure-TypeScript forward pass (what serving and the offline item pass
 * run; training runs the same graph in tfjs). One bucket-embedding table is shared by both towers —
 * a word means the same on both sides — and each tower adds its own residual MLP on the mean of its
 * bucket vectors:  v = normalise(h + W2·relu(W1·h + b1) + b2),  h = mean of table[bucket].
 * At initialisation (W2 = 0) the cosine is a soft n-gram overlap; training bends it toward relevance.
 */
import type { HashingConfig } from './hashing.ts';

export interface TowerWeights {
  /** dim × hidden, row-major. */
  w1: Float32Array;
  b1: Float32Array;
  /** hidden × dim, row-major. */
  w2: Float32Array;
  b2: Float32Array;
}

export interface TwoTowerConfig {
  hashing: HashingConfig;
  /** Output (and bucket-embedding) width. */
  dim: number;
  /** Hidden width of each tower's MLP. */
  hidden: number;
}

export interface TwoTowerWeights {
  config: TwoTowerConfig;
  /** buckets × dim, row-major. */
  table: Float32Array;
  /** Per-bucket weight of the bag mean: all 1, or ln(1 + N / (1 + df)) over the catalogue's item bags (idfWeighting). */
  idf: Float32Array;
  query: TowerWeights;
  item: TowerWeights;
}

/**
 * Encode one bag of buckets through a tower into out[at … at+dim): L2-normalised (all zeros when the
 * vector is zero). `scratch` must hold dim + hidden floats.
 */
export function encodeBuckets(model: TwoTowerWeights, tower: TowerWeights, buckets: Int32Array, out: Float32Array, at: number, scratch: Float32Array): void {
  const { dim, hidden } = model.config;
  const { table, idf } = model;
  const h = scratch.subarray(0, dim);
  const z = scratch.subarray(dim, dim + hidden);
  h.fill(0);
  const n = buckets.length;
  let wsum = 0;
  for (let k = 0; k < n; k++) {
    const b = buckets[k]!;
    const w = idf[b]!;
    wsum += w;
    const row = b * dim;
    for (let j = 0; j < dim; j++) h[j]! += w * table[row + j]!;
  }
  if (wsum > 0) for (let j = 0; j < dim; j++) h[j]! /= wsum;
  z.set(tower.b1);
  for (let i = 0; i < dim; i++) {
    const hi = h[i]!;
    if (hi === 0) continue;
    const row = i * hidden;
    for (let j = 0; j < hidden; j++) z[j]! += hi * tower.w1[row + j]!;
  }
  for (let j = 0; j < dim; j++) out[at + j] = h[j]! + tower.b2[j]!;
  for (let i = 0; i < hidden; i++) {
    const zi = z[i]!;
    if (zi <= 0) continue;
    const row = i * dim;
    for (let j = 0; j < dim; j++) out[at + j]! += zi * tower.w2[row + j]!;
  }
  let norm = 0;
  for (let j = 0; j < dim; j++) norm += out[at + j]! * out[at + j]!;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let j = 0; j < dim; j++) out[at + j]! /= norm;
}

/**
 * Item vectors for a list of bags through the item tower: rows × dim, unit rows. The offline pass over
 * the catalogue (train.ts) and items outside it at serving time (Embeddings.encodeItems) both run this.
 */
export function encodeItems(model: TwoTowerWeights, bagsOf: readonly Int32Array[]): Float32Array {
  const { dim, hidden } = model.config;
  const out = new Float32Array(bagsOf.length * dim);
  const scratch = new Float32Array(dim + hidden);
  bagsOf.forEach((b, i) => encodeBuckets(model, model.item, b, out, i * dim, scratch));
  return out;
}

/** Dot product of two rows (cosine, as both are unit vectors). */
export function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += a[ai + j]! * b[bi + j]!;
  return s;
}

/** Bucket weights from the catalogue's bags: ln(1 + N / (1 + df)). */
export function bucketIdf(buckets: number, bags: Int32Array, items: number): Float32Array {
  const df = new Int32Array(buckets);
  for (const b of bags) df[b]! += 1;
  return Float32Array.from(df, (d) => Math.log(1 + items / (1 + d)));
}

/** Exact top-k of `vectors` (rows × dim, unit rows) by dot product with q; best first, ties by row. */
export function exactTopK(q: Float32Array, vectors: Float32Array, dim: number, k: number): Array<{ row: number; score: number }> {
  const n = vectors.length / dim;
  const heapRow = new Int32Array(k);
  const heapScore = new Float64Array(k);
  let size = 0;
  // min-heap on score (worst of the kept at the root)
  const worse = (a: number, b: number) => heapScore[a]! < heapScore[b]! || (heapScore[a] === heapScore[b] && heapRow[a]! > heapRow[b]!);
  const swap = (a: number, b: number) => {
    const r = heapRow[a]!;
    heapRow[a] = heapRow[b]!;
    heapRow[b] = r;
    const s = heapScore[a]!;
    heapScore[a] = heapScore[b]!;
    heapScore[b] = s;
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(l, m)) m = l;
      if (r < size && worse(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (let row = 0; row < n; row++) {
    let s = 0;
    const at = row * dim;
    for (let j = 0; j < dim; j++) s += q[j]! * vectors[at + j]!;
    if (size < k) {
      heapRow[size] = row;
      heapScore[size] = s;
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(i, p)) break;
        swap(i, p);
        i = p;
      }
    } else if (k > 0 && s > heapScore[0]!) {
      heapRow[0] = row;
      heapScore[0] = s;
      down(0);
    }
  }
  const out = Array.from({ length: size }, (_, i) => ({ row: heapRow[i]!, score: heapScore[i]! }));
  return out.sort((a, b) => b.score - a.score || a.row - b.row);
}
