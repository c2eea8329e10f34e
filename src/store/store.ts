/**
 * The embedded store: one SQLite file holding every ingested data set (items, queries with their
 * split, judgments mapped onto the five levels, search-log events) and one FTS5 table per data set
 * for BM25. Ingest validates everything first and writes in one transaction, so bad input or a crash
 * leaves the store exactly as it was.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  DistilrankError,
  checkSqliteHeader,
  type ErrorDetails,
  defaultGain,
  softLabel,
  type Level,
  type LevelDistribution,
  type MappingRow,
  type ScaleMapping,
} from '../core/index.ts';
import type { DatasetBundle, FieldWeights, Origin, RaterGrade } from '../ingest/index.ts';
import { foldText, indexText } from '../text/index.ts';
import { APPLICATION_ID, FTS_COLUMNS, FTS_TOKENIZER, INGEST_VERSION, SCHEMA_SQL, SCHEMA_VERSION, checkDatasetName, ftsTableName } from './schema.ts';
import { DEFAULT_SPLIT_FRACTIONS, DEFAULT_SPLIT_SEED, assignSplits, type Split, type SplitFractions } from './splits.ts';

export const DEFAULT_FIELD_WEIGHTS: Readonly<FieldWeights> = Object.freeze({ title: 2, description: 1, fields: 1 });

export interface IngestOptions {
  splitSeed?: string;
  splitFractions?: SplitFractions;
  onProgress?: (done: number, total: number) => void;
}

export interface IngestResult {
  dataset: string;
  /** True when the store already held exactly this input: nothing was written. */
  unchanged: boolean;
  items: number;
  queries: number;
  judgments: number;
  /** Judgments whose native grade the mapping deliberately leaves out (see the scale's rows). */
  judgmentsSkipped: number;
  logEvents: number;
  splits: Record<Split, number>;
}

export interface DatasetInfo {
  name: string;
  description: string;
  scale: { name: string; description: string; higherIsBetter: boolean; rows: MappingRow[] };
  defaultJudgmentSet: string;
  fieldWeights: FieldWeights;
  splitSeed: string;
  splitFractions: SplitFractions;
  source: string;
  ingestedAt: string;
  items: number;
  queries: number;
  judgments: number;
  judgmentSets: string[];
}

export interface StoredQuery {
  id: string;
  text: string;
  language: string | null;
  split: Split;
}

export interface StoredJudgment {
  queryId: string;
  itemId: string;
  judgmentSet: string;
  nativeGrade: number;
  level: Level;
  /** Integer gain for nDCG (default: L1=0 … L5=4). */
  gain: number;
  soft: LevelDistribution | null;
  raters: RaterGrade[] | null;
}

export interface StoredItem {
  id: string;
  title: string;
  description: string | null;
  fields: Record<string, string>;
  attributes: Record<string, unknown>;
  imageUrl: string | null;
  language: string | null;
}

/** A search-log event as stored (time in epoch ms; position and extra null when absent). */
export interface StoredLogEvent {
  queryText: string;
  itemId: string;
  action: string;
  position: number | null;
  time: number;
  extra: Record<string, string | number> | null;
}

