/**
 * An append-only list of numbers in a typed array that doubles when full: what index builds push
 * millions of entries into (a number[] of that size costs 8–16 bytes an entry and a copy to convert).
 */
export class TypedList<T extends Int32Array | Float64Array> {
  length = 0;
  constructor(
    private data: T,
    private readonly make: (n: number) => T,
  ) {}

  static float64(capacity = 1024): TypedList<Float64Array> {
    return new TypedList(new Float64Array(capacity), (n) => new Float64Array(n));
  }

  static int32(capacity = 1024): TypedList<Int32Array> {
    return new TypedList(new Int32Array(capacity), (n) => new Int32Array(n));
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  /** The entries so far, as a view (no copy). */
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}
