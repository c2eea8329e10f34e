/**
 * Search tokens for every script. `tokenize` splits on what is not a letter or digit, which suits
 * scripts written with spaces; scripts written without them need more:
 * - Han, Hiragana, Katakana, Hangul (CJK): character unigrams and bigrams of each run
 *   ("冷蔵庫" → 冷蔵 蔵庫 冷 蔵 庫). No dictionary is needed, every word of two characters or more
 *   is covered by its bigrams, and BM25's IDF weights the rarer bigrams above common single
 *   characters. (Korean is written with spaces between phrases, but particles attach to nouns, so
 *   bigrams help there too.)
 * - Thai, Lao, Khmer, Myanmar: words from ICU's dictionary-based word segmenter (Intl.Segmenter),
 *   which Node ships with full ICU data.
 * Text with none of these scripts comes back exactly as `tokenize` gives it, so the index and the
 * queries of space-separated languages are unchanged.
 */
import { tokenize } from './tokenize.ts';

const CJK = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}\\u30FC';
const SEA = '\\p{Script=Thai}\\p{Script=Lao}\\p{Script=Khmer}\\p{Script=Myanmar}';
const NEEDS_SEGMENTATION = new RegExp(`[${CJK}${SEA}]`, 'u');
const RUNS = new RegExp(`([${CJK}]+)|([${SEA}]+)|([^${CJK}${SEA}]+)`, 'gu');

let segmenter: Intl.Segmenter | undefined;

/** True when `text` holds a script written without spaces between words (CJK, Thai, …). */
export function needsSegmentation(text: string): boolean {
  return NEEDS_SEGMENTATION.test(text);
}

/** Character bigrams then unigrams of one CJK run (bigrams first: a query's term cap keeps them). */
export function cjkGrams(run: string): string[] {
  const chars = [...run];
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!);
  out.push(...chars);
  return out;
}

function seaWords(run: string): string[] {
  segmenter ??= new Intl.Segmenter('th', { granularity: 'word' });
  const out: string[] = [];
  for (const s of segmenter.segment(run)) if (s.isWordLike) out.push(s.segment);
  return out;
}

/**
 * The search tokens of a text: `tokenize` (NFKC, lower case, letter/digit runs), with CJK runs
 * turned into character unigrams + bigrams and Thai-like runs into dictionary words.
 */
export function searchTokens(text: string): string[] {
  const tokens = tokenize(text);
  if (!needsSegmentation(text)) return tokens;
  const out: string[] = [];
  for (const tok of tokens) {
    if (!NEEDS_SEGMENTATION.test(tok)) {
      out.push(tok);
      continue;
    }
    for (const m of tok.matchAll(RUNS)) {
      if (m[1]) out.push(...cjkGrams(m[1]));
      else if (m[2]) out.push(...seaWords(m[2]));
      else if (m[3]) out.push(m[3]);
    }
  }
  return out;
}

/**
 * The text the store's full-text index holds for a field: unchanged (NFKC-folded) for text without
 * CJK or Thai-like scripts — FTS5's unicode61 tokenizer splits it as `tokenize` does — and the
 * search tokens joined by spaces otherwise, so FTS5 indexes the same unigrams and bigrams the
 * queries ask for.
 */
export function indexText(folded: string): string {
  return needsSegmentation(folded) ? searchTokens(folded).join(' ') : folded;
}

/** Single CJK characters too common to select anything: Japanese particles and copulas, Chinese 的/了/是. */
export const CJK_QUERY_STOPWORDS: ReadonlySet<string> = new Set([...'のはがをにでともへやかなだ的了是和在有']);