export class Store {
  readonly path: string;
  /** Private: every read and write of the store's tables goes through a typed method here. */
  readonly #db: Database.Database;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
  }

  /**
   * Open (and with `create`, initialise) a store. A file that is not a distilrank store, or one of
   * another schema version, is refused and left untouched.
   */
  static open(path: string, opts: { create?: boolean; readonly?: boolean } = {}): Store {
    const exists = existsSync(path) && statSync(path).size > 0;
    if (!exists && !opts.create) {
      throw new DistilrankError('FILE_NOT_FOUND', `no store at ${path}`, {
        file: path,
        hint: 'run `distilrank ingest --dataset NAME` first, or pass --store PATH',
      });
    }
    if (!exists) mkdirSync(dirname(path), { recursive: true });
    else checkSqliteHeader(path, 'store', APPLICATION_ID, 'pass --store with a new file name, or move the file away');
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: Boolean(opts.readonly) && exists, fileMustExist: exists });
      checkOrInit(db, path, exists);
    } catch (e) {
      db?.close();
      if (e instanceof DistilrankError) throw e;
      throw new DistilrankError('STORE_VERSION', `not a distilrank store (${(e as Error).message})`, {
        file: path,
        hint: 'pass --store with a new file name, or move the file away',
      });
    }
    if (!opts.readonly) db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    return new Store(path, db);
  }

  close(): void {
    this.#db.close();
  }

  /** Ingest one data set, replacing any earlier version of it. All or nothing. */
  ingest(bundle: DatasetBundle, opts: IngestOptions = {}): IngestResult {
    const seed = opts.splitSeed ?? DEFAULT_SPLIT_SEED;
    const fractions = opts.splitFractions ?? DEFAULT_SPLIT_FRACTIONS;
    const weights: FieldWeights = { ...DEFAULT_FIELD_WEIGHTS, ...bundle.fieldWeights };
    const plan = validateBundle(bundle);
    const contentHash = hashBundle(bundle, weights, seed, fractions);
    const splits = assignSplits(
      bundle.queries.map((q) => q.id),
      seed,
      fractions,
    );
    const splitCounts: Record<Split, number> = { train: 0, dev: 0, test: 0 };
    for (const s of splits.values()) splitCounts[s] += 1;
    const result: IngestResult = {
      dataset: bundle.name,
      unchanged: false,
      items: bundle.items.length,
      queries: bundle.queries.length,
      judgments: plan.judgments.length,
      judgmentsSkipped: plan.skipped,
      logEvents: bundle.logEvents?.length ?? 0,
      splits: splitCounts,
    };
    const previous = this.#db.prepare('SELECT content_hash FROM datasets WHERE name = ?').get(bundle.name) as { content_hash: string } | undefined;
    if (previous?.content_hash === contentHash) return { ...result, unchanged: true };

    const fts = ftsTableName(bundle.name);
    const total = bundle.items.length + bundle.queries.length + plan.judgments.length + result.logEvents;
    const write = this.#db.transaction(() => {
      this.deleteDataset(bundle.name);
      this.#db
        .prepare(
          `INSERT INTO datasets (name, description, scale, default_judgment_set, field_weights, split_seed,
             split_fractions, content_hash, source, ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
        )
        .run(
          bundle.name,
          bundle.description,
          JSON.stringify({
            name: bundle.mapping.name,
            description: bundle.mapping.description,
            higherIsBetter: bundle.mapping.higherIsBetter,
            rows: bundle.mapping.rows,
          }),
          bundle.defaultJudgmentSet,
          JSON.stringify(weights),
          seed,
          JSON.stringify(fractions),
          contentHash,
          bundle.source,
          new Date().toISOString(),
        );
      this.#db.exec(`CREATE VIRTUAL TABLE ${fts} USING fts5(${FTS_COLUMNS.join(', ')}, content='', tokenize='${FTS_TOKENIZER}')`);
      const insItem = this.#db.prepare(
        `INSERT INTO items (dataset, id, title, description, fields, attributes, image_url, language)
         VALUES (?,?,?,?,?,?,?,?)`,
      );
      const insFts = this.#db.prepare(`INSERT INTO ${fts} (rowid, ${FTS_COLUMNS.join(', ')}) VALUES (?,?,?,?)`);
      let done = 0;
      const tick = () => {
        done += 1;
        if (opts.onProgress && (done % 2000 === 0 || done === total)) opts.onProgress(done, total);
      };
      for (const it of bundle.items) {
        const fieldsText = it.fields ? Object.values(it.fields).join('\n') : '';
        const info = insItem.run(
          bundle.name,
          it.id,
          it.title,
          it.description ?? null,
          it.fields && Object.keys(it.fields).length ? JSON.stringify(it.fields) : null,
          it.attributes && Object.keys(it.attributes).length ? JSON.stringify(it.attributes) : null,
          it.imageUrl ?? null,
          it.language ?? null,
        );
        // Folded as query terms are (src/text): full-width and ligature forms must match their ASCII;
        // CJK and Thai-like runs pre-segmented into the search tokens queries ask for.
        const ix = (t: string) => indexText(foldText(t));
        insFts.run(info.lastInsertRowid, ix(it.title), ix(it.description ?? ''), ix(fieldsText));
        tick();
      }
      const insQuery = this.#db.prepare('INSERT INTO queries (dataset, id, text, language, split) VALUES (?,?,?,?,?)');
      for (const q of bundle.queries) {
        insQuery.run(bundle.name, q.id, q.text, q.language ?? null, splits.get(q.id)!);
        tick();
      }
      const insJudgment = this.#db.prepare(
        `INSERT INTO judgments (dataset, judgment_set, query_id, item_id, native_grade, level, soft, raters)
         VALUES (?,?,?,?,?,?,?,?)`,
      );
      for (const j of plan.judgments) {
        insJudgment.run(
          bundle.name,
          j.set,
          j.queryId,
          j.itemId,
          j.grade,
          j.level,
          j.soft ? JSON.stringify(j.soft) : null,
          j.raters ? JSON.stringify(j.raters) : null,
        );
        tick();
      }
      const insEvent = this.#db.prepare('INSERT INTO log_events (dataset, query_text, item_id, action, position, time, extra) VALUES (?,?,?,?,?,?,?)');
      for (const e of bundle.logEvents ?? []) {
        insEvent.run(bundle.name, e.queryText, e.itemId, e.action, e.position ?? null, e.time, e.extra ? JSON.stringify(e.extra) : null);
        tick();
      }
    });
    write();
    return result;
  }

  /** Remove a data set and its FTS table, in one transaction (nested in the caller's when there is one). */
  deleteDataset(name: string): void {
    const fts = ftsTableName(name);
    this.#db.transaction(() => {
      for (const table of ['log_events', 'judgments', 'queries', 'items', 'datasets']) {
        this.#db.prepare(`DELETE FROM ${table} WHERE ${table === 'datasets' ? 'name' : 'dataset'} = ?`).run(name);
      }
      this.#db.exec(`DROP TABLE IF EXISTS ${fts}`);
    })();
  }

  /** A consistent copy of the whole store at `path` (SQLite VACUUM INTO), for studies that rewrite a data set. */
  copyTo(path: string): void {
    this.#db.prepare('VACUUM INTO ?').run(path);
  }

  /** Fold the write-ahead log into the database file (benchmarks measure the file's size after it). */
  checkpoint(): void {
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /**
   * Replace the text of stored items (title, description, fields; attributes cleared) and rebuild the
   * data set's FTS rows from them, in one transaction. Ids not in the data set are skipped; items not
   * listed lose their FTS row (the field ablation indexes exactly the projection it evaluates).
   */
  rewriteItems(dataset: string, items: readonly StoredItem[]): void {
    const fts = ftsTableName(dataset);
    const upd = this.#db.prepare('UPDATE items SET title = ?, description = ?, fields = ?, attributes = NULL WHERE dataset = ? AND id = ? RETURNING rid');
    const ins = this.#db.prepare(`INSERT INTO ${fts} (rowid, ${FTS_COLUMNS.join(', ')}) VALUES (?,?,?,?)`);
    this.#db.transaction(() => {
      this.#db.prepare(`INSERT INTO ${fts} (${fts}) VALUES ('delete-all')`).run();
      for (const it of items) {
        const fieldsJson = Object.keys(it.fields).length ? JSON.stringify(it.fields) : null;
        const row = upd.get(it.title, it.description, fieldsJson, dataset, it.id) as { rid: number } | undefined;
        if (!row) continue;
        ins.run(row.rid, foldText(it.title), foldText(it.description ?? ''), foldText(Object.values(it.fields).join('\n')));
      }
    })();
  }

  // Search-log events

  /** Whether the data set has any search-log event. */
  hasLogEvents(dataset: string): boolean {
    return this.#db.prepare('SELECT 1 FROM log_events WHERE dataset = ? LIMIT 1').pluck().get(dataset) !== undefined;
  }

  /** The data set's log events with time < `before`, oldest first (a cursor: nothing is held in memory). */
  *logEvents(dataset: string, before = Number.MAX_SAFE_INTEGER): Generator<StoredLogEvent> {
    const stmt = this.#db.prepare(
      'SELECT query_text, item_id, action, position, time, extra FROM log_events WHERE dataset = ? AND time < ? ORDER BY time, rowid',
    );
    for (const raw of stmt.iterate(dataset, before)) {
      const r = raw as { query_text: string; item_id: string; action: string; position: number | null; time: number; extra: string | null };
      yield {
        queryText: r.query_text,
        itemId: r.item_id,
        action: r.action,
        position: r.position,
        time: r.time,
        extra: r.extra ? (JSON.parse(r.extra) as Record<string, string | number>) : null,
      };
    }
  }

  /** How often each distinct logged query text occurs. */
  logQueryTexts(dataset: string): Array<{ text: string; n: number }> {
    return this.#db.prepare('SELECT query_text AS text, count(*) AS n FROM log_events WHERE dataset = ? GROUP BY query_text').all(dataset) as Array<{
      text: string;
      n: number;
    }>;
  }

  /** Number of a data set's log events, how many of them are simulated, and the latest time. */
  logEventCounts(dataset: string): { events: number; simulated: number; maxTime: number | null } {
    const r = this.#db
      .prepare(
        `SELECT count(*) AS n, coalesce(sum(CASE WHEN json_extract(extra, '$.simulated') = 'true' THEN 1 ELSE 0 END), 0) AS s, max(time) AS t
         FROM log_events WHERE dataset = ?`,
      )
      .get(dataset) as { n: number; s: number; t: number | null };
    return { events: r.n, simulated: r.s, maxTime: r.t };
  }

  /**
   * Replace the data set's simulated events (extra.simulated = 'true') with `events`, in one
   * transaction; real events are kept. Returns how many simulated events were removed.
   */
  replaceSimulatedLogEvents(dataset: string, events: readonly StoredLogEvent[]): number {
    this.dataset(dataset);
    let removed = 0;
    this.#db.transaction(() => {
      removed = this.#db.prepare(`DELETE FROM log_events WHERE dataset = ? AND json_extract(extra, '$.simulated') = 'true'`).run(dataset).changes;
      const ins = this.#db.prepare('INSERT INTO log_events (dataset, query_text, item_id, action, position, time, extra) VALUES (?,?,?,?,?,?,?)');
      for (const e of events) ins.run(dataset, e.queryText, e.itemId, e.action, e.position, e.time, e.extra ? JSON.stringify(e.extra) : null);
    })();
    return removed;
  }

  datasetNames(): string[] {
    return (this.#db.prepare('SELECT name FROM datasets ORDER BY name').all() as { name: string }[]).map((r) => r.name);
  }

  /** A handle on one data set, with its metadata; STORE_NOT_FOUND when it was never ingested. */
  dataset(name: string): Dataset {
    const row = this.#db.prepare('SELECT * FROM datasets WHERE name = ?').get(name) as Record<string, string> | undefined;
    if (!row) {
      const have = this.datasetNames();
      throw new DistilrankError('STORE_NOT_FOUND', `data set "${name}" is not in the store ${this.path}`, {
        hint: `run \`distilrank ingest --dataset ${name}\`${have.length ? ` (the store holds: ${have.join(', ')})` : ''}`,
      });
    }
    const count = (sql: string) => (this.#db.prepare(sql).get(name) as { n: number }).n;
    return new Dataset(this, {
      name: row.name!,
      description: row.description!,
      scale: JSON.parse(row.scale!) as DatasetInfo['scale'],
      defaultJudgmentSet: row.default_judgment_set!,
      fieldWeights: JSON.parse(row.field_weights!) as FieldWeights,
      splitSeed: row.split_seed!,
      splitFractions: JSON.parse(row.split_fractions!) as SplitFractions,
      source: row.source!,
      ingestedAt: row.ingested_at!,
      items: count('SELECT count(*) AS n FROM items WHERE dataset = ?'),
      queries: count('SELECT count(*) AS n FROM queries WHERE dataset = ?'),
      judgments: count('SELECT count(*) AS n FROM judgments WHERE dataset = ?'),
      judgmentSets: (this.#db.prepare('SELECT DISTINCT judgment_set AS s FROM judgments WHERE dataset = ? ORDER BY s').all(name) as { s: string }[]).map(
        (r) => r.s,
      ),
    });
  }

  queries(dataset: string, split?: Split): StoredQuery[] {
    const sql = `SELECT id, text, language, split FROM queries WHERE dataset = ?${split ? ' AND split = ?' : ''} ORDER BY id`;
    return this.#db.prepare(sql).all(...(split ? [dataset, split] : [dataset])) as StoredQuery[];
  }

  /** Judgments of one judgment set (the data set's default unless given), optionally of one split. */
  judgments(dataset: string, opts: { split?: Split; judgmentSet?: string } = {}): StoredJudgment[] {
    return [...this.iterateJudgments(dataset, opts)];
  }

  /** judgments() one at a time (a service reads them in slices while it keeps answering). */
  *iterateJudgments(dataset: string, opts: { split?: Split; judgmentSet?: string } = {}): Generator<StoredJudgment> {
    const set = opts.judgmentSet ?? this.dataset(dataset).defaultJudgmentSet;
    const rows = this.#db
      .prepare(
        `SELECT j.query_id, j.item_id, j.judgment_set, j.native_grade, j.level, j.soft, j.raters
         FROM judgments j JOIN queries q ON q.dataset = j.dataset AND q.id = j.query_id
         WHERE j.dataset = ? AND j.judgment_set = ?${opts.split ? ' AND q.split = ?' : ''}
         ORDER BY j.query_id, j.item_id`,
      )
      .iterate(...(opts.split ? [dataset, set, opts.split] : [dataset, set])) as IterableIterator<{
      query_id: string;
      item_id: string;
      judgment_set: string;
      native_grade: number;
      level: Level;
      soft: string | null;
      raters: string | null;
    }>;
    for (const r of rows) {
      yield {
        queryId: r.query_id,
        itemId: r.item_id,
        judgmentSet: r.judgment_set,
        nativeGrade: r.native_grade,
        level: r.level,
        gain: defaultGain(r.level),
        soft: r.soft ? (JSON.parse(r.soft) as LevelDistribution) : null,
        raters: r.raters ? (JSON.parse(r.raters) as RaterGrade[]) : null,
      };
    }
  }

  items(dataset: string, ids: readonly string[]): StoredItem[] {
    const rows = this.#db
      .prepare(
        `SELECT i.id, i.title, i.description, i.fields, i.attributes, i.image_url, i.language
         FROM json_each(?) AS w CROSS JOIN items i ON i.dataset = ? AND i.id = w.value ORDER BY w.key`,
      )
      .all(JSON.stringify(ids), dataset) as Array<Record<string, string | null>>;
    return rows.map((r) => ({
      id: r.id!,
      title: r.title!,
      description: r.description ?? null,
      fields: r.fields ? (JSON.parse(r.fields) as Record<string, string>) : {},
      attributes: r.attributes ? (JSON.parse(r.attributes) as Record<string, unknown>) : {},
      imageUrl: r.image_url ?? null,
      language: r.language ?? null,
    }));
  }

  /** Every item id of a data set, in id order. */
  itemIds(dataset: string): string[] {
    return this.#db.prepare('SELECT id FROM items WHERE dataset = ? ORDER BY id').pluck().all(dataset) as string[];
  }

  itemCount(dataset: string): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM items WHERE dataset = ?').get(dataset) as { n: number }).n;
  }

  /**
   * FTS5's own totals for a data set's index (its "averages" record): the row count and the tokens
   * per column, which BM25's IDF and average document length are computed from.
   */
  ftsTotals(dataset: string): { rows: number; columnTokens: number[] } {
    const blob = this.#db
      .prepare(`SELECT block FROM ${ftsTableName(dataset)}_data WHERE id = 1`)
      .pluck()
      .get() as Buffer | undefined;
    if (!blob) return { rows: 0, columnTokens: FTS_COLUMNS.map(() => 0) };
    const v = readVarints(blob);
    return { rows: v[0]!, columnTokens: FTS_COLUMNS.map((_, c) => v[c + 1] ?? 0) };
  }

  /** Every row of a data set's FTS5 index: rowid, item id and tokens per column (FTS5's docsize record). */
  *ftsRows(dataset: string): Generator<{ rid: number; itemId: string; columnTokens: number[] }> {
    const rows = this.#db
      .prepare(`SELECT d.id AS rid, i.id AS itemId, d.sz AS sz FROM ${ftsTableName(dataset)}_docsize d JOIN items i ON i.rid = d.id ORDER BY d.id`)
      .iterate() as IterableIterator<{ rid: number; itemId: string; sz: Buffer }>;
    for (const r of rows) yield { rid: r.rid, itemId: r.itemId, columnTokens: readVarints(r.sz) };
  }

  /**
   * Every token occurrence in a data set's FTS5 index as [term, rowid, column index], in term,
   * rowid, column, offset order (fts5vocab's "instance" table): what an in-memory copy is built from.
   */
  *ftsInstances(dataset: string): Generator<[term: string, rid: number, column: number]> {
    const vocab = `vocab_${ftsTableName(dataset)}`;
    this.#db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS temp.${vocab} USING fts5vocab(main, '${ftsTableName(dataset)}', 'instance')`);
    const column = new Map<string, number>(FTS_COLUMNS.map((c, i) => [c, i]));
    const rows = this.#db.prepare(`SELECT term, doc, col FROM temp.${vocab}`).raw().iterate() as IterableIterator<[string, number, string]>;
    for (const [term, rid, col] of rows) yield [term, rid, column.get(col)!];
  }

  /**
   * BM25 over the data set's FTS5 table: the top `k` items for an FTS5 MATCH expression, scores
   * positive (higher is better). With `restrictTo`, only those item ids are scored (rerank protocol);
   * items that match no query term are absent from the result.
   */
  bm25(
    dataset: string,
    match: string,
    opts: { k?: number; restrictTo?: readonly string[]; weights?: FieldWeights } = {},
  ): Array<{ itemId: string; score: number }> {
    const w = opts.weights ?? this.dataset(dataset).fieldWeights;
    const fts = ftsTableName(dataset);
    const weightArgs = FTS_COLUMNS.map((c) => Number(w[c])).join(', ');
    if (opts.restrictTo) {
      return this.#db
        .prepare(
          `SELECT i.id AS itemId, -bm25(${fts}, ${weightArgs}) AS score
           FROM ${fts} f JOIN items i ON i.rid = f.rowid
           WHERE ${fts} MATCH ? AND f.rowid IN (SELECT rid FROM items WHERE dataset = ? AND id IN (SELECT value FROM json_each(?)))`,
        )
        .all(match, dataset, JSON.stringify(opts.restrictTo)) as Array<{ itemId: string; score: number }>;
    }
    return this.#db
      .prepare(
        `SELECT i.id AS itemId, s.score FROM (
           SELECT rowid, -bm25(${fts}, ${weightArgs}) AS score FROM ${fts} WHERE ${fts} MATCH ? ORDER BY score DESC LIMIT ?
         ) s JOIN items i ON i.rid = s.rowid ORDER BY s.score DESC`,
      )
      .all(match, opts.k ?? 100) as Array<{ itemId: string; score: number }>;
  }
}

