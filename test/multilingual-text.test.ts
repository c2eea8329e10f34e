/** src/text for scripts written without spaces, language guesses, and English-only stemming. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyze, cjkGrams, searchTerms, detectLanguage, foldText, indexText, isEnglish, searchTokens, tokenize } from '../src/text/index.ts';

describe('searchTokens', () => {
  it('turns CJK runs into character bigrams then unigrams, keeping Latin words whole', () => {
    expect(cjkGrams('冷蔵庫')).toEqual(['冷蔵', '蔵庫', '冷', '蔵', '庫']);
    expect(searchTokens('iPhone用ケース')).toEqual(['iphone', '用ケ', 'ケー', 'ース', '用', 'ケ', 'ー', 'ス']);
    expect(searchTokens('냉장고 소형')).toEqual(['냉장', '장고', '냉', '장', '고', '소형', '소', '형']);
    // Full-width forms fold to ASCII first (NFKC), as for every other text.
    expect(searchTokens('ＳＯＮＹ　ヘッドホン')).toEqual(['sony', 'ヘッ', 'ッド', 'ドホ', 'ホン', 'ヘ', 'ッ', 'ド', 'ホ', 'ン']);
  });

  it('splits Thai into dictionary words (Intl.Segmenter), not characters', () => {
    expect(searchTokens('ตู้เย็นขนาดเล็ก')).toEqual(['ตู้', 'เย็น', 'ขนาด', 'เล็ก']);
  });

  it('is tokenize itself for text without CJK or Thai-like scripts (the English index is unchanged)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        if (/[\u0E00-\u0FFF\u1000-\u109F\u1780-\u17FF\u3040-\u30FF\u3400-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF]/.test(s)) return;
        expect(searchTokens(s)).toEqual(tokenize(s));
        expect(indexText(foldText(s))).toBe(foldText(s));
      }),
      { seed: 7, numRuns: 500 },
    );
    expect(indexText(foldText('Kühlschrank für das Büro'))).toBe('Kühlschrank für das Büro');
    expect(indexText(foldText('小型冷蔵庫 45L'))).toBe('小型 型冷 冷蔵 蔵庫 小 型 冷 蔵 庫 45l');
  });
});

describe('searchTerms', () => {
  it('stems English (and undeclared text, as the FTS5 index does) but not other declared languages', () => {
    expect(searchTerms('running shoes')).toEqual(['run', 'shoe']);
    expect(searchTerms('running shoes')).toEqual(analyze('running shoes'));
    expect(searchTerms('running shoes', 'en-GB')).toEqual(['run', 'shoe']);
    expect(searchTerms('zapatillas corriendo', 'es')).toEqual(['zapatillas', 'corriendo']);
    expect(analyze('zapatillas corriendo')).toEqual(['zapatilla', 'corriendo']); // what the index does to it
    expect(searchTerms('Kühlschränke kaufen', 'de')).toEqual(['kuhlschranke', 'kaufen']);
    expect(searchTerms('冷蔵庫', 'ja')).toEqual(['冷蔵', '蔵庫', '冷', '蔵', '庫']);
    expect(analyze('冷蔵庫')).toEqual(['冷蔵庫']); // word level, as FTS5 sees unsegmented text
    expect(isEnglish('en')).toBe(true);
    expect(isEnglish('eng-x')).toBe(false);
  });
});

describe('detectLanguage', () => {
  it('reads the script, and function words for Latin text; no evidence is no guess', () => {
    const cases: Array<[string, string | undefined]> = [
      ['Frigorífico pequeño para la oficina con congelador', 'es'],
      ['Kleiner Kühlschrank für das Büro', 'de'],
      ['Le réfrigérateur compact pour le bureau avec un congélateur', 'fr'],
      ['The compact fridge for the office, with a freezer', 'en'],
      ['小型冷蔵庫 オフィス用', 'ja'],
      ['小型办公室冰箱', 'zh'],
      ['소형 냉장고', 'ko'],
      ['ตู้เย็นขนาดเล็ก', 'th'],
      ['Холодильник маленький', 'ru'],
      ['usb c hub', undefined],
      ['la z boy chair', undefined],
      ['12345', undefined],
      ['', undefined],
    ];
    for (const [text, lang] of cases) expect(detectLanguage(text), text).toBe(lang);
  });
});
