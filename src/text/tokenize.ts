/**
 * Text tokenisation shared by retrieval and (later) features. Words are runs of letters and digits
 * in any script (Unicode-aware, NFKC-folded, lower-cased) — the same boundaries FTS5's unicode61
 * tokenizer uses, so query terms line up with indexed terms.
 */

const WORD = /[\p{L}\p{N}\p{M}]+/gu;

export function tokenize(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(WORD) ?? [];
}

/** Common English function words: dropped from BM25 queries (FTS5 scores every match, no pruning). */
export const ENGLISH_STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a an and are as at be by for from has have how in is it its of on or that the this to was were what ' +
    'when where which who why will with can do does did so such than then there these those into over ' +
    'under about been being not no nor if but their they them we you your our'
  ).split(' '),
);
