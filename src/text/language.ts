/**
 * A small language guess for items and queries that do not declare one. Two steps:
 * 1. Script: the script holding most letters decides when it belongs to few languages — Hangul → ko,
 *    any Hiragana/Katakana → ja (Japanese mixes them with Han), Han alone → zh, Thai → th,
 *    Greek → el, Hebrew → he, Arabic → ar, Devanagari → hi, Cyrillic → ru (a guess: uk, bg, sr
 *    share the script).
 * 2. Latin script: counts of very common function words (and a few letters) per language among
 *    en, es, de, fr, it, pt, nl. The best language needs two hits and more than any rival; otherwise
 *    the guess is `undefined` — short queries ("usb c hub") usually give no evidence, and no guess is
 *    better than a wrong one.
 * It is a heuristic for routing (which analyser, which prompt note), not a classifier: declare the
 * language (`language` / `lang` in the input files) when you know it.
 */

const SCRIPTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\p{Script=Hangul}/u, 'ko'],
  [/[\p{Script=Hiragana}\p{Script=Katakana}]/u, 'ja'],
  [/\p{Script=Han}/u, 'zh'],
  [/\p{Script=Thai}/u, 'th'],
  [/\p{Script=Greek}/u, 'el'],
  [/\p{Script=Hebrew}/u, 'he'],
  [/\p{Script=Arabic}/u, 'ar'],
  [/\p{Script=Devanagari}/u, 'hi'],
  [/\p{Script=Cyrillic}/u, 'ru'],
];

const STOPWORDS: Readonly<Record<string, ReadonlySet<string>>> = {
  en: new Set('the a and of to in is for with on that this are from by an be as at or it your you'.split(' ')),
  es: new Set('el la los las de del y en para con por un una que es al se su sin muy más como'.split(' ')),
  de: new Set('der die das und für mit von zu den dem ist ein eine nicht auf im des sich aus bei oder'.split(' ')),
  fr: new Set('le la les des et pour avec du un une est dans sur au aux en que qui pas ce ses'.split(' ')),
  it: new Set('il lo la gli le di del della e per con un una che è nel sono da al alla'.split(' ')),
  pt: new Set('o a os as de do da dos das e para com um uma que é em no na não por'.split(' ')),
  nl: new Set('de het een en van voor met is in op te niet zijn dat bij uit aan'.split(' ')),
};

/** Letters and word endings that point at one language (each occurrence one hit, at most 3 per pattern). */
const LETTERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/ß|[äöü]/g, 'de'],
  [/sch|(?:ung|heit|keit|lich)\b/g, 'de'],
  [/[ñ¿¡]|ción\b|ciones\b/g, 'es'],
  [/[ãõ]|ção\b|ções\b/g, 'pt'],
  [/[èàù]|ç|eau\b|eux\b/g, 'fr'],
  [/ij/g, 'nl'],
];

const WORD = /\p{L}+/gu;
const MAX_CHARS = 1000;

/** The BCP-47 primary tag a text is most likely written in, or undefined when there is too little evidence. */
export function detectLanguage(text: string): string | undefined {
  const t = text.slice(0, MAX_CHARS);
  const letters = t.match(/\p{L}/gu)?.length ?? 0;
  if (letters === 0) return undefined;
  // Script first: a non-Latin script that makes up a fair share of the letters decides.
  let latin = 0;
  for (const ch of t.matchAll(/\p{Script=Latin}/gu)) latin += ch[0].length;
  const count = (re: RegExp) => t.match(new RegExp(re.source, 'gu'))?.length ?? 0;
  const nonLatin = letters - latin;
  const kana = count(/[\p{Script=Hiragana}\p{Script=Katakana}]/u);
  const han = count(/\p{Script=Han}/u);
  for (const [re, lang] of SCRIPTS) {
    // Japanese: any kana with Han counts as Japanese text (kanji-heavy text has few kana).
    const n = lang === 'ja' ? (kana > 0 ? kana + han : 0) : count(re);
    if (n > 0 && n >= 0.3 * nonLatin && (n >= latin * 0.2 || latin === 0)) return lang;
  }
  // Latin script: function words and telling letters.
  const lower = t.toLowerCase();
  const score: Record<string, number> = {};
  for (const w of lower.match(WORD) ?? []) {
    for (const [lang, set] of Object.entries(STOPWORDS)) if (set.has(w)) score[lang] = (score[lang] ?? 0) + 1;
  }
  for (const [re, lang] of LETTERS) {
    const n = Math.min(3, lower.match(re)?.length ?? 0);
    if (n) score[lang] = (score[lang] ?? 0) + n;
  }
  const ranked = Object.entries(score).sort((a, b) => b[1] - a[1]);
  const [best, second] = ranked;
  if (!best) return undefined;
  const margin = best[1] - (second?.[1] ?? 0);
  if (best[1] >= 2 && margin >= 1) return best[0];
  return undefined;
}

/** True for an English tag ("en", "en-GB") — the one language distilrank stems. */
export function isEnglish(lang: string | null | undefined): boolean {
  return typeof lang === 'string' && /^en(?:-|$)/i.test(lang.trim());
}
