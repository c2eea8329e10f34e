/**
 * What the `llama` teacher checks of a GGUF file before any model is loaded, synchronously and
 * without node-llama-cpp: the file exists and is readable, it is GGUF (v2 or v3), and which model it
 * is. Only the header and the metadata key/value section are read (never the tensors), so a
 * multi-gigabyte file is checked in milliseconds.
 *
 * The identity of a file is a SHA-256 over its size and every byte up to the end of the metadata
 * (at least the first MiB): the architecture, the tokenizer, the chat template and the first tensor
 * bytes. It goes into the teacher's promptVersion, so the label cache never mixes two models, even
 * two files with the same name.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DistilrankError } from '../core/index.ts';

export interface GgufHeader {
  version: number;
  tensorCount: number;
  /** The string and number metadata values (arrays are skipped, except their lengths in `arrayLengths`). */
  metadata: Map<string, string | number | boolean>;
  /** Element counts of array values, by key (e.g. tokenizer.ggml.tokens: the vocabulary size). */
  arrayLengths: Map<string, number>;
  /** Byte offset where the metadata section ends (the tensor infos start). */
  metadataEnd: number;
  /** File size in bytes. */
  size: number;
  /** sha256 hex of the size and the bytes [0, max(1 MiB, metadataEnd)). */
  identity: string;
}

const IDENTITY_MIN_BYTES = 1 << 20;
/** A metadata section larger than this is treated as corrupt (real ones are a few MiB: vocabularies). */
const MAX_METADATA_BYTES = 512 << 20;

/** Value types (gguf_type in ggml's gguf.h) → fixed byte sizes; strings (8) and arrays (9) vary. */
const FIXED_SIZE: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

class Corrupt extends Error {}

/** Sequential little-endian reads from a file descriptor, through a buffer. */
class FileReader {
  private buf = Buffer.alloc(1 << 16);
  private bufStart = 0;
  private bufLen = 0;
  pos = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  private ensure(n: number): void {
    if (this.pos + n > this.size) throw new Corrupt(`the file ends inside the metadata (at byte ${this.size})`);
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.bufLen) return;
    if (n > this.buf.length) this.buf = Buffer.alloc(n);
    this.bufStart = this.pos;
    this.bufLen = readSync(this.fd, this.buf, 0, this.buf.length, this.pos);
    if (this.bufLen < n) throw new Corrupt(`the file ends inside the metadata (at byte ${this.pos + this.bufLen})`);
  }
  private at(n: number): number {
    this.ensure(n);
    const o = this.pos - this.bufStart;
    this.pos += n;
    return o;
  }
  u32(): number {
    return this.buf.readUInt32LE(this.at(4));
  }
  u64(): number {
    const v = this.buf.readBigUInt64LE(this.at(8));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Corrupt(`a length of ${v} bytes`);
    return Number(v);
  }
  bytes(n: number): Buffer {
    if (n > MAX_METADATA_BYTES) throw new Corrupt(`a value of ${n} bytes`);
    return Buffer.from(this.buf.subarray(this.at(n), this.pos - this.bufStart));
  }
  skip(n: number): void {
    if (this.pos + n > this.size) throw new Corrupt(`the file ends inside the metadata (at byte ${this.size})`);
    this.pos += n;
  }
  string(): string {
    return this.bytes(this.u64()).toString('utf8');
  }
  scalar(type: number): string | number | boolean {
    const size = FIXED_SIZE[type];
    if (type === STRING) return this.string();
    if (size === undefined) throw new Corrupt(`unknown value type ${type}`);
    const o = this.at(size);
    switch (type) {
      case 0:
        return this.buf.readUInt8(o);
      case 1:
        return this.buf.readInt8(o);
      case 2:
        return this.buf.readUInt16LE(o);
      case 3:
        return this.buf.readInt16LE(o);
      case 4:
        return this.buf.readUInt32LE(o);
      case 5:
        return this.buf.readInt32LE(o);
      case 6:
        return this.buf.readFloatLE(o);
      case 7:
        return this.buf.readUInt8(o) !== 0;
      case 10:
        return Number(this.buf.readBigUInt64LE(o));
      case 11:
        return Number(this.buf.readBigInt64LE(o));
      default:
        return this.buf.readDoubleLE(o);
    }
  }
}

