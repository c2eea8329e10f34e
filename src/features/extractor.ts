/**
 * The query–item feature extractor for the student. `fromStore` reads the whole catalogue once and
 * keeps, per item, compact sorted arrays (term ids with their frequencies per field, title bigrams,
 * title character trigrams, numbers, quantities, brand) plus the collection statistics (document
 * frequencies, average field lengths). `extract` prepares the query once (terms, IDFs, n-grams,
 * numbers, brands mentioned) and then fills one row per item with a tight loop of binary searches
 * over those arrays: no allocation per pair.
 *
 * What each column means is in ./registry.ts; term matching uses src/text `analyze` (FTS5's terms).
 */
import { DistilrankError, runSliced, runSync, type Sliced, TypedList } from '../core/index.ts';
import type { Dataset, StoredItem, StoredJudgment } from '../store/index.ts';
import { ENGLISH_STOPWORDS, analyzeToken, cjkBigrams, foldDiacritics, hasCjk, tokenize } from '../text/index.ts';
import { quantitiesIn, quantityKey, numbersIn } from './quantities.ts';
import { FEATURES, FEATURE_SET_ID, featureIndex, featureNames } from './registry.ts';

export interface FeatureQuery {
  /** The query's id; with it, the item priors leave out this pair's own prior judgment. */
  id?: string;
  text: string;
}

export interface ExtractorOptions {
  /**
   * Judgments the item priors are computed from. Pass the training split's only: a prior that saw
   * the evaluated split's labels would leak them into the features.
   */
  priorJudgments?: readonly StoredJudgment[];
  /** Fills `twotower_cosine` (src/embed's Embeddings); without it that column stays 0 and consumers drop it. */
  embedding?: QueryItemSimilarity;
}

/** A query–item similarity from a versioned model (the two-tower embeddings). */
export interface QueryItemSimilarity {
  /** The artifact's id (models record it and refuse another). */
  readonly id: string;
  /** One similarity per item id, in order. */
  cosines(queryText: string, itemIds: readonly string[]): Float32Array;
  /** The same similarity for items outside the catalogue (free texts), when the model can embed them. */
  adHoc?(items: readonly StoredItem[]): QueryItemSimilarity;
}

/** BM25 parameters (Lucene / FTS5 defaults). */
export const BM25_K1 = 1.2;
export const BM25_B = 0.75;
/** Bayesian-mean prior strength (in judgments) toward the global mean gain. */
export const PRIOR_STRENGTH = 3;
/** As many query terms as BM25 retrieval uses (src/retrieve MAX_QUERY_TERMS). */
const MAX_QUERY_TERMS = 32;
/** Longest brand name, in terms, recognised in queries. */
const MAX_BRAND_TERMS = 6;

/** Fields, in order: title, description, fields (other text fields joined), all (the three joined). */
const FIELD_TITLE = 0,
  FIELD_ALL = 3;
const NF = 4;
/** Term ids stay below 2^24 so a bigram of two ids is one exact double. */
const MAX_TERMS = 2 ** 24;

const DIM = FEATURES.length;
const F = {
  bm25: [featureIndex('bm25_title'), featureIndex('bm25_description'), featureIndex('bm25_fields'), featureIndex('bm25_all')],
  coverage: [featureIndex('coverage_title'), featureIndex('coverage_description'), featureIndex('coverage_fields'), featureIndex('coverage_all')],
  coverageAllIdf: featureIndex('coverage_all_idf'),
  exact: featureIndex('exact_title'),
  phrase: featureIndex('phrase_title'),
  trigram: featureIndex('trigram_jaccard_title'),
  hasNumbers: featureIndex('query_has_numbers'),
  numbers: featureIndex('numbers_matched'),
  units: featureIndex('units_matched'),
  unitsConflict: featureIndex('units_conflict'),
  brand: featureIndex('brand_in_query'),
  otherBrand: featureIndex('other_brand_in_query'),
  queryTerms: featureIndex('query_terms'),
  titleTerms: featureIndex('title_terms_log'),
  hasDescription: featureIndex('has_description'),
  idfMax: featureIndex('query_idf_max'),
  idfMean: featureIndex('query_idf_mean'),
  idfMin: featureIndex('query_idf_min'),
  priorCount: featureIndex('prior_judgments_log'),
  priorGain: featureIndex('prior_gain_mean'),
  twotower: featureIndex('twotower_cosine'),
} as const;

