/**
 * Features of the `local` teacher (which is NOT an LLM): the student's 28 cheap features plus
 * features the student cannot afford at serving time, computed per (query, item) pair from the
 * store's catalogue and the TRAINING split's human judgments. They may be 10–100× slower than the
 * student's: the teacher labels pairs offline, the student serves.
 *
 * - typo-tolerant coverage: a query term of ≥ 4 characters matches an item token within
 *   Damerau–Levenshtein (optimal string alignment) distance 1, or with the same stem; shorter terms
 *   need the exact token or stem (home-depot queries are full of typos: "refrigerater");
 * - character 3-gram TF-IDF cosine between the query and the item text (sublinear tf, smoothed IDF
 *   over the catalogue), for the whole item text and for the title;
 * - learned term association: from the training split's judged pairs only, smoothed log-odds that a
 *   pair is relevant (mass on L4 + L5) given that its query has term a and its title term b,
 *   relative to the base rate. Training rows never see their own label: their whole query is held
 *   out (default; or leave-one-out, the pair only);
 * - title proximity (matched query terms / the shortest title window covering them) and the query's
 *   head term (its last content word, the product noun in product search) in the title.
 *
 * LOCAL_FEATURES is the registry (name, version, description); LOCAL_FEATURE_SET_ID hashes the
 * student's feature set together with these, so a change to either invalidates trained teachers.
 */
import { createHash } from 'node:crypto';
import { FEATURES, FeatureExtractor, featureSetId, findSorted, type FeatureQuery, type FeatureSpec } from '../features/index.ts';
import type { Dataset, StoredItem, StoredJudgment, StoredQuery } from '../store/index.ts';
import { ENGLISH_STOPWORDS, analyzeToken, foldDiacritics, tokenize } from '../text/index.ts';

export interface LocalFeatureSpec {
  readonly name: string;
  readonly version: number;
  readonly description: string;
}

const spec = (name: string, description: string, version = 1): LocalFeatureSpec => Object.freeze({ name, version, description });

/** The teacher's own features, appended after the student's FEATURES, in this order. */
export const LOCAL_FEATURES: readonly LocalFeatureSpec[] = Object.freeze([
  spec(
    'typo_coverage_title',
    'Share of the query terms found in the title allowing one typo: terms of ≥ 4 characters match a title token within Damerau–Levenshtein distance 1 or with the same stem; shorter terms need the exact token or stem.',
  ),
  spec('typo_coverage_all', 'The same typo-tolerant share over the whole item text (title, description, other fields).'),
  spec(
    'trigram_tfidf_all',
    'Cosine of the character 3-gram TF-IDF vectors (sublinear tf, smoothed IDF over the catalogue) of the query and the whole item text (first 4,000 characters).',
  ),
  spec('trigram_tfidf_title', 'Cosine of the character 3-gram TF-IDF vectors of the query and the title (IDF over the catalogue titles).'),
  spec(
    'assoc_mean',
    'Learned term association, averaged over every (query term, title term) pair: smoothed log-odds that a training pair with both terms is relevant (L4+L5), relative to the base rate; unseen term pairs count 0. Training rows leave their own label out.',
  ),
  spec('assoc_best_mean', 'For each query term, its most favourable title term association; the mean over the query terms.'),
  spec('assoc_best_min', 'For each query term, its most favourable title term association; the minimum over the query terms (the worst-served query term).'),
  spec(
    'assoc_support_log',
    'ln(1 + training pairs behind the association scores of this pair) (after the hold-out): how much evidence assoc_* rest on; label-independent.',
  ),
  spec(
    'proximity_title',
    'Query terms found in the title (typo-tolerant) divided by the length of the shortest title window that contains all of them: 1 when they are adjacent, lower when scattered; 0 when none is found.',
  ),
  spec(
    'head_term_title',
    '1 when the query\'s last content word (the product noun in most product queries: "toilet seat" → seat) is in the title, typo-tolerant.',
  ),
]);

/** Student features first (FEATURES order), then LOCAL_FEATURES. */
export const LOCAL_FEATURE_SET_ID: string = featureSetId([
  ...FEATURES.map((f: FeatureSpec) => ({ name: `student:${f.name}`, version: f.version })),
  ...LOCAL_FEATURES.map((f) => ({ name: `local:${f.name}`, version: f.version })),
]);

