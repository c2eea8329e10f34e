/**
 * The SQLite files distilrank keeps beside the store for paid work (the label cache, the caption
 * cache): opened the same way — created empty with their schema, or checked to be the right kind of
 * file (application_id) at the right schema version (user_version), anything else refused untouched —
 * and tuned the same way (WAL, so each commit survives a killed process).
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DistilrankError } from './errors.ts';

export interface SidecarKind {
  /** What the file is, in messages: "label cache", "caption cache". */
  name: string;
  applicationId: number;
  schemaVersion: number;
  /** Creates the tables of an empty file. */
  schemaSql: string;
  /** How to get such a file when there is none (FILE_NOT_FOUND hint). */
  missingHint: string;
  /** The hint when the file is some other SQLite database. */
  foreignHint: string;
  /** The hint when the file has another schema version. */
  versionHint: string;
}

export interface OpenSidecarOptions {
  create?: boolean;
  readonly?: boolean;
  synchronous?: 'NORMAL' | 'FULL';
}

/** Open (creating it unless `create: false` or `readonly`) a sidecar file of this kind. */
export function openSidecarDb(path: string, kind: SidecarKind, opts: OpenSidecarOptions = {}): Database.Database {
  const exists = existsSync(path) && statSync(path).size > 0;
  const readonly = Boolean(opts.readonly);
  if (!exists && (readonly || opts.create === false)) {
    throw new DistilrankError('FILE_NOT_FOUND', `no ${kind.name} at ${path}`, { file: path, hint: kind.missingHint });
  }
  if (!exists) mkdirSync(dirname(path), { recursive: true });
  else checkSqliteHeader(path, kind.name, kind.applicationId, kind.foreignHint);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly, fileMustExist: exists });
    checkOrInit(db, path, kind);
  } catch (e) {
    db?.close();
    if (e instanceof DistilrankError) throw e;
    throw new DistilrankError('STORE_VERSION', `not a distilrank ${kind.name} (${(e as Error).message})`, {
      file: path,
      hint: `pass another ${kind.name} path, or move the file away`,
    });
  }
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
  }
  db.pragma('busy_timeout = 5000');
  return db;
}

const SQLITE_MAGIC = 'SQLite format 3\0';

/**
 * Refuse an existing file that is not an SQLite database, or one stamped by another application,
 * from its 100-byte header, before any connection opens it: SQLite would take a short garbage file
 * for an empty database (and a writer would build a new one over it), and even a refused read-only
 * open of a WAL file leaves -wal and -shm files beside it. application_id 0 (unstamped) passes, for
 * the caller's own checks.
 */
export function checkSqliteHeader(path: string, what: string, applicationId: number, hint: string): void {
  const header = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 100 || header.toString('latin1', 0, 16) !== SQLITE_MAGIC) {
    throw new DistilrankError('STORE_VERSION', `not a distilrank ${what} (not an SQLite database)`, { file: path, hint });
  }
  const stamped = header.readUInt32BE(68);
  if (stamped !== 0 && stamped !== applicationId) {
    throw new DistilrankError('STORE_VERSION', `a SQLite file, but not a distilrank ${what}`, { file: path, hint });
  }
}

function checkOrInit(db: Database.Database, path: string, kind: SidecarKind): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get() as number;
  if (appId === 0 && version === 0 && tables === 0 && !db.readonly) {
    db.transaction(() => {
      db.exec(kind.schemaSql);
      db.pragma(`application_id = ${kind.applicationId}`);
      db.pragma(`user_version = ${kind.schemaVersion}`);
    })();
    return;
  }
  if (appId !== kind.applicationId) {
    throw new DistilrankError('STORE_VERSION', `a SQLite file, but not a distilrank ${kind.name}`, { file: path, hint: kind.foreignHint });
  }
  if (version !== kind.schemaVersion) {
    throw new DistilrankError('STORE_VERSION', `${kind.name} schema version ${version}; this distilrank reads version ${kind.schemaVersion}`, {
      file: path,
      hint: kind.versionHint,
    });
  }
}
