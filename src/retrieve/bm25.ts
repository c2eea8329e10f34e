/**
 * BM25 over the store's FTS5 index (per-field weights from the data set). Query text becomes an
 * OR of its distinct terms, stopwords dropped (kept when the query is nothing but stopwords) and
 * capped, because FTS5 scores every matching row and very common terms make queries slow.
 */
import type { FieldWeights, Store } from '../store/index.ts';
import { CJK_QUERY_STOPWORDS, ENGLISH_STOPWORDS, searchTokens } from '../text/index.ts';
import type { Ranker, ScoredItem } from './types.ts';

export const MAX_QUERY_TERMS = 32;

/** The FTS5 MATCH expression for a query, or null when it has no terms. */
export function ftsMatchExpression(queryText: string): string | null {
  // searchTokens: CJK runs as character unigrams + bigrams, as the index holds them (src/text/segment.ts).
  const terms = [...new Set(searchTokens(queryText))];
  const content = terms.filter((t) => !ENGLISH_STOPWORDS.has(t) && !CJK_QUERY_STOPWORDS.has(t));
  const chosen = (content.length ? content : terms).slice(0, MAX_QUERY_TERMS);
  if (!chosen.length) return null;
  return chosen.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}

export class Bm25Ranker implements Ranker {
  readonly name = 'bm25';
  private readonly weights: FieldWeights;

  constructor(
    private readonly store: Store,
    private readonly dataset: string,
    weights?: FieldWeights,
  ) {
    this.weights = weights ?? store.dataset(dataset).fieldWeights;
  }

  retrieve(queryText: string, k: number): ScoredItem[] {
    const match = ftsMatchExpression(queryText);
    if (!match) return [];
    return this.store.bm25(this.dataset, match, { k, weights: this.weights });
  }

  /** BM25 of each candidate; candidates that match no query term score 0. */
  score(queryText: string, itemIds: readonly string[]): ScoredItem[] {
    const match = ftsMatchExpression(queryText);
    const scores = new Map<string, number>();
    if (match) for (const r of this.store.bm25(this.dataset, match, { restrictTo: itemIds, weights: this.weights })) scores.set(r.itemId, r.score);
    return itemIds.map((itemId) => ({ itemId, score: scores.get(itemId) ?? 0 }));
  }
}