export function localFeatureNames(): string[] {
  return [...FEATURES.map((f) => f.name), ...LOCAL_FEATURES.map((f) => f.name)];
}

/** Shortest query term (in characters) that may match with a typo. */
export const TYPO_MIN_LENGTH = 4;
/** Characters of an item's whole text used for the 3-gram vectors. */
export const MAX_GRAM_CHARS = 4000;
/** Smoothing strength (in pairs) of the association log-odds toward the base rate. */
export const ASSOC_SMOOTHING = 2;
/** Relevant for the association: probability mass on L4 and L5. */
export const ASSOC_RELEVANT_FROM = 4;
const MAX_QUERY_TERMS = 32;
const KEY_BASE = 2 ** 24;

/**
 * How training rows are kept from seeing their own label in the association features: `pair`
 * (leave-one-out: the pair's own judgment is removed) or `query` (every judgment of the row's query is
 * removed, as for a dev or test query that has none in training).
 */
export type AssocHoldout = 'pair' | 'query';

export interface LocalFeatureOptions {
  holdout?: AssocHoldout;
}

/** a[ai..] === b[bi..] without allocating. */
function sameTail(a: string, ai: number, b: string, bi: number): boolean {
  if (a.length - ai !== b.length - bi) return false;
  for (; ai < a.length; ai++, bi++) if (a.charCodeAt(ai) !== b.charCodeAt(bi)) return false;
  return true;
}

/** True when a and b are within optimal-string-alignment (Damerau–Levenshtein) distance 1. */
export function withinOneEdit(a: string, b: string): boolean {
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > 1) return false;
  let i = 0;
  const n = Math.min(la, lb);
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (la === lb) {
    if (i === la) return true;
    // substitution at i, or transposition of i and i + 1
    if (sameTail(a, i + 1, b, i + 1)) return true;
    return i + 1 < la && a.charCodeAt(i) === b.charCodeAt(i + 1) && a.charCodeAt(i + 1) === b.charCodeAt(i) && sameTail(a, i + 2, b, i + 2);
  }
  // one insertion or deletion at i
  return la > lb ? sameTail(a, i + 1, b, i) : sameTail(a, i, b, i + 1);
}

/**
 * Character 3-grams (with counts) of text already tokenised and folded, space-padded. With `add`,
 * new grams join the catalogue's gram vocabulary; without, grams the catalogue never had get private
 * negative ids (they count in the query's norm, and match nothing).
 */
