/**
 * The registry of query–item features the student reads: one frozen, ordered list. A feature vector
 * is these values in this order. Bump a feature's `version` whenever what it computes changes;
 * FEATURE_SET_ID (a hash of the ordered names and versions) then changes too, and a model trained on
 * the old set refuses the new extractor instead of silently reading shifted or redefined columns.
 */
import { createHash } from 'node:crypto';

export type FeatureGroup = 'bm25' | 'coverage' | 'match' | 'numbers' | 'brand' | 'length' | 'idf' | 'prior' | 'embedding';

export interface FeatureSpec {
  readonly name: string;
  readonly version: number;
  readonly group: FeatureGroup;
  /** One sentence: what it measures and why the student wants it. */
  readonly description: string;
}

const spec = (name: string, group: FeatureGroup, description: string, version = 1): FeatureSpec => Object.freeze({ name, version, group, description });

/**
 * Term features use the analysed terms of src/text (`analyze`: tokenize, Latin diacritics removed,
 * Porter-stemmed — FTS5's terms). "Query terms" are the distinct terms of the query's non-stopword
 * tokens (all tokens when the query is only stopwords), at most 32, as BM25 retrieval uses them.
 * BM25 is Okapi BM25 with k1 = 1.2, b = 0.75 and the non-negative Lucene IDF
 * ln(1 + (N − n + 0.5)/(n + 0.5)); per field, N and the average length count the items whose field is
 * not empty (as Lucene's per-field statistics do).
 */
export const FEATURES: readonly FeatureSpec[] = Object.freeze([
  spec('bm25_title', 'bm25', 'BM25 of the query terms against the item title alone, the strongest lexical evidence in product search.'),
  spec('bm25_description', 'bm25', 'BM25 of the query terms against the description, weaker but catches terms the title omits.'),
  spec('bm25_fields', 'bm25', 'BM25 of the query terms against the other text fields (brand, bullets, specs) joined.'),
  spec('bm25_all', 'bm25', 'BM25 over title, description and fields as one text, the score the FTS5 retriever ranks by (with equal field weights).'),
  spec('coverage_title', 'coverage', 'Share of the distinct query terms present in the title, so a partial match scores below a full one regardless of IDF.'),
  spec('coverage_description', 'coverage', 'Share of the distinct query terms present in the description.'),
  spec('coverage_fields', 'coverage', 'Share of the distinct query terms present in the other text fields.'),
  spec('coverage_all', 'coverage', 'Share of the distinct query terms present anywhere in the item text.'),
  spec(
    'coverage_all_idf',
    'coverage',
    'IDF-weighted share of the query terms present anywhere in the item, so missing a rare (specific) term costs more than missing a common one.',
  ),
  spec(
    'exact_title',
    'match',
    '1 when the whole analysed query (stopwords kept, in order) occurs as consecutive whole terms in the title, the strongest phrase signal.',
  ),
  spec(
    'phrase_title',
    'match',
    'Share of the query bigrams (consecutive analysed terms, plus character bigrams of CJK runs) that occur consecutively in the title, i.e. word order.',
  ),
  spec(
    'trigram_jaccard_title',
    'match',
    'Jaccard similarity of the character trigram sets (plus CJK character bigrams) of query and title, robust to misspellings, compounds and unsegmented scripts.',
  ),
  spec('query_has_numbers', 'numbers', '1 when the query contains a number, so the model knows whether the number features below are informative.'),
  spec('numbers_matched', 'numbers', 'Share of the distinct numbers in the query that also occur in the item text (sizes, model numbers, counts).'),
  spec(
    'units_matched',
    'numbers',
    'Share of the query quantities with a unit ("27 inch" = 27in = 27", "1tb", "500 gb") that the item text states with the same value and unit.',
  ),
  spec(
    'units_conflict',
    'numbers',
    '1 when the item states a quantity in a unit the query uses but never with the query value (24 in. for a "27 inch" query), a strong sign of the wrong variant.',
  ),
  spec('brand_in_query', 'brand', "1 when every term of the item's brand occurs in the query, i.e. the user asked for this brand."),
  spec(
    'other_brand_in_query',
    'brand',
    "1 when the query names a brand of the catalogue but not this item's (or the item has none), i.e. the user asked for another brand.",
  ),
  spec('query_terms', 'length', 'Number of tokens in the query (stopwords included), since short queries are broad and long ones specific.'),
  spec('title_terms_log', 'length', 'ln(1 + number of title tokens), since long titles match more terms by chance.'),
  spec('has_description', 'length', '1 when the item has a non-empty description, so the model can tell "no evidence" from "no match".'),
  spec('query_idf_max', 'idf', 'Largest IDF (over the whole item text) of the query terms: how specific the most specific term is.'),
  spec('query_idf_mean', 'idf', 'Mean IDF of the query terms: how specific the query is overall.'),
  spec('query_idf_min', 'idf', 'Smallest IDF of the query terms: whether the query carries a very common term.'),
  spec(
    'prior_judgments_log',
    'prior',
    "ln(1 + the item's number of prior (training split) judgments), leaving out the pair's own judgment: how often raters saw this item.",
  ),
  spec(
    'prior_gain_mean',
    'prior',
    "The item's mean prior gain shrunk toward the global mean (Bayesian mean, prior strength 3), leaving out the pair's own judgment: items that are usually relevant.",
  ),
  spec(
    'twotower_cosine',
    'embedding',
    "Cosine of the query tower's and the item tower's vectors (src/embed, relevance-tuned on the data set's labels): semantic and character-level evidence BM25 cannot see. Filled only when the extractor is given an embedding artifact; a student trained without one drops this column from its feature set (studentFeatureSet).",
  ),
  spec('emb_sim_2', 'embedding', 'Reserved for a second embedding similarity (e.g. image–query; filled by a later stage; 0 until then).'),
]);

/** A short, stable hash of the ordered names and versions: models record it and refuse a mismatch. */
export function featureSetId(specs: readonly Pick<FeatureSpec, 'name' | 'version'>[]): string {
  const h = createHash('sha256');
  for (const s of specs) h.update(`${s.name}@${s.version}\n`);
  return h.digest('hex').slice(0, 12);
}

export const FEATURE_SET_ID: string = featureSetId(FEATURES);

export function featureNames(): string[] {
  return FEATURES.map((f) => f.name);
}

/** The two-tower cosine (needs an embedding artifact). */
export const TWOTOWER_FEATURE = 'twotower_cosine';

/**
 * The features a student reads: every feature with an embedding artifact, else every feature but
 * the two-tower cosine (never a column of zeros standing in for a missing model). Its id is what the
 * model card records.
 */
export function studentFeatureSet(withEmbedding: boolean): { specs: readonly FeatureSpec[]; id: string } {
  const specs = withEmbedding ? FEATURES : FEATURES.filter((f) => f.name !== TWOTOWER_FEATURE);
  return { specs, id: featureSetId(specs) };
}

/** Column of a feature in the vector; throws for a name not in the registry. */
export function featureIndex(name: string): number {
  const i = FEATURES.findIndex((f) => f.name === name);
  if (i < 0) throw new Error(`no feature named "${name}"`);
  return i;
}
