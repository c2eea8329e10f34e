/**
 * The label cache: every teacher label ever paid for, in its own SQLite file (by default
 * `labels.sqlite` beside the store), so re-ingesting or deleting a data set never touches paid labels.
 *
 * A label is keyed by what determined it: (teacher, model, prompt version, SHA-256 of the query text,
 * the item's text representation (src/enrich/represent) and SHA-256 of the item text). The representation id
 * is folded into the item hash column so the file format is unchanged: the default representation
 * (which reproduces the pre-representation item text byte for byte) hashes the text alone, exactly as
 * labels were keyed before, so existing caches stay valid for it; any other representation hashes
 * `representation id + NUL + text`, so its labels are clearly separate even where its text happens to
 * equal another's. Change any of them and the pair is a miss, so it is labelled again; keep
 * them and the pair is never requested again, whatever data set or ids it comes under. Which data
 * set pairs (dataset, query id, item id) a label answers is kept separately in `label_refs`, so two
 * items with identical text share one paid label and both appear in `labelsFor`.
 *
 * Durability: each label is committed in its own small transaction the moment it arrives. The file
 * runs in WAL mode with `synchronous = NORMAL`: a commit is appended to the WAL without an fsync, and
 * the WAL is fsynced at checkpoints. A killed process (kill -9, OOM, a crash) therefore loses nothing
 * that was committed — the WAL lives in the OS page cache, which the kernel writes out. Only an OS
 * crash or power loss can drop the last commits since the previous checkpoint; the file stays
 * consistent and those labels are simply requested again. `synchronous: 'FULL'` fsyncs every label
 * instead (a few ms each) for when that matters more than throughput.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import { writeFileAtomic, openSidecarDb, type SidecarKind, type LevelDistribution } from '../core/index.ts';
import { DEFAULT_REPRESENTATION_ID } from '../enrich/index.ts';
import type { TeacherJudgment, TeacherPair } from '../teacher/index.ts';
import type { CallCost } from '../jobs/index.ts';

/** 'drl1' — marks a SQLite file as a distilrank label cache (PRAGMA application_id). */
export const LABEL_CACHE_APPLICATION_ID = 0x64726c31;
export const LABEL_CACHE_SCHEMA_VERSION = 1;
export const LABEL_CACHE_FILE = 'labels.sqlite';

const SCHEMA_SQL = `
CREATE TABLE labels (
  teacher        TEXT NOT NULL,
  model          TEXT NOT NULL,
  prompt_version TEXT NOT NULL,
  query_hash     TEXT NOT NULL,        -- SHA-256 hex of the query text as sent
  item_hash      TEXT NOT NULL,        -- SHA-256 hex of the item text as sent
  p1 REAL NOT NULL, p2 REAL NOT NULL, p3 REAL NOT NULL, p4 REAL NOT NULL, p5 REAL NOT NULL,
  method         TEXT NOT NULL,
  calls          INTEGER NOT NULL,     -- the teacher's cost of the call that produced the label
  input_tokens   INTEGER NOT NULL,
  output_tokens  INTEGER NOT NULL,
  seconds        REAL NOT NULL,
  usd            REAL NOT NULL,
  attempts       INTEGER NOT NULL,     -- requests sent for it (failed attempts included)
  created_at     TEXT NOT NULL,
  dataset        TEXT,                 -- where it was first labelled (for cost reports)
  query_id       TEXT,
  item_id        TEXT,
  query_text     TEXT,
  PRIMARY KEY (teacher, model, prompt_version, query_hash, item_hash)
) WITHOUT ROWID;

CREATE TABLE label_refs (
  dataset        TEXT NOT NULL,
  teacher        TEXT NOT NULL,
  model          TEXT NOT NULL,
  prompt_version TEXT NOT NULL,
  query_id       TEXT NOT NULL,
  item_id        TEXT NOT NULL,
  query_hash     TEXT NOT NULL,
  item_hash      TEXT NOT NULL,
  PRIMARY KEY (dataset, teacher, model, prompt_version, query_id, item_id)
) WITHOUT ROWID;
`;

/** What a label is keyed by. Build it with `labelKey`. */
export interface LabelKey {
  teacher: string;
  model: string;
  promptVersion: string;
  queryHash: string;
  /**
   * The representation id the item text was built with (labelKey always sets it). Informational
   * once the key is built: itemHash already folds it in, so keys read back from a batch manifest
   * need not carry it.
   */
  representation?: string;
  /** SHA-256 hex of the item text (with the representation id folded in unless it is the default: see above). */
  itemHash: string;
}