/**
 * Read and check the header of a GGUF file. FILE_NOT_FOUND when it is missing or unreadable,
 * MODEL_MISMATCH when it is not GGUF v2/v3 or its metadata is cut or corrupt. `setting` names how the
 * user gave the path (an environment variable), for the hint.
 */
export function readGgufHeader(path: string, setting = 'the model path'): GgufHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be opened (${code ?? String(e)})`;
    throw new DistilrankError('FILE_NOT_FOUND', `the GGUF model file ${why}`, {
      file: path,
      hint: `point ${setting} at a readable .gguf file (a llama.cpp model, e.g. a quantised Llama, Qwen or Mistral)`,
    });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new DistilrankError('FILE_NOT_FOUND', 'the GGUF model path is not a file', {
        file: path,
        hint: `point ${setting} at the .gguf file itself, not at a folder`,
      });
    }
    const notGguf = (why: string): DistilrankError =>
      new DistilrankError('MODEL_MISMATCH', `not a GGUF model file: ${why}`, {
        file: path,
        hint: `point ${setting} at a GGUF file (llama.cpp's format; convert other formats with llama.cpp's convert_hf_to_gguf.py)`,
      });
    const r = new FileReader(fd, stat.size);
    let header: Omit<GgufHeader, 'identity'>;
    try {
      if (stat.size < 24 || r.bytes(4).toString('latin1') !== 'GGUF') throw notGguf('it does not start with the GGUF magic bytes');
      const version = r.u32();
      if (version !== 2 && version !== 3) throw notGguf(`GGUF version ${version} (supported: 2 and 3)`);
      const tensorCount = r.u64();
      const kvCount = r.u64();
      if (kvCount > 1_000_000 || tensorCount > 10_000_000) throw new Corrupt(`${kvCount} metadata entries and ${tensorCount} tensors`);
      const metadata = new Map<string, string | number | boolean>();
      const arrayLengths = new Map<string, number>();
      for (let i = 0; i < kvCount; i++) {
        const key = r.string();
        const type = r.u32();
        if (type === ARRAY) {
          const elementType = r.u32();
          const n = r.u64();
          arrayLengths.set(key, n);
          if (elementType === STRING) for (let j = 0; j < n; j++) r.skip(r.u64());
          else if (FIXED_SIZE[elementType] !== undefined) r.skip(n * FIXED_SIZE[elementType]!);
          else throw new Corrupt(`array "${key}" has element type ${elementType}`);
        } else {
          metadata.set(key, r.scalar(type));
        }
        if (r.pos > MAX_METADATA_BYTES) throw new Corrupt(`more than ${MAX_METADATA_BYTES} bytes of metadata`);
      }
      header = { version, tensorCount, metadata, arrayLengths, metadataEnd: r.pos, size: stat.size };
    } catch (e) {
      if (e instanceof Corrupt) throw notGguf(`its metadata is cut or corrupt (${e.message})`);
      throw e;
    }
    return { ...header, identity: fileIdentity(fd, stat.size, Math.max(IDENTITY_MIN_BYTES, header.metadataEnd)) };
  } finally {
    closeSync(fd);
  }
}

function fileIdentity(fd: number, size: number, prefix: number): string {
  const hash = createHash('sha256').update(`gguf-identity\0${size}\0`);
  const buf = Buffer.alloc(1 << 20);
  for (let pos = 0; pos < Math.min(prefix, size);) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, Math.min(prefix, size) - pos), pos);
    if (n <= 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash.digest('hex');
}
