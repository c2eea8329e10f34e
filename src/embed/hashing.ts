/**
 * The two towers' inputs, which need no pretrained weights: hashed word unigrams and bigrams plus
 * character 3–5-grams of the NFKC-folded, lower-cased text. Character n-grams are taken over Unicode
 * code points, so CJK and other unsegmented scripts (and misspellings, compounds) get n-grams too.
 * Every feature is hashed (32-bit FNV-1a over its UTF-16 units, with a namespace per kind) into one of
 * `buckets` slots; query and item share the hash space, so "fridge" in a query and in a title land in
 * the same bucket of the shared bucket-embedding table.
 */
import type { StoredItem } from '../store/index.ts';
import { foldText, tokenize } from '../text/index.ts';

export interface HashingConfig {
  /** Number of hash buckets (a power of two). */
  buckets: number;
  /** Character n-gram lengths, inclusive. */
  charMin: number;
  charMax: number;
  /** Cap on distinct buckets per text (longest texts keep their first features). */
  maxFeatures: number;
  /** Description tokens read per item (descriptions can be long; the title carries most evidence). */
  descriptionTokens: number;
}

export const DEFAULT_HASHING: Readonly<HashingConfig> = Object.freeze({ buckets: 2 ** 18, charMin: 3, charMax: 5, maxFeatures: 512, descriptionTokens: 64 });

const NS_WORD = 0x77; // 'w'
const NS_BIGRAM = 0x62; // 'b'
const NS_CHAR = 0x63; // 'c'

function fnv1a(ns: number, s: string): number {
  let h = Math.imul(0x811c9dc5 ^ ns, 0x01000193);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  // fmix32 so that the low bits (the bucket) depend on every character
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// Once `maxFeatures` buckets are in, every further add is a no-op: the loops stop early (same result,
// and a long free text to re-rank costs no more than its first features).
class BucketSet {
  readonly ids = new Set<number>();
  constructor(private readonly cfg: HashingConfig) {}
  get full(): boolean {
    return this.ids.size >= this.cfg.maxFeatures;
  }
  add(ns: number, s: string): void {
    if (!this.full) this.ids.add(fnv1a(ns, s) & (this.cfg.buckets - 1));
  }
  words(tokens: readonly string[]): void {
    for (let i = 0; i < tokens.length && !this.full; i++) this.add(NS_WORD, tokens[i]!);
    for (let i = 0; i + 1 < tokens.length && !this.full; i++) this.add(NS_BIGRAM, `${tokens[i]!} ${tokens[i + 1]!}`);
  }
  chars(tokens: readonly string[]): void {
    if (this.full) return;
    const cps = Array.from(` ${tokens.join(' ')} `);
    for (let n = this.cfg.charMin; n <= this.cfg.charMax && !this.full; n++) {
      for (let i = 0; i + n <= cps.length && !this.full; i++) {
        const g = cps.slice(i, i + n).join('');
        if (g.trim()) this.add(NS_CHAR, g);
      }
    }
  }
  sorted(): Int32Array {
    return Int32Array.from(this.ids).sort();
  }
}

export function checkHashingConfig(cfg: HashingConfig): void {
  if (!Number.isInteger(Math.log2(cfg.buckets)) || cfg.buckets < 2 || cfg.buckets > 2 ** 24)
    throw new RangeError(`buckets must be a power of two in [2, 2^24], got ${cfg.buckets}`);
}

/** Distinct bucket ids of a query: its words, word bigrams and character n-grams (sorted). */
export function queryBuckets(text: string, cfg: HashingConfig = DEFAULT_HASHING): Int32Array {
  const tokens = tokenize(text);
  const b = new BucketSet(cfg);
  b.words(tokens);
  b.chars(tokens);
  return b.sorted();
}

/**
 * Distinct bucket ids of an item: title words, bigrams and character n-grams first (the cap keeps
 * them), then the other text fields' words, then the first description words.
 */
export function itemBuckets(item: Pick<StoredItem, 'title' | 'description' | 'fields'>, cfg: HashingConfig = DEFAULT_HASHING): Int32Array {
  const b = new BucketSet(cfg);
  const title = tokenize(item.title);
  b.words(title);
  b.chars(title);
  for (const v of Object.values(item.fields)) b.words(tokenize(v));
  if (item.description) b.words(tokenize(item.description).slice(0, cfg.descriptionTokens));
  return b.sorted();
}

/** NFKC folding as src/text applies it (exported for the model card's description of inputs). */
export const FOLDING = `${foldText.name}: NFKC, trade-mark signs spaced; lower-cased; words are runs of letters/digits/marks in any script`;