/** Non-negative Lucene IDF. */
function idf(n: number, docs: number): number {
  return Math.log(1 + (docs - n + 0.5) / (n + 0.5));
}

/** Index of `x` in the sorted slice a[lo, hi), or -1. (Also used by the local teacher's features.) */
export function findSorted(a: Int32Array | Float64Array, lo: number, hi: number, x: number): number {
  hi -= 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid]!;
    if (v < x) lo = mid + 1;
    else if (v > x) hi = mid - 1;
    else return mid;
  }
  return -1;
}

/** Distinct character trigrams of the space-padded text, plus character bigrams of its CJK runs. */
function charGrams(normalised: string): string[] {
  if (!normalised) return [];
  const chars = [...` ${normalised} `];
  const out = new Set<string>();
  for (let i = 0; i + 2 < chars.length; i++) out.add(chars[i]! + chars[i + 1]! + chars[i + 2]!);
  for (const g of cjkBigrams(normalised)) out.add(g);
  return [...out];
}

/** Tokens for trigram matching: lower-cased, NFKC, Latin diacritics removed, not stemmed. */
function plainText(tokens: readonly string[]): string {
  return tokens.map(foldDiacritics).join(' ');
}

/** Rows of numbers, appended one row at a time (typed storage: millions of entries on a large catalogue). */
class Column {
  private readonly data = TypedList.float64();
  private readonly start: number[] = [0];
  push(v: number): void {
    this.data.push(v);
  }
  /** Close the current row. */
  end(): void {
    this.start.push(this.data.length);
  }
  get length(): number {
    return this.data.length;
  }
  ints(): Int32Array {
    return Int32Array.from(this.data.view());
  }
  doubles(): Float64Array {
    return this.data.view().slice();
  }
  starts(): Int32Array {
    return Int32Array.from(this.start);
  }
}

/** Items read from the store per statement (a pause point between batches). */
const ITEM_READ_BATCH = 2048;

/** What FeatureExtractor.analyse hands the constructor: per-item arrays, vocabularies, field totals. */
interface Analysis {
  n: number;
  index: Map<string, number>;
  vocab: Map<string, number>;
  grams: Map<string, number>;
  brands: Map<string, number>;
  /** Document frequency of each term id, per field; null for an ad-hoc extractor (it reads its base's). */
  df: Int32Array[] | null;
  brandOf: Int32Array;
  brandTermStart: Int32Array;
  brandTermIds: Int32Array;
  termStart: Int32Array;
  termIds: Int32Array;
  termTf: Float64Array;
  fieldLen: Float64Array;
  bigramStart: Int32Array;
  bigramKeys: Float64Array;
  gramStart: Int32Array;
  gramIds: Int32Array;
  titleText: string[];
  numStart: Int32Array;
  numVals: Float64Array;
  qtyStart: Int32Array;
  qtyKeys: Float64Array;
  unitMask: Int32Array;
  hasDescription: Uint8Array;
  /** Items with a non-empty field, and the field's total length, per field. */
  docs: Float64Array;
  lenSum: Float64Array;
}

interface PreparedQuery {
  key: string;
  /** Distinct query term ids (-1: not in the catalogue), at most MAX_QUERY_TERMS. */
  termIds: Int32Array;
  /** idf[f * m + j]: IDF of term j in field f. */
  idf: Float64Array;
  idfAllSum: number;
  idfMax: number;
  idfMean: number;
  idfMin: number;
  /** Every analysed query term (stopwords included), for the brand test. */
  allTermIds: Set<number>;
  exact: string;
  exactNeedsBoundaries: boolean;
  bigramKeys: Float64Array;
  bigramTotal: number;
  gramIds: Int32Array;
  gramTotal: number;
  numbers: Float64Array;
  quantityKeys: Float64Array;
  quantityUnits: Int32Array;
  brandsMentioned: Set<number>;
  tokenCount: number;
  ownPriors: Map<number, { count: number; sum: number }> | undefined;
}

