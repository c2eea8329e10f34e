/** Text utilities shared by every stage that reads item or query text. */
export { ENGLISH_STOPWORDS, foldText, tokenize } from './tokenize.ts';
export { porterStem } from './stem.ts';
export { analyze, analyzeToken, searchTerms, cjkBigrams, foldDiacritics, hasCjk } from './analyze.ts';
export { CJK_QUERY_STOPWORDS, cjkGrams, indexText, searchTokens } from './segment.ts';
export { detectLanguage, isEnglish } from './language.ts';
