/**
 * Writing files and folders so that a reader (or a crash) never sees half of one: everything goes to
 * a temporary name beside the target and is renamed into place. Shared by every stage that persists
 * output (runs, qrels, reports, batch files, label exports, model artifacts).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const CHUNK = 1 << 20;

/**
 * Write `content` (one string, or chunks streamed in ~1 MiB writes; byte chunks as they are) to `path` through a uniquely named
 * temporary file in the same folder, fsynced, then renamed. On failure the temporary file is removed
 * and the error (e.g. ENOENT for a missing folder) is rethrown.
 */
export function writeFileAtomic(path: string, content: string | Iterable<string | Uint8Array>): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      let buf = '';
      for (const chunk of typeof content === 'string' ? [content] : content) {
        if (typeof chunk !== 'string') {
          // Bytes go out as they are, after the text gathered so far.
          if (buf) writeSync(fd, buf);
          buf = '';
          writeSync(fd, chunk);
          continue;
        }
        buf += chunk;
        if (buf.length > CHUNK) {
          writeSync(fd, buf);
          buf = '';
        }
      }
      if (buf) writeSync(fd, buf);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Replace the folder `dir` with one that `fill` writes: `fill` gets a fresh temporary folder beside
 * `dir`; it then takes `dir`'s place (the previous one is moved aside and removed). If `fill` throws,
 * `dir` is left as it was.
 */
export function replaceDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = join(parent, `.${basename(dir)}.old-${process.pid}`);
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}