/** Which data set pair a label answers. */
export interface LabelRef {
  dataset: string;
  queryId: string;
  itemId: string;
  /** Kept with the label for exports and debugging (item text is not: it can be long). */
  queryText?: string;
}

export interface CachedLabel {
  key: LabelKey;
  distribution: LevelDistribution;
  method: string;
  cost: CallCost;
  attempts: number;
  createdAt: string;
}

export interface LabelFilter {
  dataset?: string;
  teacher?: string;
  model?: string;
  promptVersion?: string;
}

export interface LabelTotals {
  labels: number;
  attempts: number;
  cost: CallCost;
}

export interface LabelRow {
  dataset: string;
  queryId: string;
  itemId: string;
  queryText: string | null;
  teacher: string;
  model: string;
  promptVersion: string;
  distribution: LevelDistribution;
  method: string;
  cost: CallCost;
  createdAt: string;
}

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The item hash column: the text alone for the default representation, else id + NUL + text. */
export function itemHashOf(itemText: string, representation: string = DEFAULT_REPRESENTATION_ID): string {
  return representation === DEFAULT_REPRESENTATION_ID ? sha256(itemText) : sha256(`${representation}\0${itemText}`);
}

/** The cache key of a pair as `teacher` would judge it, its item text built with `representation`. */
export function labelKey(
  teacher: { readonly name: string; readonly model: string; readonly promptVersion: string },
  queryText: string,
  itemText: string,
  representation: string = DEFAULT_REPRESENTATION_ID,
): LabelKey {
  return {
    teacher: teacher.name,
    model: teacher.model,
    promptVersion: teacher.promptVersion,
    queryHash: sha256(queryText),
    representation,
    itemHash: itemHashOf(itemText, representation),
  };
}

/** A pool pair's key: its `representation` (set by buildPool with a representation) or the default. */
export function pairKey(
  teacher: { readonly name: string; readonly model: string; readonly promptVersion: string },
  pair: TeacherPair & { representation?: string },
): LabelKey {
  return labelKey(teacher, pair.queryText, pair.itemText, pair.representation);
}

/** One string per key (for de-duplication in memory; itemHash already tells representations apart). */
export function keyString(k: LabelKey): string {
  return [k.teacher, k.model, k.promptVersion, k.queryHash, k.itemHash].join('\0');
}

/** Five finite, non-negative numbers that sum to 1 (±1e-3). */
export function isDistribution(d: unknown): d is LevelDistribution {
  if (!Array.isArray(d) || d.length !== 5) return false;
  let sum = 0;
  for (const p of d) {
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0) return false;
    sum += p;
  }
  return Math.abs(sum - 1) <= 1e-3;
}

interface LabelDbRow {
  teacher: string;
  model: string;
  prompt_version: string;
  query_hash: string;
  item_hash: string;
  p1: number;
  p2: number;
  p3: number;
  p4: number;
  p5: number;
  method: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  seconds: number;
  usd: number;
  attempts: number;
  created_at: string;
}

/**
 * Label sets: which teacher configurations have labelled a data set. A set is (teacher, model,
 * prompt version, representation) under one data set, with a short stable id; training reads a set's
 * labels by id, without constructing the teacher (for `local` that would build its whole feature index).
 * The table is additive: an older cache gains it, filled from its refs, when it is first opened for
 * writing (representation '' = labelled before sets were recorded); a read-only open of such a cache
 * computes the same sets from its refs. (Refs that a distilrank from before label sets writes into a
 * cache that already has the table get no set: it does not know the table.)
 */
const LABEL_SETS_SQL = `
CREATE TABLE label_sets (
  dataset        TEXT NOT NULL,
  teacher        TEXT NOT NULL,
  model          TEXT NOT NULL,
  prompt_version TEXT NOT NULL,
  representation TEXT NOT NULL,
  id             TEXT NOT NULL,
  first_at       TEXT NOT NULL,
  last_at        TEXT NOT NULL,
  PRIMARY KEY (dataset, teacher, model, prompt_version, representation)
) WITHOUT ROWID;
`;

/** The id of a label set: the teacher's name and 10 hex digits of SHA-256 over what determined its labels. */
export function labelSetId(teacher: string, model: string, promptVersion: string, representation: string): string {
  return `${teacher}-${createHash('sha256').update(['distilrank-label-set', teacher, model, promptVersion, representation].join('\0')).digest('hex').slice(0, 10)}`;
}