export class FeatureExtractor {
  /** Width of a feature row (FEATURES.length). */
  static readonly dim = DIM;
  readonly featureSetId = FEATURE_SET_ID;
  /** Column names, in order (featureNames()). */
  readonly names: readonly string[] = Object.freeze(featureNames());
  readonly itemCount: number;

  private readonly index: Map<string, number>;
  private readonly vocab: Map<string, number>;
  private readonly grams: Map<string, number>;
  private readonly brands: Map<string, number>;
  /** The catalogue extractor whose vocabulary and statistics an ad-hoc extractor reads (see adHoc). */
  private readonly base: FeatureExtractor | undefined;

  private readonly df: Int32Array[];
  private readonly docs: Float64Array;
  private readonly avgLen: Float64Array;

  // Per item and field (slot = item * NF + field): sorted term ids and their frequencies.
  private readonly termStart: Int32Array;
  private readonly termIds: Int32Array;
  private readonly termTf: Float64Array;
  private readonly fieldLen: Float64Array;
  // Per item: sorted title bigram keys, sorted title gram ids, numbers, quantities, brand.
  private readonly bigramStart: Int32Array;
  private readonly bigramKeys: Float64Array;
  private readonly gramStart: Int32Array;
  private readonly gramIds: Int32Array;
  private readonly titleText: string[];
  private readonly numStart: Int32Array;
  private readonly numVals: Float64Array;
  private readonly qtyStart: Int32Array;
  private readonly qtyKeys: Float64Array;
  private readonly unitMask: Int32Array;
  private readonly hasDescription: Uint8Array;
  private readonly brandOf: Int32Array;
  private readonly brandTermStart: Int32Array;
  private readonly brandTermIds: Int32Array;
  // Priors.
  private readonly priorCount: Float64Array;
  private readonly priorSum: Float64Array;
  private priorTotalCount = 0;
  private priorTotalSum = 0;
  private readonly pairPriors = new Map<string, Map<number, { count: number; sum: number }>>();

  private last: PreparedQuery | undefined;
  /** The embedding similarity filling `twotower_cosine`, when given. */
  readonly embedding: QueryItemSimilarity | undefined;

  /** Load a data set's whole catalogue from the store (STORE_NOT_FOUND when it was never ingested). */
  static fromStore(dataset: Dataset, opts: ExtractorOptions = {}): FeatureExtractor {
    return new FeatureExtractor(runSync(FeatureExtractor.storeSteps(dataset)), opts);
  }

  /**
   * fromStore in slices of a few milliseconds, the event loop running between them: how a service
   * builds the extractor of its next artifact set while it keeps answering with the current one.
   */
  static async fromStoreSliced(dataset: Dataset, opts: ExtractorOptions = {}): Promise<FeatureExtractor> {
    return new FeatureExtractor(await runSliced(FeatureExtractor.storeSteps(dataset)), opts);
  }

  /** Read the catalogue (in batches, a pause point after each) and analyse it. */
  private static *storeSteps(dataset: Dataset): Sliced<Analysis> {
    const ids = dataset.itemIds();
    const items: StoredItem[] = [];
    for (let i = 0; i < ids.length; i += ITEM_READ_BATCH) {
      items.push(...dataset.storedItems(ids.slice(i, i + ITEM_READ_BATCH)));
      yield;
    }
    return yield* FeatureExtractor.analyse(items, undefined);
  }

  /** Build from items already in memory (what fromStore does after reading them). */
  static fromItems(items: readonly StoredItem[], opts: ExtractorOptions = {}): FeatureExtractor {
    return new FeatureExtractor(runSync(FeatureExtractor.analyse(items, undefined)), opts);
  }

  /**
   * Feature rows for items outside the catalogue (free texts to re-rank), computed against this
   * catalogue's vocabulary and statistics (IDF, average field lengths, global prior) as if they were
   * unjudged catalogue items: a term the catalogue never saw has document frequency 0, and brands are
   * not recognised on ad-hoc items. Only the given items are analysed, so it is cheap per request.
   * `twotower_cosine` is filled when the embedding can embed free texts (its `adHoc`), else left 0.
   */
  adHoc(items: readonly StoredItem[]): FeatureExtractor {
    const base = this.base ?? this;
    const embedding = base.embedding?.adHoc?.(items);
    return new FeatureExtractor(runSync(FeatureExtractor.analyse(items, base)), embedding ? { embedding } : {}, base);
  }

