/** Candidate pools for sampled negatives: a query's BM25 top `depth` (training code filters out judged items). */
import type { Dataset } from '../store/index.ts';
import { Bm25Ranker } from './bm25.ts';

export function negativePool(dataset: Dataset, depth: number): (queryText: string) => string[] {
  const bm25 = new Bm25Ranker(dataset);
  return (queryText) => bm25.retrieve(queryText, depth).map((c) => c.itemId);
}
