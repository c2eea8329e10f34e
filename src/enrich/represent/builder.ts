/**
 * The representation builder: one item + a configuration + pluggable field sources → the text the
 * teacher reads (`buildItemText`) and the item the student's features read (`projectItem`).
 * Deterministic: the same inputs give the same text byte for byte (names are sorted, whitespace is
 * collapsed, nothing depends on object key order or time), because label caches key on it.
 */
import type { StoredItem } from '../../store/index.ts';
import { DEFAULT_MAX_ATTRIBUTES, DEFAULT_REPRESENTATION, type FieldSpec, type RepresentationConfig } from './config.ts';

/** Synthetic image captions, e.g. from a VLM caption store. */
export interface CaptionSource {
  captionFor(itemId: string): string | undefined;
}

/** User-action text per item, tokens best first (see ./actions.ts). */
export interface ItemActionText {
  engagedQueries: string[];
  boardTitles: string[];
  linkText: string[];
}

export interface ActionTextSource {
  actionsFor(itemId: string): ItemActionText | undefined;
}

/** Where the non-item sources read from; a source that is absent yields an empty field. */
export interface FieldSources {
  captions?: CaptionSource;
  actions?: ActionTextSource;
}

/** One `label: value` line of the text. */
interface Line {
  label: string;
  value: string;
}

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

export function brandOf(item: StoredItem): string {
  const f = item.fields.brand;
  if (typeof f === 'string' && clean(f)) return clean(f);
  const a = item.attributes.brand;
  return typeof a === 'string' ? clean(a) : '';
}

/** The raw lines of one field (before its token budget). */
function sourceLines(item: StoredItem, spec: FieldSpec, hasBrand: boolean, sources: FieldSources): Line[] {
  const label = spec.label ?? spec.source;
  const one = (value: string): Line[] => (clean(value) ? [{ label, value: clean(value) }] : []);
  switch (spec.source) {
    case 'title':
      return [{ label, value: clean(item.title) }];
    case 'description':
      return one(item.description ?? '');
    case 'brand':
      return one(brandOf(item));
    case 'fields':
      return Object.keys(item.fields)
        .sort()
        .filter((name) => !(hasBrand && name === 'brand'))
        .flatMap((name) => {
          const value = clean(item.fields[name] ?? '');
          return value ? [{ label: clean(name), value }] : [];
        });
    case 'attributes': {
      const out: Line[] = [];
      const max = spec.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
      for (const name of Object.keys(item.attributes).sort()) {
        if (out.length >= max) break;
        if (hasBrand && name === 'brand') continue;
        const value = attributeValue(item.attributes[name]);
        if (value !== null) out.push({ label: clean(name), value });
      }
      return out;
    }
    case 'caption':
      return one(sources.captions?.captionFor(item.id) ?? '');
    case 'engaged_queries':
      return one((sources.actions?.actionsFor(item.id)?.engagedQueries ?? []).join(' '));
    case 'board_titles':
      return one((sources.actions?.actionsFor(item.id)?.boardTitles ?? []).join(' '));
    case 'link_text':
      return one((sources.actions?.actionsFor(item.id)?.linkText ?? []).join(' '));
  }
}

/** Keep the first `maxTokens` whitespace tokens across the lines; a cut line ends with "…", later lines go. */
function applyTokenBudget(lines: Line[], maxTokens: number | undefined): Line[] {
  if (maxTokens === undefined) return lines;
  const out: Line[] = [];
  let left = maxTokens;
  for (const line of lines) {
    if (left <= 0) break;
    const tokens = line.value.split(' ');
    if (tokens.length <= left) {
      out.push(line);
      left -= tokens.length;
    } else {
      out.push({ label: line.label, value: `${tokens.slice(0, left).join(' ')}…` });
      left = 0;
    }
  }
  return out;
}

/** Each configured field's lines, in order, budgets applied. */
export function fieldLines(item: StoredItem, config: RepresentationConfig, sources: FieldSources = {}): Array<{ spec: FieldSpec; lines: Line[] }> {
  const hasBrand = config.fields.some((f) => f.source === 'brand');
  return config.fields.map((spec) => ({ spec, lines: applyTokenBudget(sourceLines(item, spec, hasBrand, sources), spec.maxTokens) }));
}

/**
 * The teacher's text: `label: value` lines in the configured order, added while they fit in
 * `maxChars`; the first line that does not fit is cut and ends with "…", and nothing follows it.
 * The title line is always first.
 */
export function buildItemText(item: StoredItem, config: RepresentationConfig = DEFAULT_REPRESENTATION, sources: FieldSources = {}): string {
  const lines = fieldLines(item, config, sources).flatMap((f) => f.lines.map((l) => `${l.label}: ${l.value}`));
  const budget = Math.max(16, Math.floor(config.maxChars));
  let out = '';
  for (const line of lines) {
    const sep = out ? '\n' : '';
    if (out.length + sep.length + line.length <= budget) {
      out += sep + line;
      continue;
    }
    const room = budget - out.length - sep.length - 1;
    if (room > 0)
      out +=
        sep +
        line
          .slice(0, room)
          .replace(/[\uD800-\uDBFF]$/, '')
          .trimEnd() +
        '…';
    break;
  }
  return out;
}

/**
 * The item as the student's features should see it under `config`: the title (empty when not
 * listed), the description when listed, and every other listed field as a text field named by its
 * source (`brand`, `attributes`, `caption`, `engaged_queries`, …; the `fields` source keeps the
 * item's own field names). Attributes are only visible as text, so the features' brand and number
 * tests see what the configuration shows. Token budgets apply; the character budget does not
 * (it is the teacher's prompt limit).
 */
export function projectItem(item: StoredItem, config: RepresentationConfig, sources: FieldSources = {}): StoredItem {
  let title = '';
  let description: string | null = null;
  const fields: Record<string, string> = {};
  for (const { spec, lines } of fieldLines(item, config, sources)) {
    if (!lines.length) continue;
    if (spec.source === 'title') title = lines[0]!.value;
    else if (spec.source === 'description') description = lines[0]!.value;
    else if (spec.source === 'fields') for (const l of lines) fields[l.label] = l.value;
    else fields[spec.source] = lines.map((l) => (spec.source === 'attributes' ? `${l.label} ${l.value}` : l.value)).join('\n');
  }
  return { id: item.id, title, description, fields, attributes: {}, imageUrl: item.imageUrl, language: item.language };
}
