/**
 * The item's text for the teacher under the default representation (src/enrich/represent): kept as the
 * labelling stage's entry point. The default representation reproduces item-text format 1 byte for
 * byte, so labels cached before representations existed stay valid. Other representations go
 * through src/enrich/represent's buildItemText and carry their id into the label cache key.
 */
import { buildItemText, DEFAULT_MAX_ATTRIBUTES, DEFAULT_REPRESENTATION } from '../enrich/index.ts';
import type { StoredItem } from '../store/index.ts';

/** The format of the default representation's text; bump whenever itemText's output changes for some item. */
export const ITEM_TEXT_VERSION = 1;

/** At most this many scalar attributes are shown (sorted by name). */
export const MAX_ATTRIBUTES = DEFAULT_MAX_ATTRIBUTES;

/**
 * `title: …`, `description: …`, then the other text fields and up to MAX_ATTRIBUTES scalar
 * attributes as `name: value` lines (names sorted), whitespace collapsed. Lines are added in that
 * order while they fit in `budgetChars`; the first line that does not fit is cut and ends with "…",
 * and nothing follows it. The title line is always present.
 */
export function itemText(item: StoredItem, budgetChars = DEFAULT_REPRESENTATION.maxChars): string {
  return buildItemText(item, { ...DEFAULT_REPRESENTATION, maxChars: budgetChars });
}
