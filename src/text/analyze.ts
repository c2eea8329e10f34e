/**
 * Analysed terms: the tokens of src/text/tokenize.ts with Latin diacritics removed and Porter-stemmed,
 * i.e. the terms the store's FTS5 index (`porter unicode61 remove_diacritics 2`) holds. Features and
 * any other stage that must agree with BM25 read text through `analyze`.
 *
 * `searchTerms` is the language-aware variant (CJK/Thai segmentation, English-only stemming).
 *
 * Also the character n-gram helpers for scripts written without spaces (CJK): a run of Han, Kana or
 * Hangul is one FTS5 token, so word-level matching misses "冷蔵庫" inside "小型冷蔵庫"; character
 * bigrams of such runs give those scripts a word-level signal.
 */
import { isEnglish } from './language.ts';
import { searchTokens } from './segment.ts';
import { porterStem } from './stem.ts';
import { tokenize } from './tokenize.ts';

const HAS_LATIN_DIACRITIC = /[\u00C0-\u024F\u1E00-\u1EFF]|[\u0300-\u036F]/;
const COMBINING = /[\u0300-\u036F]/g;

/**
 * Remove diacritics from Latin letters ("Kühlschränke" → "kuhlschranke"), as FTS5's
 * remove_diacritics does: decompose, drop the combining marks U+0300–U+036F, recompose. Letters of
 * other scripts (Kana voicing marks, Hangul) are left as they are. Letters with no decomposition
 * (ß, ø, ł) stay.
 */
export function foldDiacritics(token: string): string {
  if (!HAS_LATIN_DIACRITIC.test(token)) return token;
  return token.normalize('NFD').replace(COMBINING, '').normalize('NFC');
}

/**
 * One token (already lower-cased and NFKC-folded by `tokenize`) → its term. Porter stemming is for
 * English: with a declared non-English `lang`, the token is only diacritic-folded ("zapatillas" stays
 * "zapatillas" instead of Porter's "zapatilla"). Without `lang` the token is stemmed as the store's
 * FTS5 index stems every token, so features agree with BM25 (see docs/design.md, Multilingual).
 */
export function analyzeTokenIn(token: string, lang: string | null | undefined): string {
  const folded = foldDiacritics(token);
  return lang && !isEnglish(lang) ? folded : porterStem(folded);
}

/** One token → its index term as the store's FTS5 index holds it (diacritics folded, Porter-stemmed). */
export function analyzeToken(token: string): string {
  return porterStem(foldDiacritics(token));
}

/**
 * The index terms of a text, in order (stopwords kept): tokenize → fold diacritics → Porter stem —
 * word for word the terms FTS5's tokenizer makes of raw text (features agree with BM25 through it).
 */
export function analyze(text: string): string[] {
  return tokenize(text).map(analyzeToken);
}

/**
 * Language-aware terms, in order: search tokens (CJK unigrams + bigrams, Thai words;
 * src/text/segment.ts) → fold diacritics → Porter stem for English or undeclared text only.
 */
export function searchTerms(text: string, lang?: string | null): string[] {
  return searchTokens(text).map((t) => analyzeTokenIn(t, lang));
}

/** Han, Hiragana, Katakana and Hangul: scripts whose words are not separated by spaces. */
const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30FC]+/gu;

export function hasCjk(text: string): boolean {
  return CJK_CHAR.test(text);
}

/**
 * Character bigrams of every CJK run in `text` ("小型冷蔵庫" → 小型 型冷 冷蔵 蔵庫); a run of one character
 * gives that character. Empty for text without CJK.
 */
export function cjkBigrams(text: string): string[] {
  if (!hasCjk(text)) return [];
  const out: string[] = [];
  for (const m of text.matchAll(CJK_RUN)) {
    const chars = [...m[0]];
    if (chars.length === 1) out.push(chars[0]!);
    for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!);
  }
  return out;
}
