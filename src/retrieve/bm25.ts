/**
 * BM25 over the store's FTS5 index (per-field weights from the data set). Query text becomes an
 * OR of its distinct terms, stopwords dropped (kept when the query is nothing but stopwords) and
 * capped, because FTS5 scores every matching row and very common terms make queries slow. Given an
 * in-memory Bm25Index (the service builds one), queries are answered from it with the same scores.
 */
import type { Dataset } from '../store/index.ts';
import type { FieldWeights } from '../ingest/index.ts';
import { CJK_QUERY_STOPWORDS, ENGLISH_STOPWORDS, searchTokens } from '../text/index.ts';
import type { Bm25Index, Bm25IndexStats } from './bm25-index.ts';
import type { Ranker, ScoredItem } from './types.ts';

export const MAX_QUERY_TERMS = 32;

/** The distinct terms BM25 asks for, in query order: content words first choice, at most MAX_QUERY_TERMS. */
export function queryTerms(queryText: string): string[] {
  // searchTokens: CJK runs as character unigrams + bigrams, as the index holds them (src/text/segment.ts).
  const terms = [...new Set(searchTokens(queryText))];
  const content = terms.filter((t) => !ENGLISH_STOPWORDS.has(t) && !CJK_QUERY_STOPWORDS.has(t));
  return (content.length ? content : terms).slice(0, MAX_QUERY_TERMS);
}

/** The FTS5 MATCH expression for a query (an OR of its terms as phrases), or null when it has no terms. */
export function ftsMatchExpression(queryText: string): string | null {
  const chosen = queryTerms(queryText);
  if (!chosen.length) return null;
  return chosen.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}

export interface Bm25Options {
  /** An in-memory copy of the FTS5 index (same scores, faster); phrase queries still go to FTS5. */
  index?: Bm25Index | undefined;
}

export class Bm25Ranker implements Ranker {
  readonly name = 'bm25';
  private readonly weights: FieldWeights;
  private readonly index: Bm25Index | undefined;

  constructor(
    private readonly dataset: Dataset,
    weights?: FieldWeights,
    opts: Bm25Options = {},
  ) {
    this.weights = weights ?? dataset.fieldWeights;
    this.index = opts.index;
  }

  /** The in-memory index's counters, when there is one (the service exports them as metrics). */
  stats(): { bm25Index?: Bm25IndexStats } {
    return this.index ? { bm25Index: this.index.stats() } : {};
  }

  retrieve(queryText: string, k: number): ScoredItem[] {
    const fromIndex = this.index?.search(queryText, k);
    if (fromIndex) return fromIndex;
    const match = ftsMatchExpression(queryText);
    if (!match) return [];
    return this.dataset.bm25(match, { k, weights: this.weights });
  }

  /** BM25 of each candidate; candidates that match no query term score 0. */
  score(queryText: string, itemIds: readonly string[]): ScoredItem[] {
    const fromIndex = this.index?.score(queryText, itemIds);
    if (fromIndex) return fromIndex;
    const match = ftsMatchExpression(queryText);
    const scores = new Map<string, number>();
    if (match) for (const r of this.dataset.bm25(match, { restrictTo: itemIds, weights: this.weights })) scores.set(r.itemId, r.score);
    return itemIds.map((itemId) => ({ itemId, score: scores.get(itemId) ?? 0 }));
  }
}
