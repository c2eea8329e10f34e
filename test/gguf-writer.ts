/**
 * A small GGUF v3 writer, for tests only: no GGUF weights can be downloaded here, so the tests of the
 * `llama` teacher build their own tiny model with it.
 *
 * GGUF layout (little-endian throughout):
 *   header       "GGUF" magic, version u32 (3), tensor count u64, metadata key/value count u64
 *   metadata     per entry: key (string), value type u32, value
 *   tensor infos per tensor: name (string), n_dims u32, dims u64 × n_dims (innermost first, as ggml's
 *                ne[]), ggml type u32, offset u64 (from the start of the data section, aligned)
 *   padding      zeros up to `general.alignment` (32 by default)
 *   data         each tensor's bytes, each starting at a multiple of the alignment
 * A string is a u64 byte length followed by UTF-8 bytes (no terminator). An array is an element type
 * u32, a count u64, then the elements.
 *
 * Only what the tests need is supported: f32 tensors and the scalar/array value types below.
 */
import { writeFileSync } from 'node:fs';

/** GGUF metadata value types (gguf_type in ggml's gguf.h). */
const enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** ggml tensor type of f32 data. */
const GGML_TYPE_F32 = 0;
const DEFAULT_ALIGNMENT = 32;

/** A metadata value, tagged with its GGUF type. */
export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'u32[]'; value: readonly number[] }
  | { type: 'i32[]'; value: readonly number[] }
  | { type: 'f32[]'; value: readonly number[] }
  | { type: 'string[]'; value: readonly string[] };

export const u32 = (value: number): GgufValue => ({ type: 'u32', value });
export const i32 = (value: number): GgufValue => ({ type: 'i32', value });
export const f32 = (value: number): GgufValue => ({ type: 'f32', value });
export const bool = (value: boolean): GgufValue => ({ type: 'bool', value });
export const str = (value: string): GgufValue => ({ type: 'string', value });
export const i32s = (value: readonly number[]): GgufValue => ({ type: 'i32[]', value });
export const f32s = (value: readonly number[]): GgufValue => ({ type: 'f32[]', value });
export const strs = (value: readonly string[]): GgufValue => ({ type: 'string[]', value });

export interface GgufTensor {
  name: string;
  /** Dimensions innermost first (ggml ne[]): a matrix with `rows` rows of `cols` values is [cols, rows]. */
  dims: readonly number[];
  /** Row-major f32 values; length = product of dims. */
  data: Float32Array;
}

/** Appends little-endian values to a growing buffer. */
class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  /** Zeros up to the next multiple of `alignment`. */
  pad(alignment: number): void {
    const rest = this.length % alignment;
    if (rest !== 0) this.push(Buffer.alloc(alignment - rest));
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeValue(out: ByteSink, v: GgufValue): void {
  const array = (elementType: GgufType, n: number, each: (i: number) => void): void => {
    out.u32(GgufType.ARRAY);
    out.u32(elementType);
    out.u64(n);
    for (let i = 0; i < n; i++) each(i);
  };
  switch (v.type) {
    case 'u32':
      out.u32(GgufType.UINT32);
      return out.u32(v.value);
    case 'i32':
      out.u32(GgufType.INT32);
      return out.i32(v.value);
    case 'f32':
      out.u32(GgufType.FLOAT32);
      return out.f32(v.value);
    case 'bool':
      out.u32(GgufType.BOOL);
      return out.push(Buffer.from([v.value ? 1 : 0]));
    case 'string':
      out.u32(GgufType.STRING);
      return out.string(v.value);
    case 'u32[]':
      return array(GgufType.UINT32, v.value.length, (i) => out.u32(v.value[i]!));
    case 'i32[]':
      return array(GgufType.INT32, v.value.length, (i) => out.i32(v.value[i]!));
    case 'f32[]':
      return array(GgufType.FLOAT32, v.value.length, (i) => out.f32(v.value[i]!));
    case 'string[]':
      return array(GgufType.STRING, v.value.length, (i) => out.string(v.value[i]!));
  }
}

/** The bytes of a GGUF v3 file with these metadata entries (in order) and f32 tensors. */
export function encodeGguf(metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: readonly GgufTensor[]): Buffer {
  const alignment = DEFAULT_ALIGNMENT;
  const out = new ByteSink();
  out.push(Buffer.from('GGUF', 'latin1'));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const [key, value] of metadata) {
    out.string(key);
    writeValue(out, value);
  }
  // Tensor infos: offsets into the data section, each tensor padded to the alignment.
  let offset = 0;
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor ${t.name}: dims ${t.dims.join('×')} hold ${n} values, data has ${t.data.length}`);
    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(GGML_TYPE_F32);
    out.u64(offset);
    offset += Math.ceil((n * 4) / alignment) * alignment;
  }
  out.pad(alignment);
  for (const t of tensors) {
    out.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    out.pad(alignment);
  }
  return out.bytes();
}

export function writeGguf(path: string, metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: readonly GgufTensor[]): void {
  writeFileSync(path, encodeGguf(metadata, tensors));
}