  /**
   * The per-item pass over a catalogue (tokens, terms, n-grams, numbers, brands): the expensive part
   * of a build, written as a generator so it can run in slices (src/core/sliced.ts). With `base`, terms and
   * grams are numbered after the base's (an ad-hoc extractor).
   */
  private static *analyse(items: readonly StoredItem[], base: FeatureExtractor | undefined): Sliced<Analysis> {
    const n = items.length;
    // An ad-hoc extractor reads the base's term and gram ids and numbers its own new ones after them.
    const vocab: Map<string, number> = base ? new OverlayMap(base.vocab) : new Map();
    const grams: Map<string, number> = base ? new OverlayMap(base.grams) : new Map();
    const brands: Map<string, number> = base ? base.brands : new Map();
    let nextTerm = base ? base.vocab.size : 0;
    let nextGram = base ? base.grams.size : 0;
    const stems = new Map<string, string>();
    const stemOf = (token: string): string => {
      let stem = stems.get(token);
      if (stem === undefined) {
        stem = analyzeToken(token);
        stems.set(token, stem);
      }
      return stem;
    };
    const termOf = (token: string): number => {
      const stem = stemOf(token);
      let id = vocab.get(stem);
      if (id === undefined) {
        id = nextTerm++;
        if (id >= MAX_TERMS) throw new Error(`catalogue vocabulary exceeds ${MAX_TERMS} terms`);
        vocab.set(stem, id);
      }
      return id;
    };
    const gramOf = (g: string): number => {
      let id = grams.get(g);
      if (id === undefined) {
        id = nextGram++;
        grams.set(g, id);
      }
      return id;
    };

    // Brands first: their vocabulary is needed to recognise them in queries.
    const brandTerms = new Column();
    const brandOf = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      if (i % 256 === 255) yield;
      const raw = base ? null : brandText(items[i]!);
      if (!raw) continue;
      const tokens = tokenize(raw);
      const content = tokens.filter((t) => !ENGLISH_STOPWORDS.has(t));
      const terms = (content.length ? content : tokens).map(termOf);
      if (!terms.length || terms.length > MAX_BRAND_TERMS) continue;
      const key = terms.join(' ');
      let b = brands.get(key);
      if (b === undefined) {
        b = brands.size;
        brands.set(key, b);
        for (const t of new Set(terms)) brandTerms.push(t);
        brandTerms.end();
      }
      brandOf[i] = b;
    }

    const terms = new Column();
    const tfs = new Column();
    const bigrams = new Column();
    const gramCol = new Column();
    const nums = new Column();
    const qtys = new Column();
    const fieldLen = new Float64Array(n * NF);
    const unitMask = new Int32Array(n);
    const hasDescription = new Uint8Array(n);
    const titleText = new Array<string>(n);
    const index = new Map<string, number>();
    const lenSum = new Float64Array(NF);
    const docs = new Float64Array(NF);
    const counts = new Map<number, number>();