/** SQLite's variable-length integers (FTS5 records are sequences of them): 1–9 bytes, big-endian. */
function readVarints(buf: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let v = 0;
    let i = 0;
    for (; i < 8; i++) {
      const b = buf[pos + i]!;
      if (b < 0x80) break;
      v = v * 128 + (b & 0x7f);
    }
    if (i < 8) {
      v = v * 128 + buf[pos + i]!;
      pos += i + 1;
    } else {
      v = v * 256 + buf[pos + 8]!;
      pos += 9;
    }
    out.push(v);
  }
  return out;
}

function checkOrInit(db: Database.Database, path: string, existed: boolean): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n;
  if (appId === 0 && version === 0 && tables === 0) {
    db.transaction(() => {
      db.exec(SCHEMA_SQL);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
    return;
  }
  if (appId !== APPLICATION_ID) {
    throw new DistilrankError('STORE_VERSION', 'a SQLite file, but not a distilrank store', {
      file: path,
      hint: 'pass --store with another path; distilrank does not write into foreign databases',
    });
  }
  if (version !== SCHEMA_VERSION) {
    throw new DistilrankError('STORE_VERSION', `store schema version ${version}; this distilrank reads version ${SCHEMA_VERSION}`, {
      file: path,
      hint: existed ? 're-create it: move the file away and run `distilrank ingest` again (ingest is cheap; labels live elsewhere)' : undefined,
    });
  }
}

interface PlannedJudgment {
  set: string;
  queryId: string;
  itemId: string;
  grade: number;
  level: Level;
  soft: LevelDistribution | null;
  raters: RaterGrade[] | null;
}

/** Check ids, references and grades before anything is written; errors name file and line. */
function validateBundle(b: DatasetBundle): { judgments: PlannedJudgment[]; skipped: number } {
  checkDatasetName(b.name);
  const at = (o: Origin | undefined, field?: string): ErrorDetails => ({ ...(o ? { file: o.file, line: o.line } : {}), ...(field ? { field } : {}) });
  const itemSeen = new Map<string, Origin | undefined>();
  for (const it of b.items) {
    if (!it.id) throw new DistilrankError('BAD_INPUT', 'item has an empty id', { ...at(it.origin, 'id'), hint: 'every item needs a non-empty id' });
    if (/\s/.test(it.id)) {
      throw new DistilrankError('BAD_INPUT', `item id "${it.id}" contains whitespace`, {
        ...at(it.origin, 'id'),
        hint: 'ids travel through TREC run and qrels files, which split on whitespace: replace spaces, e.g. with "_"',
      });
    }
    if (itemSeen.has(it.id)) {
      const first = itemSeen.get(it.id);
      throw new DistilrankError('DUPLICATE_ID', `duplicate item id "${it.id}"${first ? ` (first on line ${first.line})` : ''}`, {
        ...at(it.origin, 'id'),
        hint: 'item ids must be unique within a data set',
      });
    }
    itemSeen.set(it.id, it.origin);
  }
  const querySeen = new Map<string, Origin | undefined>();
  for (const q of b.queries) {
    if (!q.id || !q.text.trim()) {
      throw new DistilrankError('BAD_INPUT', `query "${q.id}" has an empty ${q.id ? 'text' : 'id'}`, {
        ...at(q.origin, q.id ? 'text' : 'id'),
        hint: 'every query needs an id and non-empty text',
      });
    }
    if (/\s/.test(q.id)) {
      throw new DistilrankError('BAD_INPUT', `query id "${q.id}" contains whitespace`, {
        ...at(q.origin, 'id'),
        hint: 'ids travel through TREC run and qrels files, which split on whitespace: replace spaces, e.g. with "_"',
      });
    }
    if (querySeen.has(q.id)) {
      throw new DistilrankError('DUPLICATE_ID', `duplicate query id "${q.id}"`, { ...at(q.origin, 'id'), hint: 'query ids must be unique' });
    }
    querySeen.set(q.id, q.origin);
  }
  const out: PlannedJudgment[] = [];
  const pairSeen = new Set<string>();
  let skipped = 0;
  const toLevel = (grade: number, origin: Origin | undefined, field: string): Level | null => {
    try {
      return b.mapping.toLevel(grade);
    } catch (e) {
      if (e instanceof DistilrankError) throw new DistilrankError(e.code, e.message, { ...at(origin, field), hint: e.details.hint });
      throw e;
    }
  };
  for (const j of b.judgments) {
    if (!querySeen.has(j.queryId)) {
      throw new DistilrankError('UNKNOWN_REFERENCE', `judgment names unknown query "${j.queryId}"`, {
        ...at(j.origin, 'query'),
        hint: 'add the query to the queries file, or remove the judgment',
      });
    }
    if (!itemSeen.has(j.itemId)) {
      throw new DistilrankError('UNKNOWN_REFERENCE', `judgment names unknown item "${j.itemId}"`, {
        ...at(j.origin, 'item'),
        hint: 'add the item to the items file, or remove the judgment',
      });
    }
    const set = j.source ?? 'default';
    const key = `${set}\0${j.queryId}\0${j.itemId}`;
    if (pairSeen.has(key)) {
      throw new DistilrankError('DUPLICATE_ID', `duplicate judgment for query "${j.queryId}", item "${j.itemId}"`, {
        ...at(j.origin),
        hint: 'give each (query, item) pair one row, or one row per rater with a rater column',
      });
    }
    pairSeen.add(key);
    const raterLevels = j.raters?.map((r) => toLevel(r.grade, j.origin, 'rater grade'));
    const level = raterLevels?.length && !isOnScale(b.mapping, j.grade) ? levelOfRaters(raterLevels) : toLevel(j.grade, j.origin, 'grade');
    if (level === null) {
      skipped += 1;
      continue;
    }
    out.push({
      set,
      queryId: j.queryId,
      itemId: j.itemId,
      grade: j.grade,
      level,
      soft: raterLevels && raterLevels.length > 1 ? softLabel(raterLevels) : (b.mapping.toDistribution?.(j.grade) ?? null),
      raters: j.raters?.length ? j.raters : null,
    });
  }
  for (const e of b.logEvents ?? []) {
    if (!Number.isFinite(e.time)) {
      throw new DistilrankError('BAD_INPUT', `log event has an invalid time ${String(e.time)}`, {
        ...at(e.origin, 'time'),
        hint: 'give time as ISO-8601 or epoch milliseconds',
      });
    }
    if (!itemSeen.has(e.itemId)) {
      throw new DistilrankError('UNKNOWN_REFERENCE', `log event names unknown item "${e.itemId}"`, {
        ...at(e.origin, 'item_id'),
        hint: 'log events must refer to ingested items',
      });
    }
  }
  return { judgments: out, skipped };
}

function isOnScale(mapping: ScaleMapping, grade: number): boolean {
  try {
    mapping.toLevel(grade);
    return true;
  } catch {
    return false;
  }
}

/**
 * The level of a pair whose pair grade is not itself on the scale (the mean of disagreeing raters on a
 * discrete scale, e.g. 1.5 on 0–3): the mean of the raters' levels, rounded half up; null when every
 * rater's grade is dropped by the mapping.
 */
function levelOfRaters(levels: ReadonlyArray<Level | null>): Level | null {
  const used = levels.filter((l): l is Level => l !== null);
  if (!used.length) return null;
  return Math.floor(used.reduce((a, l) => a + l, 0) / used.length + 0.5) as Level;
}

function hashBundle(b: DatasetBundle, weights: FieldWeights, seed: string, fractions: SplitFractions): string {
  const h = createHash('sha256');
  const strip = <T extends { origin?: Origin }>({ origin: _origin, ...rest }: T) => rest;
  h.update(
    JSON.stringify({
      v: SCHEMA_VERSION,
      index: INGEST_VERSION,
      tokenizer: FTS_TOKENIZER,
      name: b.name,
      d: b.description,
      m: b.mapping.name,
      rows: b.mapping.rows,
      set: b.defaultJudgmentSet,
      weights,
      seed,
      fractions,
    }),
  );
  for (const list of [b.items, b.queries, b.judgments, b.logEvents ?? []] as ReadonlyArray<ReadonlyArray<{ origin?: Origin }>>) {
    h.update('\n#');
    for (const r of list) h.update(JSON.stringify(strip(r))).update('\n');
  }
  return h.digest('hex');
}

/**
 * One data set of a store, bound once: the store found it (so its name is checked and it exists)
 * when the handle was made, and every read goes through the store's typed methods under that name.
 * It carries the data set's metadata as of that moment (DatasetInfo); JSON shows only those fields.
 */
export class Dataset implements DatasetInfo {
  readonly #store: Store;
  readonly name: string;
  readonly description: string;
  readonly scale: DatasetInfo['scale'];
  readonly defaultJudgmentSet: string;
  readonly fieldWeights: FieldWeights;
  readonly splitSeed: string;
  readonly splitFractions: SplitFractions;
  readonly source: string;
  readonly ingestedAt: string;
  readonly items: number;
  readonly queries: number;
  readonly judgments: number;
  readonly judgmentSets: string[];

  constructor(store: Store, info: DatasetInfo) {
    this.#store = store;
    this.name = info.name;
    this.description = info.description;
    this.scale = info.scale;
    this.defaultJudgmentSet = info.defaultJudgmentSet;
    this.fieldWeights = info.fieldWeights;
    this.splitSeed = info.splitSeed;
    this.splitFractions = info.splitFractions;
    this.source = info.source;
    this.ingestedAt = info.ingestedAt;
    this.items = info.items;
    this.queries = info.queries;
    this.judgments = info.judgments;
    this.judgmentSets = info.judgmentSets;
  }

  /** The name, so a handle reads as its data set in messages and templates. */
  toString(): string {
    return this.name;
  }

  /** The store the data set lives in (for its path, and for what spans data sets). */
  get store(): Store {
    return this.#store;
  }

  storedQueries(split?: Split): StoredQuery[] {
    return this.#store.queries(this.name, split);
  }

  storedJudgments(opts: { split?: Split; judgmentSet?: string } = {}): StoredJudgment[] {
    return this.#store.judgments(this.name, opts);
  }

  storedItems(ids: readonly string[]): StoredItem[] {
    return this.#store.items(this.name, ids);
  }

  itemIds(): string[] {
    return this.#store.itemIds(this.name);
  }

  hasLogEvents(): boolean {
    return this.#store.hasLogEvents(this.name);
  }

  logEvents(before?: number): Generator<StoredLogEvent> {
    return this.#store.logEvents(this.name, before);
  }

  logEventCounts(): { events: number; simulated: number; maxTime: number | null } {
    return this.#store.logEventCounts(this.name);
  }

  logQueryTexts(): Array<{ text: string; n: number }> {
    return this.#store.logQueryTexts(this.name);
  }

  replaceSimulatedLogEvents(events: readonly StoredLogEvent[]): number {
    return this.#store.replaceSimulatedLogEvents(this.name, events);
  }

  bm25(match: string, opts: { k?: number; restrictTo?: readonly string[]; weights?: FieldWeights } = {}): Array<{ itemId: string; score: number }> {
    return this.#store.bm25(this.name, match, { weights: this.fieldWeights, ...opts });
  }
}
