/**
 * Training rows for the student: every judged (query, item) pair of a split, its features and its
 * target distribution over the five levels — the soft label where the pair has one (several raters,
 * or a mean grade), else one-hot at the human level.
 *
 * Optionally, sampled negatives: unjudged items from the query's BM25 candidates, labelled L1 with a
 * reduced weight. Judged pools come from some earlier search system, so judged items all look
 * relevant; without negatives the student never learns what separates them from the rest of the
 * catalogue it re-ranks at serving time. Unjudged is not the same as irrelevant, hence the weight.
 */
import { createHash } from 'node:crypto';
import type { TeacherLabel } from '../label/index.ts';
import { DistilrankError, oneHot } from '../core/index.ts';
import { Bm25Ranker } from '../retrieve/index.ts';
import type { Split, Dataset } from '../store/index.ts';
import type { RowSource } from './features.ts';
import type { TrainingSet } from '../ml/index.ts';

export interface PairTable {
  queryIds: string[];
  itemIds: string[];
  /** False for sampled negatives (no human judgment). */
  judged: boolean[];
  set: TrainingSet;
}

export interface NegativeSampling {
  /** Unjudged candidates drawn per query (0 turns sampling off). */
  perQuery: number;
  /** Loss weight of a sampled negative (judged pairs weigh 1). */
  weight: number;
  /** Candidate pool: the query's BM25 top `depth`. */
  depth: number;
  seed: string;
}

/** Chosen on the dev splits of home-depot, icecat-chorus and cranfield (see docs/design.md). */
export const DEFAULT_NEGATIVES: Readonly<NegativeSampling> = Object.freeze({ perQuery: 20, weight: 1, depth: 200, seed: 'distilrank-negatives-1' });

export function labelledPairs(dataset: Dataset, extractor: RowSource, split: Split, judgmentSet?: string, negatives?: NegativeSampling): PairTable {
  const byQuery = new Map<string, Array<{ itemId: string; target: readonly number[] }>>();
  for (const j of dataset.storedJudgments({ split, ...(judgmentSet ? { judgmentSet } : {}) })) {
    const list = byQuery.get(j.queryId) ?? [];
    list.push({ itemId: j.itemId, target: j.soft ?? oneHot(j.level) });
    byQuery.set(j.queryId, list);
  }
  const queries = dataset.storedQueries(split).filter((q) => byQuery.has(q.id));
  const sampled = new Map<string, string[]>();
  if (negatives && negatives.perQuery > 0) {
    const bm25 = new Bm25Ranker(dataset);
    for (const q of queries) {
      const judged = new Set(byQuery.get(q.id)!.map((p) => p.itemId));
      const pool = bm25
        .retrieve(q.text, negatives.depth)
        .map((c) => c.itemId)
        .filter((id) => !judged.has(id));
      sampled.set(q.id, sample(pool, negatives.perQuery, `${negatives.seed}\0${q.id}`));
    }
  }
  const rows = queries.reduce((n, q) => n + byQuery.get(q.id)!.length + (sampled.get(q.id)?.length ?? 0), 0);
  const dims = extractor.names.length;
  const features = new Float32Array(rows * dims);
  const targets = new Float32Array(rows * 5);
  const weights = new Float32Array(rows).fill(1);
  const queryIds: string[] = [];
  const itemIds: string[] = [];
  const judged: boolean[] = [];
  let r = 0;
  const L1 = oneHot(1);
  for (const q of queries) {
    const pairs = byQuery.get(q.id)!;
    const negs = sampled.get(q.id) ?? [];
    const ids = [...pairs.map((p) => p.itemId), ...negs];
    features.set(extractor.extract({ id: q.id, text: q.text }, ids), r * dims);
    pairs.forEach((p, i) => targets.set(p.target, (r + i) * 5));
    negs.forEach((_, i) => {
      targets.set(L1, (r + pairs.length + i) * 5);
      weights[r + pairs.length + i] = negatives!.weight;
    });
    ids.forEach((id, i) => {
      queryIds.push(q.id);
      itemIds.push(id);
      judged.push(i < pairs.length);
    });
    r += ids.length;
  }
  if (rows === 0) {
    throw new DistilrankError('BAD_INPUT', `the ${split} split of ${dataset} has no judged pairs`, {
      field: 'split',
      hint:
        split === 'dev'
          ? 'the dev split needs labelled queries for early stopping: ingest more queries or change the split fractions'
          : 'ingest judgments for this data set',
    });
  }
  return { queryIds, itemIds, judged, set: { features, rows, dims, targets, ...(sampled.size ? { weights } : {}) } };
}

