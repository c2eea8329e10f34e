/**
 * What an item's text representation is made of: an ordered list of fields, each read from a source
 * (the item's own columns, a caption store, aggregated search-log actions) with an optional token
 * budget, and a total character budget. A configuration has a stable id (a hash of its normalised
 * form and BUILDER_VERSION) that keys teacher labels: a different representation is a different
 * question to the teacher.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DistilrankError } from '../../core/index.ts';

/** Bump whenever the builder's output changes for some item under an unchanged configuration. */
export const BUILDER_VERSION = 1;

/** Where a field's text comes from. */
export const FIELD_SOURCES = Object.freeze({
  title: "the item's title (always present when listed)",
  description: "the item's description",
  brand: 'the brand: fields.brand, else attributes.brand',
  fields: "the item's other text fields, one `name: value` line each, names sorted (brand left out when `brand` is listed too)",
  attributes: 'scalar attributes as `name: value` lines, names sorted, at most maxAttributes (brand left out when `brand` is listed too)',
  caption: 'a synthetic image caption (from a CaptionSource)',
  engaged_queries: 'top tokens of the queries that led to engagement with the item (aggregated search logs)',
  board_titles: 'top tokens of the titles of boards the item was saved to (aggregated search logs)',
  link_text: 'title/description text of the linked page, from long clicks (aggregated search logs)',
} as const);

export type FieldSource = keyof typeof FIELD_SOURCES;
export const FIELD_SOURCE_NAMES = Object.keys(FIELD_SOURCES) as FieldSource[];

/** Sources read from search logs: figures from simulated logs must say so. */
export const ACTION_SOURCES: readonly FieldSource[] = ['engaged_queries', 'board_titles', 'link_text'];

export interface FieldSpec {
  source: FieldSource;
  /** Line prefix in the teacher's text (default: the source name; `fields`/`attributes` use each entry's name). */
  label?: string;
  /** At most this many whitespace-separated tokens of this field (cut ones end with "…"); absent: no limit. */
  maxTokens?: number;
  /** `attributes` only: at most this many attributes (default 8). */
  maxAttributes?: number;
}

export interface RepresentationConfig {
  /** Format of this configuration (1). */
  version: 1;
  /** Total characters of the text (lines added while they fit; the first that does not is cut with "…"). */
  maxChars: number;
  fields: FieldSpec[];
}

export const DEFAULT_MAX_CHARS = 1500;
export const DEFAULT_MAX_ATTRIBUTES = 8;

/**
 * The default for every data set: what its adapter ingests (title, description, its text fields —
 * brand for icecat-chorus — and attributes), in that order. It reproduces, byte for byte, the item
 * text labels were keyed by before representations existed (item-text format 1), so existing label
 * caches stay valid for it (see labelKey in src/label/cache.ts).
 */
export const DEFAULT_REPRESENTATION: Readonly<RepresentationConfig> = Object.freeze({
  version: 1,
  maxChars: DEFAULT_MAX_CHARS,
  fields: [
    { source: 'title' },
    { source: 'description' },
    { source: 'fields' },
    { source: 'attributes', maxAttributes: DEFAULT_MAX_ATTRIBUTES },
  ] as FieldSpec[],
});

/** The order the ablation adds fields in (Pinterest's: content first, then user actions). */
export const ABLATION_ORDER: readonly FieldSource[] = [
  'title',
  'description',
  'brand',
  'attributes',
  'caption',
  'engaged_queries',
  'board_titles',
  'link_text',
];

/** Budgets the ablation uses per source (tokens), so one long field cannot crowd out the rest. */
export const ABLATION_BUDGETS: Readonly<Partial<Record<FieldSource, number>>> = Object.freeze({
  description: 120,
  attributes: 80,
  caption: 60,
  engaged_queries: 20,
  board_titles: 20,
  link_text: 40,
});

/** A configuration listing `sources` in order, with the ablation budgets. */
export function representationOf(sources: readonly FieldSource[], maxChars = DEFAULT_MAX_CHARS): RepresentationConfig {
  return {
    version: 1,
    maxChars,
    fields: sources.map((source) => ({ source, ...(ABLATION_BUDGETS[source] ? { maxTokens: ABLATION_BUDGETS[source] } : {}) })),
  };
}

/** The configuration with defaults filled in and keys in a fixed order: what the id hashes. */
export function normaliseRepresentation(c: RepresentationConfig): RepresentationConfig {
  return {
    version: 1,
    maxChars: c.maxChars,
    fields: c.fields.map((f) => ({
      source: f.source,
      label: f.label ?? f.source,
      ...(f.maxTokens !== undefined ? { maxTokens: f.maxTokens } : {}),
      ...(f.source === 'attributes' ? { maxAttributes: f.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES } : {}),
    })),
  };
}

