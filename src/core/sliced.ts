/**
 * Long CPU work written once, run two ways: a generator whose `yield`s mark where it may pause.
 * `runSync` drives it to the end (CLI); `runSliced` gives the event loop back every few
 * milliseconds, so a service that builds the next artifact set keeps answering requests meanwhile
 * (a reload used to stall every request for the seconds the build took).
 */
export type Sliced<T> = Generator<void, T, void>;

export function runSync<T>(work: Sliced<T>): T {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}

/** Default slice: short against the service's latency targets, long against setImmediate's cost. */
export const DEFAULT_SLICE_MS = 4;

/** One turn of the event loop (pending I/O and timers run). */
function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

export async function runSliced<T>(work: Sliced<T>, sliceMs = DEFAULT_SLICE_MS): Promise<T> {
  let deadline = performance.now() + sliceMs;
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
    if (performance.now() >= deadline) {
      await yieldToEventLoop();
      deadline = performance.now() + sliceMs;
    }
  }
}

/** Every value of an iterable, pulled in slices with the event loop running between them. */
export function collectSliced<T>(values: Iterable<T>, sliceMs = DEFAULT_SLICE_MS): Promise<T[]> {
  function* pull(): Sliced<T[]> {
    const out: T[] = [];
    for (const v of values) {
      out.push(v);
      if ((out.length & 63) === 0) yield;
    }
    return out;
  }
  return runSliced(pull(), sliceMs);
}