/** `k` distinct entries of `pool`, chosen by a seeded hash (stable across runs and machines). */
function sample(pool: readonly string[], k: number, seed: string): string[] {
  if (pool.length <= k) return [...pool];
  const keyed = pool.map((id) => ({ id, key: createHash('sha1').update(seed).update('\0').update(id).digest('hex') }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.slice(0, k).map((x) => x.id);
}

/** A teacher's soft label for one pool pair (from the label cache). */

/**
 * Training rows from teacher labels: the teacher's distribution is the target, weighted by `weight`.
 * Pairs with a human judgment in `skip` (query id, item id) are left out: the human label wins.
 */
export function teacherPairs(extractor: RowSource, labels: readonly TeacherLabel[], weight: number, skip: ReadonlySet<string>): PairTable {
  const byQuery = new Map<string, TeacherLabel[]>();
  for (const l of labels) {
    if (skip.has(`${l.queryId}\0${l.itemId}`) || !extractor.has(l.itemId)) continue;
    const list = byQuery.get(l.queryId) ?? [];
    list.push(l);
    byQuery.set(l.queryId, list);
  }
  const rows = [...byQuery.values()].reduce((n, list) => n + list.length, 0);
  const dims = extractor.names.length;
  const features = new Float32Array(rows * dims);
  const targets = new Float32Array(rows * 5);
  const weights = new Float32Array(rows).fill(weight);
  const queryIds: string[] = [];
  const itemIds: string[] = [];
  let r = 0;
  for (const [queryId, list] of [...byQuery.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    features.set(
      extractor.extract(
        { id: queryId, text: list[0]!.queryText },
        list.map((l) => l.itemId),
      ),
      r * dims,
    );
    list.forEach((l, i) => {
      targets.set(l.distribution, (r + i) * 5);
      queryIds.push(queryId);
      itemIds.push(l.itemId);
    });
    r += list.length;
  }
  return { queryIds, itemIds, judged: new Array<boolean>(rows).fill(false), set: { features, rows, dims, targets, weights } };
}

/** Rows of `a` then rows of `b` (same feature width). */
export function concatTables(a: PairTable, b: PairTable): PairTable {
  const wa = a.set.weights ?? new Float32Array(a.set.rows).fill(1);
  const wb = b.set.weights ?? new Float32Array(b.set.rows).fill(1);
  const cat = (x: Float32Array, y: Float32Array) => {
    const out = new Float32Array(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return {
    queryIds: [...a.queryIds, ...b.queryIds],
    itemIds: [...a.itemIds, ...b.itemIds],
    judged: [...a.judged, ...b.judged],
    set: {
      features: cat(a.set.features, b.set.features),
      rows: a.set.rows + b.set.rows,
      dims: a.set.dims,
      targets: cat(a.set.targets, b.set.targets),
      weights: cat(wa, wb),
    },
  };
}

/** The rows of `t` for which `keep(row)` is true. */
export function filterRows(t: PairTable, keep: (row: number) => boolean): PairTable {
  const rows: number[] = [];
  for (let r = 0; r < t.set.rows; r++) if (keep(r)) rows.push(r);
  const dims = t.set.dims;
  const features = new Float32Array(rows.length * dims);
  const targets = new Float32Array(rows.length * 5);
  const weights = new Float32Array(rows.length);
  rows.forEach((r, i) => {
    features.set(t.set.features.subarray(r * dims, (r + 1) * dims), i * dims);
    targets.set(t.set.targets.subarray(r * 5, (r + 1) * 5), i * 5);
    weights[i] = t.set.weights?.[r] ?? 1;
  });
  return {
    queryIds: rows.map((r) => t.queryIds[r]!),
    itemIds: rows.map((r) => t.itemIds[r]!),
    judged: rows.map((r) => t.judged[r]!),
    set: { features, rows: rows.length, dims, targets, ...(t.set.weights ? { weights } : {}) },
  };
}
