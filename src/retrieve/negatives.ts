/** Candidate pools for sampled negatives: a query's BM25 top `depth` (training code filters out judged items). */
import type { Store } from '../store/index.ts';
import { Bm25Ranker } from './bm25.ts';

export function negativePool(store: Store, dataset: string, depth: number): (queryText: string) => string[] {
  const bm25 = new Bm25Ranker(store, dataset);
  return (queryText) => bm25.retrieve(queryText, depth).map((c) => c.itemId);
}
