/**
 * The item's text representation for the teacher: what the LLM reads about an item. Deterministic
 * (same item → same text, byte for byte), because the label cache is keyed by a hash of this text:
 * any change here re-labels, so ITEM_TEXT_VERSION names the format. (Issue 6 replaces this with a
 * configurable builder: captions, engaged-query tokens, board titles.)
 */
import type { StoredItem } from '../store/index.ts';

/** Bump whenever itemText's output changes for some item. */
export const ITEM_TEXT_VERSION = 1;

/** At most this many scalar attributes are shown (sorted by name). */
export const MAX_ATTRIBUTES = 8;

const clean = (s: string): string => s.replace(/\s+/g, ' ').trim();

function attributeValue(v: unknown): string | null {
  if (typeof v === 'string') return clean(v) || null;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v) && v.length && v.every((x) => typeof x === 'string' || typeof x === 'number')) {
    return clean(v.map(String).join(', ')) || null;
  }
  return null; // nested objects are not shown
}

/**
 * `title: …`, `description: …`, then the other text fields and up to MAX_ATTRIBUTES scalar
 * attributes as `name: value` lines (names sorted), whitespace collapsed. Lines are added in that
 * order while they fit in `budgetChars`; the first line that does not fit is cut and ends with "…",
 * and nothing follows it. The title line is always present.
 */
export function itemText(item: StoredItem, budgetChars = 1500): string {
  const lines: string[] = [`title: ${clean(item.title)}`];
  if (item.description && clean(item.description)) lines.push(`description: ${clean(item.description)}`);
  for (const name of Object.keys(item.fields).sort()) {
    const value = clean(item.fields[name] ?? '');
    if (value) lines.push(`${clean(name)}: ${value}`);
  }
  let shown = 0;
  for (const name of Object.keys(item.attributes).sort()) {
    if (shown >= MAX_ATTRIBUTES) break;
    const value = attributeValue(item.attributes[name]);
    if (value === null) continue;
    lines.push(`${clean(name)}: ${value}`);
    shown += 1;
  }
  const budget = Math.max(16, Math.floor(budgetChars));
  let out = '';
  for (const line of lines) {
    const sep = out ? '\n' : '';
    if (out.length + sep.length + line.length <= budget) {
      out += sep + line;
      continue;
    }
    const room = budget - out.length - sep.length - 1;
    if (room > 0) out += sep + line.slice(0, room).replace(/[\uD800-\uDBFF]$/, '').trimEnd() + '…';
    break;
  }
  return out;
}
