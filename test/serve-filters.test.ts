/** The search filter language (src/serve/filters.ts) on stored items: each condition kind, and absent fields. */
import { describe, expect, it } from 'vitest';
import { matches } from '../src/serve/index.ts';
import type { StoredItem } from '../src/store/index.ts';

const monitor: StoredItem = {
  id: 'm1',
  title: 'Dell 27 inch monitor',
  description: null,
  fields: { brand: 'Dell ' },
  attributes: { price_cents: 24999, colour: 'black', tags: ['office', 'gaming'], curved: false },
  imageUrl: null,
  language: 'en',
};

describe('filters', () => {
  it('a scalar is equality: strings exact after trimming, numbers by value, booleans', () => {
    expect(matches(monitor, { brand: 'Dell' })).toBe(true);
    expect(matches(monitor, { brand: 'dell' })).toBe(false);
    expect(matches(monitor, { 'fields.brand': 'Dell' })).toBe(true);
    expect(matches(monitor, { price_cents: 24999 })).toBe(true);
    expect(matches(monitor, { 'attributes.price_cents': 25000 })).toBe(false);
    expect(matches(monitor, { curved: false })).toBe(true);
    expect(matches(monitor, { language: 'en' })).toBe(true);
  });

  it('an array is any-of (also against an array-valued attribute); a range object is numeric', () => {
    expect(matches(monitor, { brand: ['HP', 'Dell'] })).toBe(true);
    expect(matches(monitor, { brand: ['HP', 'Lenovo'] })).toBe(false);
    expect(matches(monitor, { tags: 'gaming' })).toBe(true);
    expect(matches(monitor, { price_cents: { gte: 20000, lte: 30000 } })).toBe(true);
    expect(matches(monitor, { price_cents: { lt: 24999 } })).toBe(false);
    expect(matches(monitor, { price_cents: { gt: 24998 } })).toBe(true);
    expect(matches(monitor, { colour: { gte: 0 } })).toBe(false);
  });

  it('all conditions must hold; an item without the field fails', () => {
    expect(matches(monitor, { brand: 'Dell', colour: 'black' })).toBe(true);
    expect(matches(monitor, { brand: 'Dell', colour: 'white' })).toBe(false);
    expect(matches(monitor, { weight: 3 })).toBe(false);
    expect(matches(monitor, {})).toBe(true);
  });
});
