/**
 * Numbers and quantities with units, read from text for the number/unit features. Deliberately
 * simple: a number is a run of ASCII digits with an optional decimal part ("1.9", "27"; full-width
 * digits are folded by NFKC first; "3/4" is the two numbers 3 and 4). A quantity is a number followed
 * (after optional spaces or a hyphen) by one of the unit spellings below, mapped to a canonical unit:
 * "27 inch", "27in", "27-in.", '27"' and "27''" are all 27 inch; "1tb" and "1 TB" are 1 tb. Units are
 * never converted into each other (1 tb ≠ 1000 gb; 2 ft ≠ 24 in).
 */
import { foldText } from '../text/index.ts';

/** Canonical unit → its spellings (compared after lower-casing and removing dots and spaces). */
const UNIT_SPELLINGS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['inch', ['in', 'inch', 'inches', '"', "''", '\u2033']],
  ['foot', ['ft', 'feet', 'foot', "'", '\u2032']],
  ['yard', ['yd', 'yds', 'yard', 'yards']],
  ['sqft', ['sqft', 'sq ft', 'square feet', 'square foot']],
  ['cuft', ['cuft', 'cu ft', 'cubic feet', 'cubic foot']],
  ['mm', ['mm', 'millimeter', 'millimeters', 'millimetre', 'millimetres']],
  ['cm', ['cm', 'centimeter', 'centimeters', 'centimetre', 'centimetres']],
  ['m', ['m', 'meter', 'meters', 'metre', 'metres']],
  ['gal', ['gal', 'gallon', 'gallons']],
  ['qt', ['qt', 'quart', 'quarts']],
  ['l', ['l', 'liter', 'liters', 'litre', 'litres']],
  ['ml', ['ml', 'milliliter', 'milliliters', 'millilitre', 'millilitres']],
  ['oz', ['oz', 'fl oz', 'ounce', 'ounces']],
  ['lb', ['lb', 'lbs', 'pound', 'pounds']],
  ['kg', ['kg', 'kilogram', 'kilograms']],
  ['g', ['g', 'gram', 'grams']],
  ['volt', ['v', 'volt', 'volts']],
  ['watt', ['w', 'watt', 'watts']],
  ['kw', ['kw', 'kilowatt', 'kilowatts']],
  ['amp', ['amp', 'amps', 'ampere', 'amperes']],
  ['mah', ['mah']],
  ['btu', ['btu', 'btus']],
  ['gpm', ['gpm']],
  ['psi', ['psi']],
  ['hz', ['hz']],
  ['ghz', ['ghz']],
  ['gauge', ['gauge', 'ga']],
  ['kb', ['kb']],
  ['mb', ['mb']],
  ['gb', ['gb']],
  ['tb', ['tb']],
  ['pack', ['pack', 'pk', 'piece', 'pieces', 'pc', 'pcs', 'count', 'ct']],
];

export const UNITS: readonly string[] = UNIT_SPELLINGS.map(([u]) => u);
const UNIT_OF = new Map<string, number>();
UNIT_SPELLINGS.forEach(([, spellings], i) => {
  for (const s of spellings) UNIT_OF.set(s.replace(/[.\s]/g, ''), i);
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Spellings as regex alternatives, longest first; a space inside a spelling allows optional dots and
// spaces ("sq. ft.", "fl oz"). Word units must not run on into a letter or digit ("2 inches" yes, "2 ink" no).
const ALTERNATIVES = [...new Set(UNIT_SPELLINGS.flatMap(([, s]) => s))]
  .sort((a, b) => b.length - a.length)
  .map((s) => {
    const body = s.split(' ').map(escape).join('\\.?\\s*');
    return /^[a-z]/.test(s) ? `${body}(?![\\p{L}\\p{N}])` : body;
  });
const NUMBER = /\d+(?:\.\d+)?/g;
const QUANTITY = new RegExp(`(\\d+(?:\\.\\d+)?)\\s*-?\\s*(${ALTERNATIVES.join('|')})`, 'gu');

/** Canonical text for number and unit matching: NFKC-folded, lower-cased. */
function normal(text: string): string {
  return foldText(text).toLowerCase();
}

/** The distinct numbers in a text, ascending. */
export function numbersIn(text: string): number[] {
  const out = new Set<number>();
  for (const m of normal(text).matchAll(NUMBER)) out.add(Number(m[0]));
  return [...out].sort((a, b) => a - b);
}

export interface Quantity {
  value: number;
  /** Index into UNITS. */
  unit: number;
}

/** The distinct quantities (number + unit) in a text. */
export function quantitiesIn(text: string): Quantity[] {
  const seen = new Set<number>();
  const out: Quantity[] = [];
  for (const m of normal(text).matchAll(QUANTITY)) {
    const unit = UNIT_OF.get((m[2] ?? '').replace(/[.\s]/g, ''));
    if (unit === undefined) continue;
    const q = { value: Number(m[1]), unit };
    const key = quantityKey(q);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(q);
  }
  return out;
}

/** One number per quantity (unit and value to 1/1000), exact in a double. */
export function quantityKey(q: Quantity): number {
  return q.unit * 2 ** 40 + Math.round(q.value * 1000);
}
