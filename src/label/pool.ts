/**
 * The candidate pool the teacher labels: for each pool query, its top K BM25 candidates. Pool
 * queries are the training split's queries, or — when the data set has search logs — the distinct
 * logged query texts. No pool query may be an evaluation query: any query whose text equals (after
 * whitespace and case folding) the text of a dev or test query is left out, so no teacher label ever
 * touches a pair evaluation reads (labels are keyed by text, so an equal text would be the same pair).
 */
import { normaliseQueryText, queryIdFor } from '../ingest/index.ts';
import { DistilrankError } from '../core/index.ts';
import { Bm25Ranker } from '../retrieve/index.ts';
import type { Dataset, StoredItem } from '../store/index.ts';
import type { TeacherPair } from '../teacher/index.ts';
import { buildItemText, type FieldSources, representationId, DEFAULT_REPRESENTATION_ID, type RepresentationConfig } from '../enrich/index.ts';
import { itemText } from './item-text.ts';

export type PoolQueries = 'logged' | 'train';

export interface PoolOptions {
  /** BM25 candidates per query. */
  k: number;
  /** Which queries: 'logged' (search-log query texts) or 'train' (the training split). Default: 'logged' when the data set has log events, else 'train'. */
  queries?: PoolQueries;
  /** Characters of item text per item (see itemText; ignored with `representation`). */
  itemTextBudget?: number;
  /** Build item texts with this representation (src/enrich/represent) instead of the default; its id joins each pair's label key. */
  representation?: { config: RepresentationConfig; sources?: FieldSources };
}

/** A pair to label; `representation` is the id its item text was built with (absent: the default). */
export type PoolPair = TeacherPair & { representation?: string };

const evalKey = (text: string): string => normaliseQueryText(text).normalize('NFKC').toLowerCase();

/** Which query set `buildPool` uses when not told. */
export function defaultPoolQueries(dataset: Dataset): PoolQueries {
  return dataset.hasLogEvents() ? 'logged' : 'train';
}

/**
 * Pairs in a deterministic order: queries by id ('train') or by text ('logged'; ids are `q` + SHA-1
 * of the text, as for text-only query files), and within a query, candidates by BM25 score
 * descending, then item id. Logged texts are whitespace-normalised, and texts equal up to case are
 * one query (its most frequent spelling).
 */
export function buildPool(dataset: Dataset, opts: PoolOptions): PoolPair[] {
  if (!Number.isInteger(opts.k) || opts.k < 1) {
    throw new DistilrankError('BAD_OPTION', `candidates per query must be a positive integer, not ${opts.k}`, { field: 'k' });
  }
  const mode = opts.queries ?? defaultPoolQueries(dataset);
  const evaluation = new Set(
    dataset
      .storedQueries()
      .filter((q) => q.split !== 'train')
      .map((q) => evalKey(q.text)),
  );
  let queries: Array<{ id: string; text: string }>;
  if (mode === 'train') {
    queries = dataset.storedQueries('train').map((q) => ({ id: q.id, text: q.text }));
  } else {
    if (!dataset.hasLogEvents()) {
      throw new DistilrankError('BAD_OPTION', `data set "${dataset}" has no search-log events to take queries from`, {
        field: 'queries',
        hint: 'use the training split\'s queries (queries: "train"), or ingest the data set with its logs',
      });
    }
    // One query per text up to case and whitespace: its most frequent spelling (then the smallest).
    const rows = dataset.logQueryTexts();
    const spellings = new Map<string, Map<string, number>>();
    for (const r of rows) {
      const text = normaliseQueryText(r.text);
      if (!text) continue;
      const key = evalKey(text);
      const forms = spellings.get(key) ?? new Map<string, number>();
      forms.set(text, (forms.get(text) ?? 0) + r.n);
      spellings.set(key, forms);
    }
    const chosen = [...spellings.values()].map((forms) => [...forms].sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0))[0]![0]);
    queries = chosen.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((text) => ({ id: queryIdFor(text), text }));
  }
  queries = queries.filter((q) => !evaluation.has(evalKey(q.text)));

  const bm25 = new Bm25Ranker(dataset);
  const candidates = queries.map((q) => ({
    q,
    items: bm25
      .retrieve(q.text, opts.k)
      .sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0))
      .map((s) => s.itemId),
  }));

  const rep = opts.representation;
  const repId = rep ? representationId(rep.config) : DEFAULT_REPRESENTATION_ID;
  const textOf = rep ? (item: StoredItem) => buildItemText(item, rep.config, rep.sources) : (item: StoredItem) => itemText(item, opts.itemTextBudget);
  const texts = new Map<string, string>();
  const needed = [...new Set(candidates.flatMap((c) => c.items))];
  for (let i = 0; i < needed.length; i += 5000) {
    for (const item of dataset.storedItems(needed.slice(i, i + 5000))) texts.set(item.id, textOf(item));
  }

  const pairs: PoolPair[] = [];
  for (const { q, items } of candidates) {
    for (const itemId of items) {
      const text = texts.get(itemId);
      if (text === undefined) continue;
      const pair: PoolPair = { queryId: q.id, queryText: q.text, itemId, itemText: text };
      if (repId !== DEFAULT_REPRESENTATION_ID) pair.representation = repId;
      pairs.push(pair);
    }
  }
  return pairs;
}
