/**
 * Canonical records: what every loader and data set adapter produces and the store keeps.
 * Ids are strings everywhere (source ids such as "100001" stay as written).
 */
import type { ScaleMapping } from '../core/index.ts';

/** An item of the catalogue (a product, pin, document). */
export interface Item {
  id: string;
  title: string;
  description?: string;
  /** Other named text fields (brand, bullet points, caption, …) that retrieval and models read. */
  fields?: Record<string, string>;
  /** Structured attributes (colour, weight, price); kept as JSON, not indexed as text by default. */
  attributes?: Record<string, string | number | boolean | string[]>;
  imageUrl?: string;
  /** BCP-47 language tag when known ("en", "de", "ja"). */
  language?: string;
}

export interface Query {
  id: string;
  text: string;
  language?: string;
}

/** One rater's grade on the source's native scale. */
export interface RaterGrade {
  rater: string;
  /** Native grade as written by the source. */
  grade: number;
}

/**
 * A human judgment of one (query, item) pair. `grade` is on the data set's native scale (the scale
 * mapping turns it into the 5 levels); `raters` keeps the per-rater grades where the source has them.
 */
export interface Judgment {
  queryId: string;
  itemId: string;
  grade: number;
  raters?: RaterGrade[];
  /** Which judgment set the pair belongs to (icecat-chorus has two rater pools). */
  source?: string;
}

export type LogAction = 'impression' | 'click' | 'long_click' | 'save' | 'purchase' | (string & {});

/** A search-log event, for later stages (teacher pools, engaged-query text). */
export interface LogEvent {
  queryText: string;
  itemId: string;
  action: LogAction;
  /** 1-based position the item was shown at, when known. */
  position?: number;
  /** ISO-8601 time or epoch milliseconds, normalised to epoch ms on ingest. */
  time: number;
  /** Free-form extras (dwell time, board title, session id). */
  extra?: Record<string, string | number>;
}

/** Where a record was read from, so errors can name the file and line. */
export interface Origin {
  file: string;
  line: number;
}
export type Sourced<T> = T & { origin?: Origin };

/** The three text fields retrieval indexes (the store's FTS columns). */
export type TextField = 'title' | 'description' | 'fields';
/** BM25 weight of each text field. */
export type FieldWeights = Record<TextField, number>;

/** Everything one data set adapter or loader hands to the store. */
export interface DatasetBundle {
  name: string;
  description: string;
  /** Folder or files the records came from (shown by `distilrank datasets`). */
  source: string;
  mapping: ScaleMapping;
  /** The judgment set evaluation reads unless told otherwise. */
  defaultJudgmentSet: string;
  fieldWeights?: Partial<FieldWeights>;
  items: ReadonlyArray<Sourced<Item>>;
  queries: ReadonlyArray<Sourced<Query>>;
  judgments: ReadonlyArray<Sourced<Judgment>>;
  logEvents?: ReadonlyArray<Sourced<LogEvent>>;
}