/** `rep-` + 12 hex digits of SHA-256 over BUILDER_VERSION and the normalised configuration. */
export function representationId(c: RepresentationConfig): string {
  const canonical = JSON.stringify({ builder: BUILDER_VERSION, config: normaliseRepresentation(c) });
  return `rep-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}

export const DEFAULT_REPRESENTATION_ID: string = representationId(DEFAULT_REPRESENTATION);

const bad = (file: string | undefined, field: string, message: string, hint: string): DistilrankError =>
  new DistilrankError('BAD_INPUT', message, { ...(file ? { file } : {}), field, hint });

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/**
 * Check a parsed JSON value as a representation configuration. BAD_INPUT naming the offending field
 * (`fields[2].maxTokens`) on any problem: unknown keys, unknown sources, duplicates, bad budgets.
 */
export function validateRepresentation(raw: unknown, file?: string): RepresentationConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw bad(file, '(root)', 'a representation must be a JSON object', 'write {"version": 1, "maxChars": 1500, "fields": [{"source": "title"}, …]}');
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['version', 'maxChars', 'fields'].includes(k)) throw bad(file, k, `unknown key "${k}"`, 'a representation has the keys version, maxChars and fields');
  }
  if (o.version !== undefined && o.version !== 1)
    throw bad(file, 'version', `unsupported representation version ${JSON.stringify(o.version)}`, 'this distilrank reads version 1');
  const maxChars = o.maxChars ?? DEFAULT_MAX_CHARS;
  if (!positiveInt(maxChars) || maxChars < 16)
    throw bad(file, 'maxChars', `maxChars must be an integer ≥ 16, got ${JSON.stringify(maxChars)}`, 'e.g. "maxChars": 1500');
  if (!Array.isArray(o.fields) || o.fields.length === 0)
    throw bad(
      file,
      'fields',
      '"fields" must be a non-empty array',
      'list the fields in order, e.g. [{"source": "title"}, {"source": "description", "maxTokens": 100}]',
    );
  const seen = new Set<string>();
  const fields: FieldSpec[] = o.fields.map((f: unknown, i: number) => {
    const at = `fields[${i}]`;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw bad(file, at, `${at} must be an object`, 'e.g. {"source": "title"}');
    const e = f as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!['source', 'label', 'maxTokens', 'maxAttributes'].includes(k))
        throw bad(file, `${at}.${k}`, `unknown key "${k}"`, 'a field has the keys source, label, maxTokens and maxAttributes');
    }
    if (typeof e.source !== 'string' || !(FIELD_SOURCE_NAMES as string[]).includes(e.source)) {
      throw bad(file, `${at}.source`, `unknown field source ${JSON.stringify(e.source)}`, `use one of: ${FIELD_SOURCE_NAMES.join(', ')}`);
    }
    if (seen.has(e.source)) throw bad(file, `${at}.source`, `field source "${e.source}" is listed twice`, 'list each source once');
    seen.add(e.source);
    const spec: FieldSpec = { source: e.source as FieldSource };
    if (e.label !== undefined) {
      if (typeof e.label !== 'string' || !/^[\p{L}\p{N} _-]{1,40}$/u.test(e.label)) {
        throw bad(
          file,
          `${at}.label`,
          `label must be 1–40 letters, digits, spaces, "_" or "-", got ${JSON.stringify(e.label)}`,
          'e.g. "label": "searched for"',
        );
      }
      spec.label = e.label;
    }
    if (e.maxTokens !== undefined) {
      if (!positiveInt(e.maxTokens))
        throw bad(
          file,
          `${at}.maxTokens`,
          `maxTokens must be a positive integer, got ${JSON.stringify(e.maxTokens)}`,
          'e.g. "maxTokens": 50; omit it for no limit',
        );
      spec.maxTokens = e.maxTokens;
    }
    if (e.maxAttributes !== undefined) {
      if (e.source !== 'attributes')
        throw bad(file, `${at}.maxAttributes`, 'maxAttributes applies to the attributes source only', 'remove it, or use it on {"source": "attributes"}');
      if (!positiveInt(e.maxAttributes))
        throw bad(file, `${at}.maxAttributes`, `maxAttributes must be a positive integer, got ${JSON.stringify(e.maxAttributes)}`, 'e.g. "maxAttributes": 8');
      spec.maxAttributes = e.maxAttributes;
    }
    return spec;
  });
  if (fields[0]!.source !== 'title')
    throw bad(
      file,
      'fields[0].source',
      'the first field must be the title',
      'start the list with {"source": "title"}: every representation shows the title first',
    );
  return { version: 1, maxChars, fields };
}

/** Read and validate a representation file (`--representation FILE`). */
export function readRepresentation(file: string): RepresentationConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DistilrankError('FILE_NOT_FOUND', `cannot read representation file (${(e as Error).message})`, { file, hint: 'pass the path of a JSON file' });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DistilrankError('BAD_INPUT', `representation file is not valid JSON (${(e as Error).message})`, { file, hint: 'fix the JSON syntax' });
  }
  return validateRepresentation(raw, file);
}
