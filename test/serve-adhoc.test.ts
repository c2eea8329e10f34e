/**
 * Free texts scored against a catalogue (what POST /v1/rerank needs): FeatureExtractor.adHoc computes
 * an outside item's row with the catalogue's statistics. Oracle: a copy of a catalogue item (no brand,
 * no prior judgments) gets exactly the row of the original; the catalogue extractor is left unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FeatureExtractor, featureIndex } from '../src/features/index.ts';
import type { StoredItem } from '../src/store/index.ts';

const item = (id: string, title: string, description: string | null = null): StoredItem => ({
  id,
  title,
  description,
  fields: {},
  attributes: {},
  imageUrl: null,
  language: null,
});

const CATALOGUE = [
  item('a', 'cordless drill 18v with two batteries', 'a compact drill driver'),
  item('b', 'hammer drill 20v brushless', 'for concrete and brick'),
  item('c', 'garden hose 50 ft', 'kink free, green'),
  item('d', 'led light bulb 60 watt equivalent', null),
  item('e', 'circular saw 7-1/4 inch blade', 'with laser guide'),
];

describe('FeatureExtractor.adHoc', () => {
  it('a copy of a catalogue item gets the same feature row as the item itself, for any query', () => {
    const ex = FeatureExtractor.fromItems(CATALOGUE);
    const words = ['drill', 'cordless', '18v', 'hose', 'green', 'saw', 'blade', 'inch', '7-1/4', 'watt', 'xyzzy', 'the', 'brick'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: CATALOGUE.length - 1 }), (qw, i) => {
        const query = { text: qw.join(' ') };
        const original = CATALOGUE[i]!;
        const expected = Array.from(ex.extract(query, [original.id]));
        const copy = { ...original, id: 'copy' };
        const got = Array.from(ex.adHoc([copy]).extract(query, ['copy']));
        expect(got).toEqual(expected);
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('terms the catalogue never saw match the ad-hoc text (catalogue frequency 0) and leave the catalogue untouched', () => {
    const ex = FeatureExtractor.fromItems(CATALOGUE);
    const query = { text: 'zorbulator drill' };
    const before = Array.from(ex.extract(query, ['a', 'c']));
    const texts = ex.adHoc([item('0', 'zorbulator'), item('1', 'garden rake')]);
    const rows = texts.extract(query, ['0', '1']);
    const dim = FeatureExtractor.dim;
    expect(rows[featureIndex('bm25_title')]).toBeGreaterThan(0);
    expect(rows[featureIndex('coverage_title')]).toBe(0.5);
    expect(rows[dim + featureIndex('bm25_title')]).toBe(0);
    expect(Array.from(ex.extract(query, ['a', 'c']))).toEqual(before);
    expect(() => texts.extract(query, ['a'])).toThrow(/unknown item "a"/);
  });
});