/** One teacher configuration's labels of one data set. */
export interface LabelSet {
  id: string;
  dataset: string;
  teacher: string;
  model: string;
  promptVersion: string;
  /** The item text representation id ('' when the labels predate label sets, or came from a batch manifest without it). */
  representation: string;
  /** Labelled pairs of the data set under (teacher, model, prompt version). */
  pairs: number;
  firstAt: string;
  lastAt: string;
}

/** A teacher configuration found in `label_refs`, with when its labels were written. */
interface RefConfig {
  dataset: string;
  teacher: string;
  model: string;
  prompt_version: string;
  first_at: string;
  last_at: string;
}

const KEY_WHERE = 'teacher = ? AND model = ? AND prompt_version = ? AND query_hash = ? AND item_hash = ?';
const keyArgs = (k: LabelKey) => [k.teacher, k.model, k.promptVersion, k.queryHash, k.itemHash];
const distOf = (r: { p1: number; p2: number; p3: number; p4: number; p5: number }): LevelDistribution => [r.p1, r.p2, r.p3, r.p4, r.p5];
const costOf = (r: { calls: number; input_tokens: number; output_tokens: number; seconds: number; usd: number }): CallCost => ({
  calls: r.calls,
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  seconds: r.seconds,
  usd: r.usd,
});

function filterSql(f: LabelFilter, alias: string, datasetColumn: string): { where: string; args: string[] } {
  const parts: string[] = [];
  const args: string[] = [];
  const add = (sql: string, value: string | undefined) => {
    if (value === undefined) return;
    parts.push(sql);
    args.push(value);
  };
  add(`${datasetColumn} = ?`, f.dataset);
  add(`${alias}.teacher = ?`, f.teacher);
  add(`${alias}.model = ?`, f.model);
  add(`${alias}.prompt_version = ?`, f.promptVersion);
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', args };
}

export interface OpenLabelCacheOptions {
  /** Create the file when absent (default true; ignored with `readonly`). */
  create?: boolean;
  readonly?: boolean;
  /** 'NORMAL' (default; see the module comment) or 'FULL' (fsync every label). */
  synchronous?: 'NORMAL' | 'FULL';
}

export class LabelCache {
  readonly path: string;
  readonly db: Database.Database;
  private readonly getStmt: Database.Statement;
  private readonly hasStmt: Database.Statement;
  private readonly stmts: { insert: Database.Statement; ref: Database.Statement; set: Database.Statement } | null;
  /** Whether the file has the label_sets table (a read-only cache from before label sets has not). */
  private hasLabelSets: boolean;