function gramCounts(plain: string, grams: Map<string, number>, add: boolean): Map<number, number> {
  const out = new Map<number, number>();
  if (!plain) return out;
  const unseen = new Map<string, number>();
  const chars = [...` ${plain} `];
  for (let k = 0; k + 2 < chars.length; k++) {
    const g = chars[k]! + chars[k + 1]! + chars[k + 2]!;
    let id = grams.get(g);
    if (id === undefined) {
      if (add) grams.set(g, (id = grams.size));
      else {
        id = unseen.get(g);
        if (id === undefined) unseen.set(g, (id = -1 - unseen.size));
      }
    }
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/** Sorted ids and L2-normalised sublinear tf-idf weights. */
function tfidfVector(counts: Map<number, number>, idfOf: (id: number) => number): { ids: number[]; w: number[] } {
  const ids = [...counts.keys()].sort((a, b) => a - b);
  const w = ids.map((id) => (1 + Math.log(counts.get(id)!)) * idfOf(id));
  const norm = Math.sqrt(w.reduce((s, x) => s + x * x, 0));
  return { ids, w: norm > 0 ? w.map((x) => x / norm) : w };
}

/** Growable CSR (compressed rows) of numbers. */
class Rows {
  private data: number[] = [];
  readonly start: number[] = [0];
  pushRow(values: Iterable<number>): void {
    for (const v of values) this.data.push(v);
    this.start.push(this.data.length);
  }
  ints(): Int32Array {
    return Int32Array.from(this.data);
  }
  floats(): Float32Array {
    return Float32Array.from(this.data);
  }
  starts(): Int32Array {
    return Int32Array.from(this.start);
  }
}

/** P(relevant) of a judgment: its (soft) mass on L4 and L5. */
function relevantMass(j: StoredJudgment): number {
  if (j.soft) {
    let p = 0;
    for (let k = ASSOC_RELEVANT_FROM - 1; k < 5; k++) p += j.soft[k]!;
    return p;
  }
  return j.level >= ASSOC_RELEVANT_FROM ? 1 : 0;
}

/** Distinct content (non-stopword) tokens, in first-occurrence order; all tokens when all are stopwords. */
function contentTokens(tokens: readonly string[]): string[] {
  const content = tokens.filter((t) => !ENGLISH_STOPWORDS.has(t));
  return [...new Set(content.length ? content : tokens)].slice(0, MAX_QUERY_TERMS);
}

interface PreparedQuery {
  key: string;
  /** Number of typo-matching query terms. */
  m: number;
  /** token id → bit mask of the query terms it matches. */
  tokenMask: Map<number, number>;
  /** Index of the head (last content) term, -1 when none. */
  head: number;
  gramIds: Int32Array;
  gramW: Float64Array;
  gramTitleIds: Int32Array;
  gramTitleW: Float64Array;
  /** Distinct stem ids of the query's content terms (-1 unknown to the training vocabulary). */
  assocTerms: Int32Array;
  /** Hold-out: a training row's own contributions to subtract, per item (pair) or per key (query). */
  ownPair: Map<number, number> | undefined;
  ownQuery: Map<number, { pos: number; n: number }> | undefined;
  /** Relevant mass and pairs held out for the whole query (holdout 'query'). */
  ownRel: number;
  ownPairs: number;
}

export interface LocalFeatureData {
  items: readonly StoredItem[];
  /** The training split's queries (their text keys the association counts). */
  trainQueries: readonly StoredQuery[];
  /** The training split's judgments (one judgment set). */
  trainJudgments: readonly StoredJudgment[];
}

/**
 * The teacher's feature extractor: width = FEATURES.length + LOCAL_FEATURES.length. Built from the
 * whole catalogue and the training judgments; `extract` fills rows for one query's items.
 */
export class LocalFeatureExtractor {
  readonly names: readonly string[] = Object.freeze(localFeatureNames());
  readonly dim = this.names.length;
  readonly featureSetId = LOCAL_FEATURE_SET_ID;
  readonly holdout: AssocHoldout;
  /** SHA-256 of the training judgments the association and prior features read (model cards record it). */
  readonly trainFingerprint: string;
  readonly trainPairs: number;

  private readonly student: FeatureExtractor;
  private readonly index = new Map<string, number>();
  // tokens: folded, lower-cased, unstemmed
  private readonly tokens = new Map<string, number>();
  private readonly tokenStem: number[] = [];
  private readonly tokensByLength: number[][] = [];
  private readonly tokensByStem = new Map<number, number[]>();
  private readonly stems = new Map<string, number>();
  private readonly allTokStart: Int32Array;
  private readonly allTokIds: Int32Array;
  private readonly titleSeqStart: Int32Array;
  private readonly titleSeq: Int32Array;
  private readonly titleTokStart: Int32Array;
  private readonly titleTokIds: Int32Array;
  private readonly titleStemStart: Int32Array;
  private readonly titleStems: Int32Array;
  // 3-grams
  private readonly grams = new Map<string, number>();
  private readonly idfAll: Float64Array;
  private readonly idfTitle: Float64Array;
  private readonly docs: number;
  private readonly gramStart: Int32Array;
  private readonly gramIds: Int32Array;
  private readonly gramW: Float32Array;
  private readonly gramTitleStart: Int32Array;
  private readonly gramTitleIds: Int32Array;
  private readonly gramTitleW: Float32Array;
  // association
  private readonly assocIndex = new Map<number, number>();
  private readonly assocPos: Float64Array;
  private readonly assocN: Float64Array;
  /** Relevant mass and number of the training pairs behind the counts (the base rate, before hold-out). */
  private readonly relSum: number;
  private readonly relPairs: number;
  /** queryId → its training text and its judged items (item index → P(relevant)). */
  private readonly trainByQuery = new Map<string, { text: string; items: Map<number, number> }>();

  private last: PreparedQuery | undefined;

  /** From the store: the whole catalogue and the train split's judgments of `judgmentSet` (default: the data set's). */
  static fromStore(dataset: Dataset, judgmentSet?: string, opts: LocalFeatureOptions = {}): LocalFeatureExtractor {
    const set = judgmentSet ?? dataset.defaultJudgmentSet;
    return new LocalFeatureExtractor(
      {
        items: dataset.storedItems(dataset.itemIds()),
        trainQueries: dataset.storedQueries('train'),
        trainJudgments: dataset.storedJudgments({ split: 'train', judgmentSet: set }),
      },
      opts,
    );
  }

  static fromData(data: LocalFeatureData, opts: LocalFeatureOptions = {}): LocalFeatureExtractor {
    return new LocalFeatureExtractor(data, opts);
  }

  private constructor(data: LocalFeatureData, opts: LocalFeatureOptions) {
    this.holdout = opts.holdout ?? 'query';
    const { items, trainQueries, trainJudgments } = data;
    this.student = FeatureExtractor.fromItems(items, { priorJudgments: trainJudgments });
    const n = items.length;
    this.docs = n;

    const stemId = (stem: string): number => {
      let id = this.stems.get(stem);
      if (id === undefined) this.stems.set(stem, (id = this.stems.size));
      return id;
    };
    const tokenId = (raw: string): number => {
      const t = foldDiacritics(raw);
      let id = this.tokens.get(t);
      if (id === undefined) {
        id = this.tokens.size;
        this.tokens.set(t, id);
        const s = stemId(analyzeToken(t));
        this.tokenStem.push(s);
        (this.tokensByLength[t.length] ??= []).push(id);
        const list = this.tokensByStem.get(s);
        if (list) list.push(id);
        else this.tokensByStem.set(s, [id]);
      }
      return id;
    };

    const allTok = new Rows();
    const titleSeq = new Rows();
    const titleTok = new Rows();
    const titleStems = new Rows();
    const gramRows = new Rows();
    const gramCountRows = new Rows();
    const gramTitleRows = new Rows();
    const gramTitleCountRows = new Rows();
    const dfAll: number[] = [];
    const dfTitle: number[] = [];
    items.forEach((it, i) => {
      this.index.set(it.id, i);
      const titleTokens = tokenize(it.title);
      const restTokens = tokenize(`${it.description ?? ''}\n${Object.values(it.fields).join('\n')}`);
      const seq = titleTokens.map(tokenId);
      titleSeq.pushRow(seq);
      titleTok.pushRow([...new Set(seq)].sort((a, b) => a - b));
      const contentStems = new Set(titleTokens.filter((t) => !ENGLISH_STOPWORDS.has(t)).map((t) => this.tokenStem[tokenId(t)]!));
      titleStems.pushRow([...contentStems].sort((a, b) => a - b));
      allTok.pushRow([...new Set([...seq, ...restTokens.map(tokenId)])].sort((a, b) => a - b));

      const titlePlain = titleTokens.map(foldDiacritics).join(' ');
      const allPlain = [titlePlain, ...restTokens.map(foldDiacritics)].join(' ').slice(0, MAX_GRAM_CHARS);
      const ga = gramCounts(allPlain, this.grams, true);
      const gt = gramCounts(titlePlain, this.grams, true);
      for (const [counts, df, idRows, countRows] of [
        [ga, dfAll, gramRows, gramCountRows],
        [gt, dfTitle, gramTitleRows, gramTitleCountRows],
      ] as const) {
        const ids = [...counts.keys()].sort((a, b) => a - b);
        for (const g of ids) df[g] = (df[g] ?? 0) + 1;
        idRows.pushRow(ids);
        countRows.pushRow(ids.map((g) => counts.get(g)!));
      }
    });
    this.allTokStart = allTok.starts();
    this.allTokIds = allTok.ints();
    this.titleSeqStart = titleSeq.starts();
    this.titleSeq = titleSeq.ints();
    this.titleTokStart = titleTok.starts();
    this.titleTokIds = titleTok.ints();
    this.titleStemStart = titleStems.starts();
    this.titleStems = titleStems.ints();

    const G = this.grams.size;
    this.idfAll = new Float64Array(G);
    this.idfTitle = new Float64Array(G);
    for (let g = 0; g < G; g++) {
      this.idfAll[g] = Math.log((1 + n) / (1 + (dfAll[g] ?? 0))) + 1;
      this.idfTitle[g] = Math.log((1 + n) / (1 + (dfTitle[g] ?? 0))) + 1;
    }
    this.gramStart = gramRows.starts();
    this.gramIds = gramRows.ints();
    this.gramW = weights(this.gramStart, this.gramIds, gramCountRows.floats(), this.idfAll);
    this.gramTitleStart = gramTitleRows.starts();
    this.gramTitleIds = gramTitleRows.ints();
    this.gramTitleW = weights(this.gramTitleStart, this.gramTitleIds, gramTitleCountRows.floats(), this.idfTitle);

    // Association counts over the training judgments.
    const textOf = new Map(trainQueries.map((q) => [q.id, q.text]));
    const pos: number[] = [];
    const cnt: number[] = [];
    let relSum = 0;
    let used = 0;
    const fp = createHash('sha256');
    for (const j of trainJudgments) {
      const text = textOf.get(j.queryId);
      const i = this.index.get(j.itemId);
      fp.update(`${j.queryId}\0${j.itemId}\0${j.judgmentSet}\0${j.level}\0${j.soft ? j.soft.join(',') : ''}\0${text ?? ''}\n`);
      if (text === undefined || i === undefined) continue;
      const p = relevantMass(j);
      used += 1;
      relSum += p;
      let q = this.trainByQuery.get(j.queryId);
      if (!q) this.trainByQuery.set(j.queryId, (q = { text, items: new Map() }));
      q.items.set(i, p);
      const qTerms = this.assocQueryTerms(text, true);
      for (const a of qTerms) {
        for (let k = this.titleStemStart[i]!; k < this.titleStemStart[i + 1]!; k++) {
          const key = a * KEY_BASE + this.titleStems[k]!;
          let slot = this.assocIndex.get(key);
          if (slot === undefined) {
            slot = pos.length;
            this.assocIndex.set(key, slot);
            pos.push(0);
            cnt.push(0);
          }
          pos[slot]! += p;
          cnt[slot]! += 1;
        }
      }
    }
    this.trainFingerprint = fp.digest('hex');
    this.trainPairs = used;
    this.assocPos = Float64Array.from(pos);
    this.assocN = Float64Array.from(cnt);
    this.relSum = relSum;
    this.relPairs = used;
  }

  /** Whether the catalogue holds this item. */
  has(itemId: string): boolean {
    return this.index.has(itemId);
  }

  /** Stem ids of the query's distinct content terms (adding unseen stems only while building). */
  private assocQueryTerms(text: string, add: boolean): number[] {
    const out = new Set<number>();
    for (const t of contentTokens(tokenize(text))) {
      const stem = analyzeToken(foldDiacritics(t));
      let id = this.stems.get(stem);
      if (id === undefined && add) this.stems.set(stem, (id = this.stems.size));
      out.add(id ?? -1);
    }
    return [...out];
  }

  /**
   * Feature rows for one query and its items: row-major, itemIds.length × dim (student features, then
   * LOCAL_FEATURES). With `query.id` of a training query (and its training text), the prior and
   * association features leave that query's own judgments out as training rows did. Unknown item ids
   * throw UNKNOWN_REFERENCE (from the student's extractor).
   */
  extract(query: FeatureQuery, itemIds: readonly string[]): Float32Array {
    const rows = itemIds.length;
    const S = FEATURES.length;
    const D = this.dim;
    const base = this.student.extract(query, itemIds);
    const out = new Float32Array(rows * D);
    const q = this.prepare(query);
    for (let r = 0; r < rows; r++) {
      out.set(base.subarray(r * S, (r + 1) * S), r * D);
      this.row(q, this.index.get(itemIds[r]!)!, out, r * D + S);
    }
    return out;
  }

  private row(q: PreparedQuery, i: number, o: Float32Array, at: number): void {
    // Typo-tolerant coverage, proximity and head term.
    if (q.m > 0) {
      const full = q.m >= 32 ? -1 : (1 << q.m) - 1;
      let titleMask = 0;
      let allMask = 0;
      for (const [tok, mask] of q.tokenMask) {
        if ((titleMask | mask) !== titleMask && findSorted(this.titleTokIds, this.titleTokStart[i]!, this.titleTokStart[i + 1]!, tok) >= 0) titleMask |= mask;
        if ((allMask | mask) !== allMask && findSorted(this.allTokIds, this.allTokStart[i]!, this.allTokStart[i + 1]!, tok) >= 0) allMask |= mask;
      }
      titleMask &= full;
      allMask &= full;
      const found = popcount(titleMask);
      o[at + 0] = found / q.m;
      o[at + 1] = popcount(allMask) / q.m;
      o[at + 8] = found ? found / this.window(q, i, titleMask, found) : 0;
      o[at + 9] = q.head >= 0 && titleMask & (1 << q.head) ? 1 : 0;
    }
    // 3-gram TF-IDF cosines.
    o[at + 2] = dot(q.gramIds, q.gramW, this.gramIds, this.gramW, this.gramStart[i]!, this.gramStart[i + 1]!);
    o[at + 3] = dot(q.gramTitleIds, q.gramTitleW, this.gramTitleIds, this.gramTitleW, this.gramTitleStart[i]!, this.gramTitleStart[i + 1]!);
    // Association.
    const lo = this.titleStemStart[i]!;
    const hi = this.titleStemStart[i + 1]!;
    const nq = q.assocTerms.length;
    if (nq > 0 && hi > lo) {
      const own = q.ownPair?.get(i);
      // The base rate leaves the held-out labels out too.
      const rate = baseRate(this.relSum - (own ?? 0) - q.ownRel, this.relPairs - (own === undefined ? 0 : 1) - q.ownPairs);
      const baseLogit = Math.log(rate / (1 - rate));
      let sum = 0;
      let bestSum = 0;
      let bestMin = Infinity;
      let support = 0;
      for (let a = 0; a < nq; a++) {
        const qa = q.assocTerms[a]!;
        let best = -Infinity;
        for (let k = lo; k < hi; k++) {
          let s = 0;
          if (qa >= 0) {
            const key = qa * KEY_BASE + this.titleStems[k]!;
            const slot = this.assocIndex.get(key);
            if (slot !== undefined) {
              let p = this.assocPos[slot]!;
              let c = this.assocN[slot]!;
              if (own !== undefined) {
                p -= own;
                c -= 1;
              }
              const oq = q.ownQuery?.get(key);
              if (oq) {
                p -= oq.pos;
                c -= oq.n;
              }
              if (c > 1e-9) {
                p = Math.min(Math.max(p, 0), c);
                support += c;
                s = Math.log((p + ASSOC_SMOOTHING * rate) / (c - p + ASSOC_SMOOTHING * (1 - rate))) - baseLogit;
              }
            }
          }
          sum += s;
          if (s > best) best = s;
        }
        bestSum += best;
        if (best < bestMin) bestMin = best;
      }
      o[at + 4] = sum / (nq * (hi - lo));
      o[at + 5] = bestSum / nq;
      o[at + 6] = bestMin;
      o[at + 7] = Math.log1p(support);
    }
  }

  /** Length of the shortest title window containing every query term of `mask` (`found` of them). */
  private window(q: PreparedQuery, i: number, mask: number, found: number): number {
    const lo = this.titleSeqStart[i]!;
    const hi = this.titleSeqStart[i + 1]!;
    if (found <= 1) return 1;
    const counts = new Map<number, number>();
    let covered = 0;
    let best = Infinity;
    let left = lo;
    const bitsAt = (k: number): number => (q.tokenMask.get(this.titleSeq[k]!) ?? 0) & mask;
    for (let right = lo; right < hi; right++) {
      const bits = bitsAt(right);
      for (let b = bits; b; b &= b - 1) {
        const bit = b & -b;
        const c = counts.get(bit) ?? 0;
        if (c === 0) covered += 1;
        counts.set(bit, c + 1);
      }
      while (covered === found) {
        best = Math.min(best, right - left + 1);
        const lb = bitsAt(left);
        for (let b = lb; b; b &= b - 1) {
          const bit = b & -b;
          const c = counts.get(bit)! - 1;
          counts.set(bit, c);
          if (c === 0) covered -= 1;
        }
        left += 1;
      }
    }
    return Number.isFinite(best) ? Math.max(best, found) : hi - lo;
  }

  private prepare(query: FeatureQuery): PreparedQuery {
    const key = `${query.id ?? ''}\u0000${query.text}`;
    if (this.last?.key === key) return this.last;
    const tokens = tokenize(query.text).map(foldDiacritics);
    const terms = contentTokens(tokens);
    const m = terms.length;
    const tokenMask = new Map<number, number>();
    const mark = (tok: number, j: number): void => {
      tokenMask.set(tok, (tokenMask.get(tok) ?? 0) | (1 << j));
    };
    terms.forEach((t, j) => {
      const exact = this.tokens.get(t);
      if (exact !== undefined) mark(exact, j);
      const stem = this.stems.get(analyzeToken(t));
      if (stem !== undefined) for (const tok of this.tokensByStem.get(stem) ?? []) mark(tok, j);
      if (t.length >= TYPO_MIN_LENGTH) {
        for (let len = t.length - 1; len <= t.length + 1; len++) {
          for (const tok of this.tokensByLength[len] ?? []) if (withinOneEdit(t, this.tokenText(tok))) mark(tok, j);
        }
      }
    });
    const contentInOrder = tokens.filter((t) => !ENGLISH_STOPWORDS.has(t));
    const lastContent = contentInOrder.length ? contentInOrder[contentInOrder.length - 1]! : tokens[tokens.length - 1];
    const head = lastContent === undefined ? -1 : terms.indexOf(lastContent);

    const plain = tokens.join(' ');
    const ga = tfidfVector(gramCounts(plain, this.grams, false), (g) => (g >= 0 ? this.idfAll[g]! : Math.log(1 + this.docs) + 1));
    const gt = tfidfVector(gramCounts(plain, this.grams, false), (g) => (g >= 0 ? this.idfTitle[g]! : Math.log(1 + this.docs) + 1));

    const assocTerms = Int32Array.from(this.assocQueryTerms(query.text, false));
    let ownPair: Map<number, number> | undefined;
    let ownQuery: Map<number, { pos: number; n: number }> | undefined;
    let ownRel = 0;
    let ownPairs = 0;
    const own = query.id !== undefined ? this.trainByQuery.get(query.id) : undefined;
    if (own && own.text === query.text) {
      if (this.holdout === 'pair') {
        ownPair = own.items;
      } else {
        ownQuery = new Map();
        for (const [i, p] of own.items) {
          ownRel += p;
          ownPairs += 1;
          for (const a of assocTerms) {
            if (a < 0) continue;
            for (let k = this.titleStemStart[i]!; k < this.titleStemStart[i + 1]!; k++) {
              const key = a * KEY_BASE + this.titleStems[k]!;
              const e = ownQuery.get(key);
              if (e) {
                e.pos += p;
                e.n += 1;
              } else {
                ownQuery.set(key, { pos: p, n: 1 });
              }
            }
          }
        }
      }
    }
    const prepared: PreparedQuery = {
      key,
      m,
      tokenMask,
      head,
      gramIds: Int32Array.from(ga.ids),
      gramW: Float64Array.from(ga.w),
      gramTitleIds: Int32Array.from(gt.ids),
      gramTitleW: Float64Array.from(gt.w),
      assocTerms,
      ownPair,
      ownQuery,
      ownRel,
      ownPairs,
    };
    this.last = prepared;
    return prepared;
  }

  private tokenTexts: string[] | undefined;
  private tokenText(id: number): string {
    if (!this.tokenTexts) {
      this.tokenTexts = new Array<string>(this.tokens.size);
      for (const [t, i] of this.tokens) this.tokenTexts[i] = t;
    }
    return this.tokenTexts[id]!;
  }
}

/** Per row: L2-normalised sublinear tf-idf weights from counts (in place of the counts). */
function weights(start: Int32Array, ids: Int32Array, counts: Float32Array, idf: Float64Array): Float32Array {
  for (let r = 0; r + 1 < start.length; r++) {
    let norm = 0;
    for (let k = start[r]!; k < start[r + 1]!; k++) {
      const w = (1 + Math.log(counts[k]!)) * idf[ids[k]!]!;
      counts[k] = w;
      norm += w * w;
    }
    norm = Math.sqrt(norm);
    if (norm > 0) for (let k = start[r]!; k < start[r + 1]!; k++) counts[k] = counts[k]! / norm;
  }
  return counts;
}

/** Share of relevant training pairs, kept inside [0.01, 0.99] (0.5 without pairs). */
function baseRate(rel: number, pairs: number): number {
  return pairs > 0 ? Math.min(0.99, Math.max(0.01, rel / pairs)) : 0.5;
}

function popcount(x: number): number {
  let c = 0;
  for (let b = x >>> 0; b; b &= b - 1) c++;
  return c;
}

/** Dot product of a sparse query vector (sorted ids, possibly negative for unseen grams) with an item row. */
function dot(qIds: Int32Array, qW: Float64Array, ids: Int32Array, w: Float32Array, lo: number, hi: number): number {
  let s = 0;
  for (let j = 0; j < qIds.length; j++) {
    const g = qIds[j]!;
    if (g < 0) continue;
    const k = findSorted(ids, lo, hi, g);
    if (k >= 0) s += qW[j]! * w[k]!;
  }
  return Math.min(1, s);
}
