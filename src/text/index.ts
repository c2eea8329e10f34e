/** Text utilities shared by every stage that reads item or query text. */
export { ENGLISH_STOPWORDS, foldText, tokenize } from './tokenize.ts';
export { porterStem } from './stem.ts';
export { analyze, analyzeToken, cjkBigrams, foldDiacritics, hasCjk } from './analyze.ts';
