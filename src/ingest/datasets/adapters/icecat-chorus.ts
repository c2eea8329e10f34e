/**
 * icecat-chorus: 19k Icecat electronics products (Chorus demo) with two human rater pools over the
 * same ~135 queries. Judgment sets: `supahands` (3 professional raters per pair; the default),
 * `haystack` (community raters, per-rater grades; optional file) and `broad` (the consolidated Chorus
 * set, 480 pairs of undocumented provenance beyond Supahands).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DistilrankError } from '../../../core/index.ts';
import { readCsvRecords, readJsonl } from '../../formats.ts';
import type { Item, Judgment, Query, DatasetBundle, Sourced } from '../../records.ts';
import { QUEPID_0_3 } from '../scales.ts';
import { normaliseQueryText, queryIdFor, requireFile, toNumber } from './common.ts';

export const ICECAT_FILES = ['products.jsonl', 'supahands_individual_ratings.csv', 'broad_query_set_rated.csv'];

export function loadIcecatChorus(dir: string): DatasetBundle {
  const name = 'icecat-chorus';
  const productsPath = requireFile(dir, 'products.jsonl', name);
  const items: Sourced<Item>[] = [];
  for (const { line, value: p } of readJsonl(productsPath)) {
    const id = p.id;
    if (typeof id !== 'string' && typeof id !== 'number') {
      throw new DistilrankError('BAD_INPUT', 'product without an id', { file: productsPath, line, field: 'id', hint: 'every product needs an "id"' });
    }
    const attributes: NonNullable<Item['attributes']> = {};
    for (const [k, v] of Object.entries(p)) {
      let key = k.startsWith('attr_t_') || k.startsWith('attr_n_') ? k.slice(7) : null;
      if (!key || !(typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) continue;
      // 27 products carry both a text and a numeric attribute of one name: keep both.
      if (key in attributes) key = `${key}${k.startsWith('attr_n_') ? '_number' : '_text'}`;
      attributes[key] = v;
    }
    if (typeof p.price === 'number') attributes.price_cents = p.price;
    if (Array.isArray(p.ean)) attributes.ean = p.ean.map(String);
    if (typeof p.date_released === 'string') attributes.date_released = p.date_released;
    const title = str(p.title) || str(p.name);
    const brand = str(p.supplier);
    items.push({
      id: String(id),
      title,
      ...(str(p.short_description) ? { description: str(p.short_description) } : {}),
      ...(brand ? { fields: { brand } } : {}),
      attributes,
      ...(str(p.img_500x500) ? { imageUrl: str(p.img_500x500) } : {}),
      language: 'en',
      origin: { file: productsPath, line },
    });
  }

  const queries = new Map<string, Sourced<Query>>();
  const addQuery = (text: string, file: string, line: number): string => {
    const id = queryIdFor(text);
    if (!queries.has(id)) queries.set(id, { id, text: normaliseQueryText(text), language: 'en', origin: { file, line } });
    return id;
  };
  const judgments: Sourced<Judgment>[] = [];

  const supaPath = requireFile(dir, 'supahands_individual_ratings.csv', name);
  for (const { line, values: r } of readCsvRecords(supaPath).rows) {
    const queryId = addQuery(r.query ?? '', supaPath, line);
    judgments.push({
      queryId,
      itemId: r.docid ?? '',
      grade: toNumber(r.final_rating ?? '', supaPath, line, 'final_rating'),
      raters: (['agent_1_rating', 'agent_2_rating', 'agent_3_rating'] as const).map((f, i) => ({
        rater: `agent_${i + 1}`,
        grade: toNumber(r[f] ?? '', supaPath, line, f),
      })),
      source: 'supahands',
      origin: { file: supaPath, line },
    });
  }

  const broadPath = requireFile(dir, 'broad_query_set_rated.csv', name);
  for (const { line, values: r } of readCsvRecords(broadPath).rows) {
    judgments.push({
      queryId: addQuery(r.query ?? '', broadPath, line),
      itemId: r.docid ?? '',
      grade: toNumber(r.rating ?? '', broadPath, line, 'rating'),
      source: 'broad',
      origin: { file: broadPath, line },
    });
  }

  // Haystack rating party: per-rater grades; pairs nobody rated are pool entries, not judgments.
  // The pair grade is the raters' mean rounded half up (the native scale is integer 0–3).
  const haystackPath = join(dir, 'haystack_rating_party.jsonl');
  if (existsSync(haystackPath)) {
    for (const { line, value: r } of readJsonl(haystackPath)) {
      const raters = (Array.isArray(r.judgements) ? r.judgements : [])
        .filter((j): j is { rater: string; rating: number } => typeof j === 'object' && j !== null && typeof (j as { rating?: unknown }).rating === 'number')
        .map((j) => ({ rater: String(j.rater), grade: j.rating }));
      if (raters.length === 0) continue;
      const mean = raters.reduce((s, x) => s + x.grade, 0) / raters.length;
      judgments.push({
        queryId: addQuery(str(r.query), haystackPath, line),
        itemId: str(r.doc_id),
        grade: Math.floor(mean + 0.5),
        raters,
        source: 'haystack',
        origin: { file: haystackPath, line },
      });
    }
  }

  return {
    name,
    description: 'Icecat electronics catalogue (Chorus) with Supahands and Haystack human judgments, Quepid 0–3 scale',
    source: dir,
    mapping: QUEPID_0_3,
    defaultJudgmentSet: 'supahands',
    items,
    queries: [...queries.values()],
    judgments,
  };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
}