  private constructor(path: string, db: Database.Database, readonly_: boolean) {
    this.path = path;
    this.db = db;
    this.hasLabelSets = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'label_sets'").get() !== undefined;
    const migrate = !readonly_ && !this.hasLabelSets;
    if (migrate) {
      db.exec(LABEL_SETS_SQL);
      this.hasLabelSets = true;
    }
    this.getStmt = db.prepare(`SELECT * FROM labels WHERE ${KEY_WHERE}`);
    this.hasStmt = db.prepare(`SELECT 1 FROM labels WHERE ${KEY_WHERE}`).pluck();
    this.stmts = readonly_
      ? null
      : {
          insert: db.prepare(
            `INSERT OR IGNORE INTO labels (teacher, model, prompt_version, query_hash, item_hash, p1, p2, p3, p4, p5, method,
               calls, input_tokens, output_tokens, seconds, usd, attempts, created_at, dataset, query_id, item_id, query_text)
             VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
          ),
          ref: db.prepare(
            `INSERT OR REPLACE INTO label_refs (dataset, teacher, model, prompt_version, query_id, item_id, query_hash, item_hash)
             VALUES (?,?,?,?,?,?,?,?)`,
          ),
          set: db.prepare(
            `INSERT INTO label_sets (dataset, teacher, model, prompt_version, representation, id, first_at, last_at) VALUES (?,?,?,?,?,?,?,?)
             ON CONFLICT (dataset, teacher, model, prompt_version, representation) DO UPDATE SET last_at = excluded.last_at`,
          ),
        };
    if (migrate) {
      const set = this.writable().set;
      db.transaction(() => {
        for (const c of this.configsOfRefs())
          set.run(c.dataset, c.teacher, c.model, c.prompt_version, '', labelSetId(c.teacher, c.model, c.prompt_version, ''), c.first_at, c.last_at);
      })();
    }
  }

  /** `labels.sqlite` in the store's folder. */
  static defaultPath(storePath: string): string {
    return join(dirname(storePath), LABEL_CACHE_FILE);
  }

  /**
   * Open (creating it unless `create: false` or `readonly`) a label cache. A file that is not a
   * label cache (a distilrank store included), or one of another schema version, is refused untouched.
   */
  static open(path: string, opts: OpenLabelCacheOptions = {}): LabelCache {
    const db = openSidecarDb(path, LABEL_CACHE_KIND, opts);
    return new LabelCache(path, db, Boolean(opts.readonly));
  }

  close(): void {
    this.db.close();
  }

  /** The teacher configurations the refs hold (of one data set, or all), with when their labels were written. */
  private configsOfRefs(dataset?: string): RefConfig[] {
    return this.db
      .prepare(
        `SELECT r.dataset, r.teacher, r.model, r.prompt_version, min(l.created_at) AS first_at, max(l.created_at) AS last_at
         FROM label_refs r JOIN labels l ON l.teacher = r.teacher AND l.model = r.model AND l.prompt_version = r.prompt_version
           AND l.query_hash = r.query_hash AND l.item_hash = r.item_hash
         ${dataset === undefined ? '' : 'WHERE r.dataset = ?'}
         GROUP BY r.dataset, r.teacher, r.model, r.prompt_version`,
      )
      .all(...(dataset === undefined ? [] : [dataset])) as RefConfig[];
  }

  /** The label sets of a data set, most recently written first. */
  labelSets(dataset: string): LabelSet[] {
    // A read-only cache from before label sets: its sets are its refs' teacher configurations.
    const rows: Array<RefConfig & { representation: string; id: string }> = this.hasLabelSets
      ? (this.db
          .prepare(
            'SELECT dataset, teacher, model, prompt_version, representation, id, first_at, last_at FROM label_sets WHERE dataset = ? ORDER BY last_at DESC, id',
          )
          .all(dataset) as Array<RefConfig & { representation: string; id: string }>)
      : this.configsOfRefs(dataset)
          .map((c) => ({ ...c, representation: '', id: labelSetId(c.teacher, c.model, c.prompt_version, '') }))
          .sort((a, b) => (a.last_at < b.last_at ? 1 : a.last_at > b.last_at ? -1 : a.id < b.id ? -1 : 1));
    const pairs = this.db.prepare('SELECT count(*) FROM label_refs WHERE dataset = ? AND teacher = ? AND model = ? AND prompt_version = ?').pluck();
    return rows.map((r) => ({
      id: r.id,
      dataset: r.dataset,
      teacher: r.teacher,
      model: r.model,
      promptVersion: r.prompt_version,
      representation: r.representation,
      pairs: pairs.get(r.dataset, r.teacher, r.model, r.prompt_version) as number,
      firstAt: r.first_at,
      lastAt: r.last_at,
    }));
  }

  private writable() {
    if (!this.stmts) throw new Error(`label cache ${this.path} was opened read-only`);
    return this.stmts;
  }

  get(key: LabelKey): CachedLabel | undefined {
    const row = this.getStmt.get(...keyArgs(key)) as LabelDbRow | undefined;
    if (!row) return undefined;
    return { key: { ...key }, distribution: distOf(row), method: row.method, cost: costOf(row), attempts: row.attempts, createdAt: row.created_at };
  }

  has(key: LabelKey): boolean {
    return this.hasStmt.get(...keyArgs(key)) !== undefined;
  }

  /**
   * Save one label (and, with `ref`, the data set pair it answers) in one transaction, committed on
   * return. A key already present keeps its first label (a concurrent writer got there first): the
   * result says whether this one was stored.
   */
  put(key: LabelKey, judgment: TeacherJudgment, ref?: LabelRef, attempts = 1): boolean {
    if (!isDistribution(judgment.distribution)) {
      throw new Error(`label cache: not a level distribution: ${JSON.stringify(judgment.distribution)}`);
    }
    const s = this.writable();
    const d = judgment.distribution;
    const c = judgment.cost;
    let inserted = false;
    this.db.transaction(() => {
      inserted =
        s.insert.run(
          ...keyArgs(key),
          d[0],
          d[1],
          d[2],
          d[3],
          d[4],
          judgment.method,
          c.calls,
          c.inputTokens,
          c.outputTokens,
          c.seconds,
          c.usd,
          attempts,
          new Date().toISOString(),
          ref?.dataset ?? null,
          ref?.queryId ?? null,
          ref?.itemId ?? null,
          ref?.queryText ?? null,
        ).changes > 0;
      if (ref) {
        s.ref.run(ref.dataset, key.teacher, key.model, key.promptVersion, ref.queryId, ref.itemId, key.queryHash, key.itemHash);
        this.recordSet(ref.dataset, key);
      }
    })();
    return inserted;
  }

  /** Record that existing labels answer these data set pairs (one transaction). */
  addRefs(entries: ReadonlyArray<{ key: LabelKey; ref: LabelRef }>): void {
    if (!entries.length) return;
    const s = this.writable();
    this.db.transaction(() => {
      for (const { key, ref } of entries) {
        s.ref.run(ref.dataset, key.teacher, key.model, key.promptVersion, ref.queryId, ref.itemId, key.queryHash, key.itemHash);
        this.recordSet(ref.dataset, key);
      }
    })();
  }

  private recordSet(dataset: string, key: LabelKey): void {
    const representation = key.representation ?? '';
    const now = new Date().toISOString();
    this.writable().set.run(
      dataset,
      key.teacher,
      key.model,
      key.promptVersion,
      representation,
      labelSetId(key.teacher, key.model, key.promptVersion, representation),
      now,
      now,
    );
  }

  /** Number of labels (data set: labels first paid for under it). */
  count(filter: LabelFilter = {}): number {
    const f = filterSql(filter, 'l', 'l.dataset');
    return this.db
      .prepare(`SELECT count(*) FROM labels l ${f.where}`)
      .pluck()
      .get(...f.args) as number;
  }

  /** What the labels matching `filter` cost (a label's cost counts under the data set it was first paid for). */
  totals(filter: LabelFilter = {}): LabelTotals {
    const f = filterSql(filter, 'l', 'l.dataset');
    const r = this.db
      .prepare(
        `SELECT count(*) AS n, coalesce(sum(attempts), 0) AS attempts, coalesce(sum(calls), 0) AS calls,
           coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
           coalesce(sum(seconds), 0) AS seconds, coalesce(sum(usd), 0) AS usd
         FROM labels l ${f.where}`,
      )
      .get(...f.args) as { n: number; attempts: number } & Parameters<typeof costOf>[0];
    return { labels: r.n, attempts: r.attempts, cost: costOf(r) };
  }

  /** Every labelled pair of a data set for one teacher configuration, ordered by query id, item id. */
  labelsFor(dataset: string, teacher: string, model: string, promptVersion: string): LabelRow[] {
    return this.rows({ dataset, teacher, model, promptVersion });
  }

  private rows(filter: LabelFilter): LabelRow[] {
    return [...this.iterateRows(filter)];
  }

  private *iterateRows(filter: LabelFilter): Generator<LabelRow> {
    const f = filterSql(filter, 'r', 'r.dataset');
    const stmt = this.db.prepare(
      `SELECT r.dataset AS ref_dataset, r.query_id AS ref_query_id, r.item_id AS ref_item_id, l.*
       FROM label_refs r JOIN labels l ON l.teacher = r.teacher AND l.model = r.model AND l.prompt_version = r.prompt_version
         AND l.query_hash = r.query_hash AND l.item_hash = r.item_hash
       ${f.where}
       ORDER BY r.dataset, r.teacher, r.model, r.prompt_version, r.query_id, r.item_id`,
    );
    for (const raw of stmt.iterate(...f.args)) {
      const r = raw as LabelDbRow & { ref_dataset: string; ref_query_id: string; ref_item_id: string; query_text: string | null };
      yield {
        dataset: r.ref_dataset,
        queryId: r.ref_query_id,
        itemId: r.ref_item_id,
        queryText: r.query_text,
        teacher: r.teacher,
        model: r.model,
        promptVersion: r.prompt_version,
        distribution: distOf(r),
        method: r.method,
        cost: costOf(r),
        createdAt: r.created_at,
      };
    }
  }

  /**
   * Write the labelled pairs matching `filter` as JSON lines (one LabelRow per line) to `path`,
   * through a temp file renamed into place. Returns the number of lines.
   */
  exportJsonl(path: string, filter: LabelFilter = {}): number {
    mkdirSync(dirname(path), { recursive: true });
    let n = 0;
    const rows = this.iterateRows(filter);
    function* lines(): Generator<string> {
      for (const row of rows) {
        n += 1;
        yield JSON.stringify(row) + '\n';
      }
    }
    writeFileAtomic(path, lines());
    return n;
  }
}

const LABEL_CACHE_KIND: SidecarKind = {
  name: 'label cache',
  applicationId: LABEL_CACHE_APPLICATION_ID,
  schemaVersion: LABEL_CACHE_SCHEMA_VERSION,
  schemaSql: SCHEMA_SQL,
  missingHint: 'run `distilrank label` first, or pass the path of an existing label cache',
  foreignHint: 'pass another label cache path; distilrank does not write into other databases (the store is a separate file)',
  versionHint: 'use the distilrank version that wrote it (labels are paid for: do not delete the file)',
};
