/**
 * home-depot: Kaggle "Home Depot Product Search Relevance" training pairs (title only). One judgment
 * set, `kaggle`, whose native grade is the mean of ≥3 raters on 1–3. Products and queries are taken
 * from the pairs: a query is its exact (whitespace-normalised) search term.
 */
import type { Item, Judgment, Query, DatasetBundle, Sourced } from '../../records.ts';
import { readCsvRecords } from '../../formats.ts';
import { HOME_DEPOT_MEAN_1_3 } from '../scales.ts';
import { normaliseQueryText, queryIdFor, requireFile, toNumber } from './common.ts';

export const HOME_DEPOT_FILES = ['train.csv'];

export function loadHomeDepot(dir: string): DatasetBundle {
  const name = 'home-depot';
  const path = requireFile(dir, 'train.csv', name);
  const items = new Map<string, Sourced<Item>>();
  const queries = new Map<string, Sourced<Query>>();
  const judgments = new Map<string, Sourced<Judgment> & { merged: number[] }>();
  for (const { line, values: r } of readCsvRecords(path).rows) {
    const itemId = (r.product_uid ?? '').trim();
    // 15 products carry two slightly different titles in the Kaggle file; the first one is kept.
    if (!items.has(itemId)) items.set(itemId, { id: itemId, title: r.product_title ?? '', language: 'en', origin: { file: path, line } });
    const text = normaliseQueryText(r.search_term ?? '');
    const queryId = queryIdFor(text);
    if (!queries.has(queryId)) queries.set(queryId, { id: queryId, text, language: 'en', origin: { file: path, line } });
    const grade = toNumber(r.relevance ?? '', path, line, 'relevance');
    // Five pairs recur with search terms that differ only in whitespace: they are one pair, graded
    // by the mean of the rows.
    const seen = judgments.get(`${queryId}\0${itemId}`);
    if (seen) {
      seen.merged.push(grade);
      seen.grade = seen.merged.reduce((a, b) => a + b, 0) / seen.merged.length;
    } else {
      judgments.set(`${queryId}\0${itemId}`, { queryId, itemId, grade, source: 'kaggle', origin: { file: path, line }, merged: [grade] });
    }
  }
  return {
    name,
    description: 'Home Depot product search relevance (Kaggle 2016), product titles, mean of ≥3 raters on 1–3',
    source: dir,
    mapping: HOME_DEPOT_MEAN_1_3,
    defaultJudgmentSet: 'kaggle',
    items: [...items.values()],
    queries: [...queries.values()],
    judgments: [...judgments.values()].map(({ merged: _merged, ...j }) => j),
  };
}
