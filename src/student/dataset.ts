/**
 * Training rows for the student: every judged (query, item) pair of a split, its features and its
 * target distribution over the five levels — the soft label where the pair has one (several raters,
 * or a mean grade), else one-hot at the human level.
 */
import { DistilrankError } from '../errors.ts';
import type { FeatureExtractor } from '../features/index.ts';
import { oneHot } from '../relevance/index.ts';
import type { Split, Store } from '../store/index.ts';
import type { TrainingSet } from './mlp.ts';

export interface PairTable {
  queryIds: string[];
  itemIds: string[];
  set: TrainingSet;
}

export function labelledPairs(store: Store, dataset: string, extractor: FeatureExtractor, split: Split, judgmentSet?: string): PairTable {
  const byQuery = new Map<string, Array<{ itemId: string; target: readonly number[] }>>();
  for (const j of store.judgments(dataset, { split, ...(judgmentSet ? { judgmentSet } : {}) })) {
    const list = byQuery.get(j.queryId) ?? [];
    list.push({ itemId: j.itemId, target: j.soft ?? oneHot(j.level) });
    byQuery.set(j.queryId, list);
  }
  const queries = store.queries(dataset, split).filter((q) => byQuery.has(q.id));
  const rows = queries.reduce((n, q) => n + byQuery.get(q.id)!.length, 0);
  const dims = extractor.names.length;
  const features = new Float32Array(rows * dims);
  const targets = new Float32Array(rows * 5);
  const queryIds: string[] = [];
  const itemIds: string[] = [];
  let r = 0;
  for (const q of queries) {
    const pairs = byQuery.get(q.id)!;
    const ids = pairs.map((p) => p.itemId);
    features.set(extractor.extract({ id: q.id, text: q.text }, ids), r * dims);
    pairs.forEach((p, i) => {
      targets.set(p.target, (r + i) * 5);
      queryIds.push(q.id);
      itemIds.push(p.itemId);
    });
    r += pairs.length;
  }
  if (rows === 0) {
    throw new DistilrankError('BAD_INPUT', `the ${split} split of ${dataset} has no judged pairs`, {
      field: 'split',
      hint: split === 'dev' ? 'the dev split needs labelled queries for early stopping: ingest more queries or change the split fractions' : 'ingest judgments for this data set',
    });
  }
  return { queryIds, itemIds, set: { features, rows, dims, targets } };
}
