/**
 * The caption cache: every caption ever paid for, in its own SQLite file (by default
 * `captions.sqlite` beside the store), like the label cache (src/label/cache.ts) and for the same
 * reasons: re-ingesting or deleting a data set never touches paid captions.
 *
 * A caption is keyed by what determined it: (VLM model, caption prompt version, SHA-256 of the image
 * bytes). Two items showing the same image share one paid caption. Which item of which data set a
 * caption describes, and from which URL its image came, is kept separately in `caption_refs`, so a
 * re-run knows an item is done without downloading its image again (a changed URL is fetched anew).
 *
 * A refusal by the model is stored too (caption NULL, refusal text kept): it was paid for, and asking
 * again would most likely be refused again. `captionFor` skips it.
 *
 * Durability as the label cache: each caption is committed in its own transaction the moment it
 * arrives; WAL with synchronous = NORMAL survives kill -9 of the process (not a power cut).
 */
import { dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import type { CaptionSource } from '../represent/index.ts';
import { openSidecarDb, type SidecarKind } from '../../core/index.ts';
import type { CallCost } from '../../jobs/index.ts';

/** 'drc1' — marks a SQLite file as a distilrank caption cache (PRAGMA application_id). */
export const CAPTION_CACHE_APPLICATION_ID = 0x64726331;
export const CAPTION_CACHE_SCHEMA_VERSION = 1;
export const CAPTION_CACHE_FILE = 'captions.sqlite';

const SCHEMA_SQL = `
CREATE TABLE captions (
  model          TEXT NOT NULL,
  prompt_version TEXT NOT NULL,
  image_hash     TEXT NOT NULL,        -- SHA-256 hex of the image bytes
  caption        TEXT,                 -- NULL when the model refused
  refusal        TEXT,
  content_type   TEXT NOT NULL,
  calls          INTEGER NOT NULL,
  input_tokens   INTEGER NOT NULL,
  output_tokens  INTEGER NOT NULL,
  seconds        REAL NOT NULL,
  usd            REAL NOT NULL,
  attempts       INTEGER NOT NULL,
  created_at     TEXT NOT NULL,
  dataset        TEXT,                 -- where it was first paid for (cost reports)
  item_id        TEXT,
  PRIMARY KEY (model, prompt_version, image_hash)
) WITHOUT ROWID;

CREATE TABLE caption_refs (
  dataset        TEXT NOT NULL,
  item_id        TEXT NOT NULL,
  model          TEXT NOT NULL,
  prompt_version TEXT NOT NULL,
  image_url      TEXT NOT NULL,
  image_hash     TEXT NOT NULL,
  PRIMARY KEY (dataset, item_id, model, prompt_version)
) WITHOUT ROWID;
`;

/** Where a caption comes from: the model and prompt (see ./vlm.ts) and the image. */
export interface CaptionKey {
  model: string;
  promptVersion: string;
  imageHash: string;
}

/** Which item a caption describes. */
export interface CaptionRef {
  dataset: string;
  itemId: string;
  imageUrl: string;
}

export interface StoredCaption {
  key: CaptionKey;
  caption: string | null;
  refusal: string | null;
  contentType: string;
  cost: CallCost;
  attempts: number;
  createdAt: string;
}

export interface CaptionFilter {
  dataset?: string;
  model?: string;
  promptVersion?: string;
}

export interface CaptionTotals {
  captions: number;
  refusals: number;
  attempts: number;
  cost: CallCost;
}

export class CaptionCache {
  readonly path: string;
  readonly db: Database.Database;
  private readonly hasStmt: Database.Statement;
  private readonly refStmt: Database.Statement;
  private readonly stmts: { insert: Database.Statement; ref: Database.Statement } | null;

  private constructor(path: string, db: Database.Database, readonly_: boolean) {
    this.path = path;
    this.db = db;
    this.hasStmt = db.prepare('SELECT 1 FROM captions WHERE model = ? AND prompt_version = ? AND image_hash = ?').pluck();
    this.refStmt = db.prepare('SELECT image_url, image_hash FROM caption_refs WHERE dataset = ? AND item_id = ? AND model = ? AND prompt_version = ?');
    this.stmts = readonly_
      ? null
      : {
          insert: db.prepare(
            `INSERT OR IGNORE INTO captions (model, prompt_version, image_hash, caption, refusal, content_type, calls, input_tokens,
               output_tokens, seconds, usd, attempts, created_at, dataset, item_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
          ),
          ref: db.prepare(`INSERT OR REPLACE INTO caption_refs (dataset, item_id, model, prompt_version, image_url, image_hash) VALUES (?,?,?,?,?,?)`),
        };
  }

  /** `captions.sqlite` in the store's folder. */
  static defaultPath(storePath: string): string {
    return join(dirname(storePath), CAPTION_CACHE_FILE);
  }

  /** Open (creating it unless `create: false` or `readonly`) a caption cache; other files are refused untouched. */
  static open(path: string, opts: { create?: boolean; readonly?: boolean } = {}): CaptionCache {
    const db = openSidecarDb(path, CAPTION_CACHE_KIND, opts);
    return new CaptionCache(path, db, Boolean(opts.readonly));
  }

  close(): void {
    this.db.close();
  }

  private writable() {
    if (!this.stmts) throw new Error(`caption cache ${this.path} was opened read-only`);
    return this.stmts;
  }

  has(key: CaptionKey): boolean {
    return this.hasStmt.get(key.model, key.promptVersion, key.imageHash) !== undefined;
  }

  /** The image URL and hash an item was captioned from under a model and prompt, if it was. */
  refOf(dataset: string, itemId: string, model: string, promptVersion: string): { imageUrl: string; imageHash: string } | undefined {
    const r = this.refStmt.get(dataset, itemId, model, promptVersion) as { image_url: string; image_hash: string } | undefined;
    return r ? { imageUrl: r.image_url, imageHash: r.image_hash } : undefined;
  }

  get(key: CaptionKey): StoredCaption | undefined {
    const r = this.db
      .prepare('SELECT * FROM captions WHERE model = ? AND prompt_version = ? AND image_hash = ?')
      .get(key.model, key.promptVersion, key.imageHash) as Record<string, string | number | null> | undefined;
    if (!r) return undefined;
    return {
      key: { ...key },
      caption: (r.caption as string | null) ?? null,
      refusal: (r.refusal as string | null) ?? null,
      contentType: r.content_type as string,
      cost: {
        calls: r.calls as number,
        inputTokens: r.input_tokens as number,
        outputTokens: r.output_tokens as number,
        seconds: r.seconds as number,
        usd: r.usd as number,
      },
      attempts: r.attempts as number,
      createdAt: r.created_at as string,
    };
  }

  /**
   * Save one caption (or refusal) and the item it describes, in one transaction committed on return.
   * A key already present keeps its first caption; the result says whether this one was stored.
   */
  put(
    key: CaptionKey,
    answer: { caption: string | null; refusal: string | null; contentType: string; cost: CallCost },
    ref: CaptionRef,
    attempts = 1,
  ): boolean {
    const s = this.writable();
    let inserted = false;
    const c = answer.cost;
    this.db.transaction(() => {
      inserted =
        s.insert.run(
          key.model,
          key.promptVersion,
          key.imageHash,
          answer.caption,
          answer.refusal,
          answer.contentType,
          c.calls,
          c.inputTokens,
          c.outputTokens,
          c.seconds,
          c.usd,
          attempts,
          new Date().toISOString(),
          ref.dataset,
          ref.itemId,
        ).changes > 0;
      s.ref.run(ref.dataset, ref.itemId, key.model, key.promptVersion, ref.imageUrl, key.imageHash);
    })();
    return inserted;
  }

  /** Record that existing captions describe these items (one transaction). */
  addRefs(entries: ReadonlyArray<{ key: CaptionKey; ref: CaptionRef }>): void {
    if (!entries.length) return;
    const s = this.writable();
    this.db.transaction(() => {
      for (const { key, ref } of entries) s.ref.run(ref.dataset, ref.itemId, key.model, key.promptVersion, ref.imageUrl, key.imageHash);
    })();
  }

  private where(f: CaptionFilter, alias: string, datasetColumn: string): { sql: string; args: string[] } {
    const parts: string[] = [];
    const args: string[] = [];
    const add = (sql: string, value: string | undefined) => {
      if (value === undefined) return;
      parts.push(sql);
      args.push(value);
    };
    add(`${datasetColumn} = ?`, f.dataset);
    add(`${alias}.model = ?`, f.model);
    add(`${alias}.prompt_version = ?`, f.promptVersion);
    return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', args };
  }

  /** Captions paid for (data set: first paid for under it), refusals included. */
  count(filter: CaptionFilter = {}): number {
    const w = this.where(filter, 'c', 'c.dataset');
    return this.db
      .prepare(`SELECT count(*) FROM captions c ${w.sql}`)
      .pluck()
      .get(...w.args) as number;
  }

  totals(filter: CaptionFilter = {}): CaptionTotals {
    const w = this.where(filter, 'c', 'c.dataset');
    const r = this.db
      .prepare(
        `SELECT count(caption) AS captions, count(*) - count(caption) AS refusals, coalesce(sum(attempts), 0) AS attempts,
           coalesce(sum(calls), 0) AS calls, coalesce(sum(input_tokens), 0) AS it, coalesce(sum(output_tokens), 0) AS ot,
           coalesce(sum(seconds), 0) AS s, coalesce(sum(usd), 0) AS usd FROM captions c ${w.sql}`,
      )
      .get(...w.args) as { captions: number; refusals: number; attempts: number; calls: number; it: number; ot: number; s: number; usd: number };
    return {
      captions: r.captions,
      refusals: r.refusals,
      attempts: r.attempts,
      cost: { calls: r.calls, inputTokens: r.it, outputTokens: r.ot, seconds: r.s, usd: r.usd },
    };
  }

  /**
   * item id → caption for a data set (refusals left out). With model / prompt version, only theirs;
   * without, the newest caption of each item under any model.
   */
  captionsFor(dataset: string, opts: { model?: string; promptVersion?: string } = {}): Map<string, string> {
    const w = this.where({ dataset, ...opts }, 'r', 'r.dataset');
    const rows = this.db
      .prepare(
        `SELECT r.item_id AS itemId, c.caption AS caption FROM caption_refs r
         JOIN captions c ON c.model = r.model AND c.prompt_version = r.prompt_version AND c.image_hash = r.image_hash
         ${w.sql} ${w.sql ? 'AND' : 'WHERE'} c.caption IS NOT NULL ORDER BY c.created_at, r.item_id`,
      )
      .all(...w.args) as Array<{ itemId: string; caption: string }>;
    const out = new Map<string, string>();
    for (const r of rows) out.set(r.itemId, r.caption); // newest last: it wins
    return out;
  }

  /** A CaptionSource over this data set's captions (read once, now). */
  captionSource(dataset: string, opts: { model?: string; promptVersion?: string } = {}): CaptionSource {
    const map = this.captionsFor(dataset, opts);
    return { captionFor: (itemId) => map.get(itemId) };
  }
}

const CAPTION_CACHE_KIND: SidecarKind = {
  name: 'caption cache',
  applicationId: CAPTION_CACHE_APPLICATION_ID,
  schemaVersion: CAPTION_CACHE_SCHEMA_VERSION,
  schemaSql: SCHEMA_SQL,
  missingHint: 'run `distilrank enrich captions` first, or pass the path of an existing caption cache',
  foreignHint: 'pass another caption cache path; distilrank does not write into other databases',
  versionHint: 'use the distilrank version that wrote it (captions are paid for: do not delete the file)',
};
