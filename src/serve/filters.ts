/**
 * The search filter language: `filters` is an object of conditions on item fields, all of which must
 * hold (AND). A condition's name is a stored text field (`fields.brand` … or just `brand`), an
 * attribute (`attributes.price` or just `price`), or `language`. Its value is
 *   - a string, number or boolean: equal (strings compare exactly, after trimming);
 *   - an array of those: equal to any of them (OR);
 *   - `{gte?, lte?, gt?, lt?}`: a numeric range (the stored value is read as a number).
 * An item without the field fails the condition. Filters apply to the retrieved candidates before
 * re-ranking, so a very selective filter can return fewer than k results.
 */
import type { StoredItem } from '../store/index.ts';

export type Scalar = string | number | boolean;
export interface RangeCondition {
  gte?: number;
  lte?: number;
  gt?: number;
  lt?: number;
}
export type Condition = Scalar | Scalar[] | RangeCondition;
export type Filters = Record<string, Condition>;

export const MAX_FILTERS = 16;

/** The JSON schema of `filters` (validated by the route before anything runs). */
export const FILTERS_SCHEMA = {
  type: 'object',
  description:
    'Conditions on item fields, all of which must hold. Name: a text field (`brand` or `fields.brand`), an attribute (`price` or `attributes.price`), or `language`. Value: a scalar (equal), an array of scalars (any of), or {gte, lte, gt, lt} (numeric range).',
  maxProperties: MAX_FILTERS,
  propertyNames: { type: 'string', minLength: 1, maxLength: 64 },
  additionalProperties: {
    anyOf: [
      { type: ['string', 'number', 'boolean'] },
      { type: 'array', minItems: 1, maxItems: 64, items: { type: ['string', 'number', 'boolean'] } },
      {
        type: 'object',
        minProperties: 1,
        additionalProperties: false,
        properties: { gte: { type: 'number' }, lte: { type: 'number' }, gt: { type: 'number' }, lt: { type: 'number' } },
      },
    ],
  },
} as const;

function valueOf(item: StoredItem, name: string): unknown {
  if (name === 'language') return item.language ?? undefined;
  if (name.startsWith('fields.')) return item.fields[name.slice(7)];
  if (name.startsWith('attributes.')) return item.attributes[name.slice(11)];
  return Object.hasOwn(item.fields, name) ? item.fields[name] : item.attributes[name];
}

function equal(stored: unknown, wanted: Scalar): boolean {
  if (typeof stored === 'string') return stored.trim() === String(wanted).trim();
  if (typeof stored === 'number') return typeof wanted === 'number' ? stored === wanted : String(stored) === String(wanted).trim();
  if (typeof stored === 'boolean') return stored === wanted || String(stored) === String(wanted);
  if (Array.isArray(stored)) return stored.some((s) => equal(s, wanted));
  return false;
}

function inRange(stored: unknown, r: RangeCondition): boolean {
  const v = typeof stored === 'number' ? stored : typeof stored === 'string' && stored.trim() !== '' ? Number(stored) : NaN;
  if (!Number.isFinite(v)) return false;
  return (r.gte === undefined || v >= r.gte) && (r.lte === undefined || v <= r.lte) && (r.gt === undefined || v > r.gt) && (r.lt === undefined || v < r.lt);
}

export function matches(item: StoredItem, filters: Filters): boolean {
  for (const [name, cond] of Object.entries(filters)) {
    const stored = valueOf(item, name);
    if (stored === undefined || stored === null) return false;
    if (Array.isArray(cond)) {
      if (!cond.some((c) => equal(stored, c))) return false;
    } else if (typeof cond === 'object') {
      if (!inRange(stored, cond)) return false;
    } else if (!equal(stored, cond)) return false;
  }
  return true;
}
