/**
 * The store's SQL schema. Bump SCHEMA_VERSION whenever a table changes: a store written by another
 * version is refused on open (STORE_VERSION), never silently read or migrated in place.
 */
import { DistilrankError } from '../core/index.ts';

/** 'drk1' — marks a SQLite file as a distilrank store (PRAGMA application_id). */
export const APPLICATION_ID = 0x64726b31;
export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE datasets (
  name                 TEXT PRIMARY KEY,
  description          TEXT NOT NULL,
  scale                TEXT NOT NULL,   -- JSON: { name, description, higherIsBetter, rows }
  default_judgment_set TEXT NOT NULL,
  field_weights        TEXT NOT NULL,   -- JSON: BM25 weight per FTS column
  split_seed           TEXT NOT NULL,
  split_fractions      TEXT NOT NULL,   -- JSON: { train, dev, test }
  content_hash         TEXT NOT NULL,   -- hash of the ingested records: re-ingest of the same input is a no-op
  source               TEXT NOT NULL,   -- where the records came from (folder or files)
  ingested_at          TEXT NOT NULL
);

CREATE TABLE items (
  rid         INTEGER PRIMARY KEY,      -- rowid shared with the data set's FTS table
  dataset     TEXT NOT NULL REFERENCES datasets(name),
  id          TEXT NOT NULL,
  title       TEXT NOT NULL,
  description TEXT,
  fields      TEXT,                     -- JSON object of extra text fields
  attributes  TEXT,                     -- JSON object
  image_url   TEXT,
  language    TEXT,
  UNIQUE (dataset, id)
);

CREATE TABLE queries (
  dataset  TEXT NOT NULL REFERENCES datasets(name),
  id       TEXT NOT NULL,
  text     TEXT NOT NULL,
  language TEXT,
  split    TEXT NOT NULL CHECK (split IN ('train', 'dev', 'test')),
  PRIMARY KEY (dataset, id)
) WITHOUT ROWID;

CREATE TABLE judgments (
  dataset       TEXT NOT NULL REFERENCES datasets(name),
  judgment_set  TEXT NOT NULL,
  query_id      TEXT NOT NULL,
  item_id       TEXT NOT NULL,
  native_grade  REAL NOT NULL,
  level         INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
  soft          TEXT,                   -- JSON [p(L1)..p(L5)]: per-rater levels, or a mean spread over two levels; NULL for one discrete grade
  raters        TEXT,                   -- JSON [{ rater, grade }] on the native scale
  PRIMARY KEY (dataset, judgment_set, query_id, item_id)
) WITHOUT ROWID;

CREATE TABLE log_events (
  dataset    TEXT NOT NULL REFERENCES datasets(name),
  query_text TEXT NOT NULL,
  item_id    TEXT NOT NULL,
  action     TEXT NOT NULL,
  position   INTEGER,
  time       INTEGER NOT NULL,          -- epoch ms
  extra      TEXT
);
CREATE INDEX log_events_by_dataset_time ON log_events (dataset, time);
`;

/** The columns of every data set's FTS5 table, in order; BM25 weights are given in this order. */
export const FTS_COLUMNS = ['title', 'description', 'fields'] as const;
export type FtsColumn = (typeof FTS_COLUMNS)[number];

/**
 * Version of what ingest derives from the input (FTS tokenizer and text folding, soft labels, CJK
 * segmentation). Part of the ingest content hash, so a change re-ingests instead
 * of reporting "already up to date".
 */
export const INGEST_VERSION = 4;

/** Porter stemming over unicode61 (diacritics folded): good for English catalogues, harmless elsewhere. */
export const FTS_TOKENIZER = 'porter unicode61 remove_diacritics 2';

/** What a data set may be called: it becomes part of SQL identifiers (its FTS table), so nothing else passes. */
const DATASET_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function checkDatasetName(name: string): void {
  if (!DATASET_NAME.test(name)) {
    throw new DistilrankError('BAD_OPTION', `invalid data set name "${name}"`, {
      field: 'dataset',
      hint: 'use lower-case letters, digits and dashes, starting with a letter or digit (e.g. my-catalog)',
    });
  }
}

/** The data set's FTS5 table: the only SQL identifier built from a data set name, and only from a checked one. */
export function ftsTableName(dataset: string): string {
  checkDatasetName(dataset);
  return `fts_${dataset.replace(/-/g, '_')}`;
}
