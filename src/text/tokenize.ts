/**
 * Text tokenisation shared by retrieval and (later) features. Words are runs of letters and digits
 * in any script (Unicode-aware, NFKC-folded, lower-cased) — the same boundaries FTS5's unicode61
 * tokenizer uses, so query terms line up with indexed terms.
 */

const WORD = /[\p{L}\p{N}\p{M}]+/gu;

/**
 * NFKC folding (full-width and ligature forms become their plain letters) applied to both indexed
 * and query text. Trade-mark signs are spaced out first: NFKC would turn "Core™2" into "CoreTM2".
 */
export function foldText(text: string): string {
  return text.replace(/[\u2122\u2120]/g, ' ').normalize('NFKC');
}

export function tokenize(text: string): string[] {
  return foldText(text).toLowerCase().match(WORD) ?? [];
}

/** Common English function words: dropped from BM25 queries (FTS5 scores every match, no pruning). */
export const ENGLISH_STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a an and are as at be by for from has have how in is it its of on or that the this to was were what ' +
    'when where which who why will with can do does did so such than then there these those into over ' +
    'under about been being not no nor if but their they them we you your our'
  ).split(' '),
);