    for (let i = 0; i < n; i++) {
      if (i % 32 === 31) yield;
      const it = items[i]!;
      const fieldsText = Object.values(it.fields).join('\n');
      const titleTokens = tokenize(it.title);
      const texts = [it.title, it.description ?? '', fieldsText];
      const fieldTerms = [titleTokens.map(termOf), tokenize(texts[1]!).map(termOf), tokenize(texts[2]!).map(termOf)];
      fieldTerms.push([...fieldTerms[0]!, ...fieldTerms[1]!, ...fieldTerms[2]!]);
      for (let f = 0; f < NF; f++) {
        const ts = fieldTerms[f]!;
        counts.clear();
        for (const t of ts) counts.set(t, (counts.get(t) ?? 0) + 1);
        const sorted = [...counts.keys()].sort((a, b) => a - b);
        for (const t of sorted) {
          terms.push(t);
          tfs.push(counts.get(t)!);
        }
        terms.end();
        fieldLen[i * NF + f] = ts.length;
        if (ts.length) {
          docs[f]! += 1;
          lenSum[f]! += ts.length;
        }
      }
      hasDescription[i] = it.description && it.description.trim() ? 1 : 0;

      // Title bigrams: consecutive term pairs, and CJK character bigrams as negative keys.
      const title = fieldTerms[FIELD_TITLE]!;
      const keys = new Set<number>();
      for (let k = 0; k + 1 < title.length; k++) keys.add(title[k]! * MAX_TERMS + title[k + 1]!);
      const plain = plainText(titleTokens);
      for (const g of cjkBigrams(plain)) keys.add(-1 - gramOf(g));
      for (const k of [...keys].sort((a, b) => a - b)) bigrams.push(k);
      bigrams.end();
      for (const g of charGrams(plain)
        .map(gramOf)
        .sort((a, b) => a - b))
        gramCol.push(g);
      gramCol.end();
      titleText[i] = ` ${titleTokens.map(stemOf).join(' ')} `;

      const allText = texts.join('\n');
      for (const v of numbersIn(allText)) nums.push(v);
      nums.end();
      const qs = quantitiesIn(allText);
      let mask = 0;
      for (const key of qs.map(quantityKey).sort((a, b) => a - b)) qtys.push(key);
      for (const q of qs) mask |= 1 << q.unit;
      qtys.end();
      unitMask[i] = mask;
      index.set(it.id, i);
    }
    // The conversions below copy millions of entries on a large catalogue: a slice each.
    const termStart = terms.starts();
    yield;
    const termIds = terms.ints();
    yield;
    const termTf = tfs.doubles();
    yield;
    // Document frequencies per field (an ad-hoc extractor reads its base's).
    let df: Int32Array[] | null = null;
    if (!base) {
      df = Array.from({ length: NF }, () => new Int32Array(nextTerm));
      for (let slot = 0; slot < n * NF; slot++) {
        if (slot % 4096 === 4095) yield;
        const col = df[slot % NF]!;
        for (let k = termStart[slot]!; k < termStart[slot + 1]!; k++) col[termIds[k]!]! += 1;
      }
    }
    const bigramKeys = bigrams.doubles();
    yield;
    const gramIds = gramCol.ints();
    yield;
    return {
      n,
      index,
      vocab,
      grams,
      brands,
      df,
      brandOf,
      brandTermStart: brandTerms.starts(),
      brandTermIds: brandTerms.ints(),
      termStart,
      termIds,
      termTf,
      fieldLen,
      bigramStart: bigrams.starts(),
      bigramKeys,
      gramStart: gramCol.starts(),
      gramIds,
      titleText,
      numStart: nums.starts(),
      numVals: nums.doubles(),
      qtyStart: qtys.starts(),
      qtyKeys: qtys.doubles(),
      unitMask,
      hasDescription,
      docs,
      lenSum,
    };
  }

  private constructor(a: Analysis, opts: ExtractorOptions, base?: FeatureExtractor) {
    const n = a.n;
    this.itemCount = n;
    this.base = base;
    this.embedding = opts.embedding;
    this.index = a.index;
    this.vocab = a.vocab;
    this.grams = a.grams;
    this.brands = a.brands;
    this.brandOf = a.brandOf;
    this.brandTermStart = a.brandTermStart;
    this.brandTermIds = a.brandTermIds;
    this.fieldLen = a.fieldLen;
    this.unitMask = a.unitMask;
    this.hasDescription = a.hasDescription;
    this.titleText = a.titleText;
    this.termStart = a.termStart;
    this.termIds = a.termIds;
    this.termTf = a.termTf;
    if (a.df) {
      this.df = a.df;
      this.docs = a.docs;
      this.avgLen = new Float64Array(NF);
      for (let f = 0; f < NF; f++) this.avgLen[f] = a.docs[f]! > 0 ? a.lenSum[f]! / a.docs[f]! : 0;
    } else {
      // An ad-hoc extractor: the catalogue's statistics.
      this.df = base!.df;
      this.docs = base!.docs;
      this.avgLen = base!.avgLen;
    }
    this.bigramStart = a.bigramStart;
    this.bigramKeys = a.bigramKeys;
    this.gramStart = a.gramStart;
    this.gramIds = a.gramIds;
    this.numStart = a.numStart;
    this.numVals = a.numVals;
    this.qtyStart = a.qtyStart;
    this.qtyKeys = a.qtyKeys;

    this.priorCount = new Float64Array(n);
    this.priorSum = new Float64Array(n);
    if (base) {
      this.priorTotalCount = base.priorTotalCount;
      this.priorTotalSum = base.priorTotalSum;
      return;
    }
    for (const j of opts.priorJudgments ?? []) {
      const i = this.index.get(j.itemId);
      if (i === undefined) continue;
      this.priorCount[i]! += 1;
      this.priorSum[i]! += j.gain;
      this.priorTotalCount += 1;
      this.priorTotalSum += j.gain;
      let byItem = this.pairPriors.get(j.queryId);
      if (!byItem) this.pairPriors.set(j.queryId, (byItem = new Map()));
      const own = byItem.get(i);
      if (own) {
        own.count += 1;
        own.sum += j.gain;
      } else {
        byItem.set(i, { count: 1, sum: j.gain });
      }
    }
  }

  /** Whether the catalogue holds an item with this id. */
  has(itemId: string): boolean {
    return this.index.has(itemId);
  }

  /**
   * Feature rows for one query and its candidates: row-major, itemIds.length × FEATURES.length, in
   * the registry's column order. Written into `out` when given (it must be long enough). Unknown item
   * ids throw UNKNOWN_REFERENCE.
   */
  extract(query: FeatureQuery, itemIds: readonly string[], out?: Float32Array): Float32Array {
    const rows = itemIds.length;
    const idx = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const id = itemIds[r]!;
      const i = this.index.get(id);
      if (i === undefined) {
        throw new DistilrankError('UNKNOWN_REFERENCE', `unknown item "${id}": not in the catalogue the feature extractor was built from`, {
          hint: 'pass ids of ingested items (re-build the extractor after re-ingesting the data set)',
        });
      }
      idx[r] = i;
    }
    if (out && out.length < rows * DIM) throw new RangeError(`out holds ${out.length} values; ${rows} rows need ${rows * DIM}`);
    const o = out ?? new Float32Array(rows * DIM);
    o.fill(0, 0, rows * DIM);
    const q = this.prepare(query);
    for (let r = 0; r < rows; r++) this.row(q, idx[r]!, o, r * DIM);
    if (this.embedding && rows > 0) {
      const c = this.embedding.cosines(query.text, itemIds);
      for (let r = 0; r < rows; r++) o[r * DIM + F.twotower] = c[r]!;
    }
    return o;
  }

  private row(q: PreparedQuery, i: number, o: Float32Array, at: number): void {
    const m = q.termIds.length;
    const { termStart, termIds, termTf, fieldLen } = this;

    // BM25 and coverage per field.
    let idfHit = 0;
    for (let f = 0; f < NF; f++) {
      const slot = i * NF + f;
      const lo = termStart[slot]!;
      const hi = termStart[slot + 1]!;
      if (lo === hi || m === 0) continue;
      const norm = BM25_K1 * (1 - BM25_B + (BM25_B * fieldLen[slot]!) / this.avgLen[f]!);
      let score = 0;
      let hits = 0;
      for (let j = 0; j < m; j++) {
        const t = q.termIds[j]!;
        if (t < 0) continue;
        const k = findSorted(termIds, lo, hi, t);
        if (k < 0) continue;
        const tf = termTf[k]!;
        score += (q.idf[f * m + j]! * tf * (BM25_K1 + 1)) / (tf + norm);
        hits += 1;
        if (f === FIELD_ALL) idfHit += q.idf[FIELD_ALL * m + j]!;
      }
      o[at + F.bm25[f]!] = score;
      o[at + F.coverage[f]!] = hits / m;
    }
    if (q.idfAllSum > 0) o[at + F.coverageAllIdf] = idfHit / q.idfAllSum;

    // Exact and phrase match, trigram Jaccard (title).
    if (q.exact) {
      const title = this.titleText[i]!;
      o[at + F.exact] = (q.exactNeedsBoundaries ? title.includes(` ${q.exact} `) : title.includes(q.exact)) ? 1 : 0;
    }
    if (q.bigramTotal > 0) {
      const lo = this.bigramStart[i]!;
      const hi = this.bigramStart[i + 1]!;
      let found = 0;
      for (let j = 0; j < q.bigramKeys.length; j++) if (findSorted(this.bigramKeys, lo, hi, q.bigramKeys[j]!) >= 0) found += 1;
      o[at + F.phrase] = found / q.bigramTotal;
    }
    if (q.gramTotal > 0) {
      const lo = this.gramStart[i]!;
      const hi = this.gramStart[i + 1]!;
      let inter = 0;
      for (let j = 0; j < q.gramIds.length; j++) if (findSorted(this.gramIds, lo, hi, q.gramIds[j]!) >= 0) inter += 1;
      const union = q.gramTotal + (hi - lo) - inter;
      o[at + F.trigram] = union > 0 ? inter / union : 0;
    }

    // Numbers and units.
    if (q.numbers.length) {
      o[at + F.hasNumbers] = 1;
      const lo = this.numStart[i]!;
      const hi = this.numStart[i + 1]!;
      let found = 0;
      for (let j = 0; j < q.numbers.length; j++) if (findSorted(this.numVals, lo, hi, q.numbers[j]!) >= 0) found += 1;
      o[at + F.numbers] = found / q.numbers.length;
    }
    if (q.quantityKeys.length) {
      const lo = this.qtyStart[i]!;
      const hi = this.qtyStart[i + 1]!;
      const mask = this.unitMask[i]!;
      let found = 0;
      let conflict = 0;
      for (let j = 0; j < q.quantityKeys.length; j++) {
        if (findSorted(this.qtyKeys, lo, hi, q.quantityKeys[j]!) >= 0) found += 1;
        else if (mask & (1 << q.quantityUnits[j]!)) conflict = 1;
      }
      o[at + F.units] = found / q.quantityKeys.length;
      o[at + F.unitsConflict] = conflict;
    }

    // Brand.
    const b = this.brandOf[i]!;
    if (b >= 0) {
      let all = 1;
      for (let k = this.brandTermStart[b]!; k < this.brandTermStart[b + 1]!; k++) {
        if (!q.allTermIds.has(this.brandTermIds[k]!)) {
          all = 0;
          break;
        }
      }
      o[at + F.brand] = all;
    }
    if (q.brandsMentioned.size && !(b >= 0 && q.brandsMentioned.has(b))) o[at + F.otherBrand] = 1;

    // Lengths and query IDF statistics.
    o[at + F.queryTerms] = q.tokenCount;
    o[at + F.titleTerms] = Math.log1p(fieldLen[i * NF + FIELD_TITLE]!);
    o[at + F.hasDescription] = this.hasDescription[i]!;
    o[at + F.idfMax] = q.idfMax;
    o[at + F.idfMean] = q.idfMean;
    o[at + F.idfMin] = q.idfMin;

    // Priors, leaving out this pair's own judgments.
    let count = this.priorCount[i]!;
    let sum = this.priorSum[i]!;
    let totalCount = this.priorTotalCount;
    let totalSum = this.priorTotalSum;
    const own = q.ownPriors?.get(i);
    if (own) {
      count -= own.count;
      sum -= own.sum;
      totalCount -= own.count;
      totalSum -= own.sum;
    }
    const globalMean = totalCount > 0 ? totalSum / totalCount : 0;
    o[at + F.priorCount] = Math.log1p(count);
    o[at + F.priorGain] = (sum + PRIOR_STRENGTH * globalMean) / (count + PRIOR_STRENGTH);
    // twotower_cosine: filled in extract() when an embedding is given; emb_sim_2: reserved, 0.
  }

  /** Everything about the query the per-item loop needs, computed once (and reused for a repeat). */
  private prepare(query: FeatureQuery): PreparedQuery {
    const key = `${query.id ?? ''}\u0000${query.text}`;
    if (this.last?.key === key) return this.last;
    const tokens = tokenize(query.text);
    const analysed = tokens.map(analyzeToken);
    const content = tokens.map((t, k) => (ENGLISH_STOPWORDS.has(t) ? null : analysed[k]!)).filter((t): t is string => t !== null);
    const distinct = [...new Set(content.length ? content : analysed)].slice(0, MAX_QUERY_TERMS);
    const m = distinct.length;
    const termIds = Int32Array.from(distinct, (t) => this.vocab.get(t) ?? -1);
    const idfs = new Float64Array(NF * m);
    for (let f = 0; f < NF; f++) {
      for (let j = 0; j < m; j++) {
        const t = termIds[j]!;
        // An ad-hoc item's own new terms (ids past the catalogue's) have catalogue frequency 0.
        idfs[f * m + j] = idf(t >= 0 ? (this.df[f]![t] ?? 0) : 0, this.docs[f]!);
      }
    }
    const idfAll = idfs.subarray(FIELD_ALL * m, FIELD_ALL * m + m);
    let idfAllSum = 0;
    let idfMax = 0;
    let idfMin = m ? Infinity : 0;
    for (const v of idfAll) {
      idfAllSum += v;
      idfMax = Math.max(idfMax, v);
      idfMin = Math.min(idfMin, v);
    }

    const allIds = analysed.map((t) => this.vocab.get(t) ?? -1);
    const plain = plainText(tokens);
    const bigramKeys = new Set<number>();
    let bigramTotal = 0;
    const seenPairs = new Set<string>();
    for (let k = 0; k + 1 < analysed.length; k++) {
      const pair = `${analysed[k]!} ${analysed[k + 1]!}`;
      if (seenPairs.has(pair)) continue;
      seenPairs.add(pair);
      bigramTotal += 1;
      const a = allIds[k]!;
      const b = allIds[k + 1]!;
      if (a >= 0 && b >= 0) bigramKeys.add(a * MAX_TERMS + b);
    }
    for (const g of new Set(cjkBigrams(plain))) {
      bigramTotal += 1;
      const id = this.grams.get(g);
      if (id !== undefined) bigramKeys.add(-1 - id);
    }
    const grams = charGrams(plain);
    const gramIds = grams.map((g) => this.grams.get(g)).filter((g): g is number => g !== undefined);

    const brandsMentioned = new Set<number>();
    const contentIds = tokens.filter((t) => !ENGLISH_STOPWORDS.has(t)).map((t) => this.vocab.get(analyzeToken(t)) ?? -1);
    for (let s = 0; s < contentIds.length; s++) {
      for (let len = 1; len <= MAX_BRAND_TERMS && s + len <= contentIds.length; len++) {
        const span = contentIds.slice(s, s + len);
        if (span.includes(-1)) break;
        const b = this.brands.get(span.join(' '));
        if (b !== undefined) brandsMentioned.add(b);
      }
    }

    const quantities = quantitiesIn(query.text);
    const prepared: PreparedQuery = {
      key,
      termIds,
      idf: idfs,
      idfAllSum,
      idfMax,
      idfMean: m ? idfAllSum / m : 0,
      idfMin,
      allTermIds: new Set(allIds.filter((t) => t >= 0)),
      exact: analysed.length ? analysed.join(' ') : '',
      exactNeedsBoundaries: !hasCjk(query.text),
      bigramKeys: Float64Array.from(bigramKeys),
      bigramTotal,
      gramIds: Int32Array.from(new Set(gramIds)),
      gramTotal: grams.length,
      numbers: Float64Array.from(numbersIn(query.text)),
      quantityKeys: Float64Array.from(quantities, quantityKey),
      quantityUnits: Int32Array.from(quantities, (x) => x.unit),
      brandsMentioned,
      tokenCount: tokens.length,
      ownPriors: query.id !== undefined ? this.pairPriors.get(query.id) : undefined,
    };
    this.last = prepared;
    return prepared;
  }
}

/** A map that reads through to a base map it never changes; additions stay in this one. */
class OverlayMap<K, V> extends Map<K, V> {
  constructor(private readonly under: ReadonlyMap<K, V>) {
    super();
  }
  override get(key: K): V | undefined {
    return this.under.get(key) ?? super.get(key);
  }
  override has(key: K): boolean {
    return this.under.has(key) || super.has(key);
  }
}

/** The item's brand: fields.brand, else a string attributes.brand; null when it has none. */
function brandText(item: StoredItem): string | null {
  const fromFields = item.fields.brand;
  if (typeof fromFields === 'string' && fromFields.trim()) return fromFields;
  const fromAttributes = item.attributes.brand;
  if (typeof fromAttributes === 'string' && fromAttributes.trim()) return fromAttributes;
  return null;
}
