/**
 * The Teacher conformance suite: what every teacher of the registry (src/teacher) must do, run once
 * per implementation (./teacher.test.ts builds each on its tiny fixture).
 *
 * - Distributions: five finite, non-negative probabilities summing to 1 (± 1e-6), for every pair.
 * - Each judgment carries a cost ({calls ≥ 1, tokens, seconds, usd}, all finite and ≥ 0) and a
 *   non-empty method string.
 * - Abort: an already-aborted signal rejects with the abort (an AbortError, not a CallError) and does
 *   no work; where the implementation supports it, so does a signal aborted while the judgment is in
 *   flight, and one aborted right after judge() was called.
 * - Failures are CallErrors (src/jobs) with a kind in {rate_limited, server, timeout, malformed,
 *   fatal}: each implementation names the real failure paths it has and the kind each must give.
 * - Cache key: name (the registry name), model and promptVersion are non-empty and identical for two
 *   instances built from the same config, which also judge alike; a config change that changes the
 *   judgments (checked on a probe pair) changes promptVersion.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallError, type CallErrorKind } from '../../src/jobs/index.ts';
import type { Teacher, TeacherJudgment, TeacherPair } from '../../src/teacher/index.ts';
import { known, type Deviation } from './known.ts';

export const CALL_ERROR_KINDS: readonly CallErrorKind[] = ['rate_limited', 'server', 'timeout', 'malformed', 'fatal'];

export interface TeacherFailure {
  /** What goes wrong (test title). */
  what: string;
  /** The kind the CallError must have. */
  kind: CallErrorKind;
  /** Provoke it: returns the judge() call that must fail (set up whatever teacher or fault it needs). */
  provoke(): Promise<unknown>;
  /** More checks on the error (e.g. retryAfterMs of a 429). */
  check?(e: CallError): void;
}

export interface TeacherVariant {
  /** What differs from the subject's config. */
  change: string;
  make(): Teacher | Promise<Teacher>;
  /** A pair the change matters to: the variant judges it differently from the subject's teacher. */
  probe: TeacherPair;
  /** promptVersion does not change although the judgments do (see ./known.ts). */
  deviation?: Deviation;
}

export type MidCallAbort =
  | { unsupported: string }
  | {
      /**
       * Put `teacher.judge(pair, signal)` in flight so that it is still pending, call `abort()`, and
       * return that judge() call (the suite expects it to reject with the abort).
       */
      inFlight(teacher: Teacher, pair: TeacherPair, signal: AbortSignal, abort: () => void): Promise<unknown>;
      /** An abort right after judge() is called (before it waits on anything) is not honoured. */
      rightAfterCall?: Deviation;
    };

export interface TeacherSubject {
  /** The registry name. */
  name: string;
  /** Why the whole suite is skipped for this implementation here (e.g. an optional dependency missing). */
  skip?: string;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** A new teacher from the subject's one config. */
  make(): Teacher | Promise<Teacher>;
  /** Pairs the teacher can judge. */
  pairs(): readonly TeacherPair[];
  /** Work done so far (requests sent, pairs run), to check that an aborted call did none. */
  work?(): number;
  midCallAbort: MidCallAbort;
  failures(): readonly TeacherFailure[];
  /** Prompt-relevant config changes; empty with a reason when the implementation has no such config. */
  variants(): readonly TeacherVariant[];
  deviations?: {
    /** judge() throws synchronously (instead of returning a rejected promise) when the signal is already aborted. */
    throwsSynchronously?: Deviation;
  };
}

function expectDistribution(j: TeacherJudgment, label: string): void {
  const d = j.distribution;
  expect(Array.isArray(d), label).toBe(true);
  expect(d, label).toHaveLength(5);
  for (const p of d) {
    expect(Number.isFinite(p), `${label}: ${p}`).toBe(true);
    expect(p, label).toBeGreaterThanOrEqual(0);
  }
  expect(Math.abs(d.reduce((a, b) => a + b, 0) - 1), `${label}: sum ${d.reduce((a, b) => a + b, 0)}`).toBeLessThanOrEqual(1e-6);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected judge() to reject, but it resolved');
}

function expectAbort(e: unknown): void {
  expect(e).not.toBeInstanceOf(CallError);
  expect(e).toMatchObject({ name: 'AbortError' });
}

/** Register the Teacher conformance suite for one implementation. */
export function teacherConformance(subject: TeacherSubject): void {
  const suite = subject.skip ? describe.skip : describe;
  suite(`Teacher conformance: ${subject.name}${subject.skip ? ` — SKIPPED: ${subject.skip}` : ''}`, () => {
    let teacher: Teacher;
    let pairs: readonly TeacherPair[];
    const made: Teacher[] = [];
    const make = async (build: () => Teacher | Promise<Teacher>): Promise<Teacher> => {
      const t = await build();
      made.push(t);
      return t;
    };

    beforeAll(async () => {
      await subject.setup?.();
      teacher = await make(() => subject.make());
      pairs = subject.pairs();
    });
    afterAll(async () => {
      for (const t of made) await t.close?.();
      await subject.teardown?.();
    });

    it('returns five non-negative probabilities summing to 1 (± 1e-6) for every pair', async () => {
      expect(pairs.length).toBeGreaterThan(0);
      for (const p of pairs) expectDistribution(await teacher.judge(p), `${p.queryText} / ${p.itemId}`);
      // the same pairs judged at once (the labelling job runs calls concurrently)
      const together = await Promise.all(pairs.map((p) => teacher.judge(p)));
      together.forEach((j, i) => expectDistribution(j, `concurrent ${pairs[i]!.itemId}`));
    });

    it('each judgment carries a cost object and a method string', async () => {
      for (const p of pairs) {
        const j = await teacher.judge(p);
        expect(typeof j.method).toBe('string');
        expect(j.method.trim()).not.toBe('');
        const c = j.cost;
        expect(c).toEqual({
          calls: expect.any(Number),
          inputTokens: expect.any(Number),
          outputTokens: expect.any(Number),
          seconds: expect.any(Number),
          usd: expect.any(Number),
        });
        expect(Number.isInteger(c.calls) && c.calls >= 1).toBe(true);
        for (const k of ['inputTokens', 'outputTokens'] as const) expect(Number.isInteger(c[k]) && c[k] >= 0, `${k} = ${c[k]}`).toBe(true);
        for (const k of ['seconds', 'usd'] as const) expect(Number.isFinite(c[k]) && c[k] >= 0, `${k} = ${c[k]}`).toBe(true);
      }
    });

    it('judge with an already-aborted signal rejects with the abort, not a CallError, and does no work', async () => {
      const ac = new AbortController();
      ac.abort();
      const before = subject.work?.();
      // called from a promise chain: a synchronous throw (checked below) counts as a rejection here
      expectAbort(await rejection(Promise.resolve().then(() => teacher.judge(pairs[0]!, ac.signal))));
      if (before !== undefined) expect(subject.work!()).toBe(before);
      // the teacher still judges afterwards
      expectDistribution(await teacher.judge(pairs[0]!), 'after the abort');
    });

    known(subject.deviations?.throwsSynchronously)('judge with an already-aborted signal returns a rejected promise (it does not throw)', async () => {
      const ac = new AbortController();
      ac.abort();
      let call: Promise<unknown> | undefined;
      let thrown: unknown;
      try {
        call = teacher.judge(pairs[0]!, ac.signal);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, 'judge() threw synchronously').toBeUndefined();
      expectAbort(await rejection(call!));
    });

    const mid = subject.midCallAbort;
    if ('unsupported' in mid) {
      it.skip(`a judgment aborted mid-call rejects — not supported: ${mid.unsupported}`, () => undefined);
    } else {
      it('a judgment aborted while in flight rejects with the abort, and the teacher judges on', async () => {
        const ac = new AbortController();
        expectAbort(await rejection(mid.inFlight(teacher, pairs[1] ?? pairs[0]!, ac.signal, () => ac.abort())));
        expectDistribution(await teacher.judge(pairs[0]!), 'after the abort');
      });
      known(mid.rightAfterCall)('a judgment aborted right after judge() is called rejects with the abort', async () => {
        const ac = new AbortController();
        const call = teacher.judge(pairs[pairs.length - 1]!, ac.signal);
        ac.abort();
        expectAbort(await rejection(call));
      });
    }

    describe('failures are CallErrors with a kind the labelling job acts on', () => {
      for (const f of subject.failures()) {
        it(`${f.what} → ${f.kind}`, async () => {
          expect(CALL_ERROR_KINDS).toContain(f.kind);
          const e = await rejection(f.provoke());
          expect(e, String(e)).toBeInstanceOf(CallError);
          const err = e as CallError;
          expect(err.name).toBe('CallError');
          expect(CALL_ERROR_KINDS).toContain(err.kind);
          expect(err.kind, err.message).toBe(f.kind);
          expect(err.message.trim()).not.toBe('');
          f.check?.(err);
        });
      }
      it('the implementation names at least one real failure path', () => {
        expect(subject.failures().length).toBeGreaterThan(0);
      });
    });

    describe('cache key', () => {
      it('name, model and promptVersion are non-empty; name is the registry name', () => {
        expect(teacher.name).toBe(subject.name);
        for (const v of [teacher.model, teacher.promptVersion]) {
          expect(typeof v).toBe('string');
          expect(v.trim()).not.toBe('');
        }
      });

      it('a second instance from the same config has the same name, model and promptVersion, and judges alike', async () => {
        const again = await make(() => subject.make());
        expect({ name: again.name, model: again.model, promptVersion: again.promptVersion }).toEqual({
          name: teacher.name,
          model: teacher.model,
          promptVersion: teacher.promptVersion,
        });
        for (const p of pairs) {
          const [a, b] = [await teacher.judge(p), await again.judge(p)];
          b.distribution.forEach((x, k) => expect(x).toBeCloseTo(a.distribution[k]!, 6));
        }
      });

      for (const v of subject.variants()) {
        it(`${v.change}: changes the judgments (so it belongs in the cache key)`, async () => {
          const other = await make(() => v.make());
          const [a, b] = [await teacher.judge(v.probe), await other.judge(v.probe)];
          expectDistribution(b, 'variant');
          expect(
            b.distribution.some((x, k) => Math.abs(x - a.distribution[k]!) > 1e-6),
            `${JSON.stringify(a.distribution)} vs ${JSON.stringify(b.distribution)}`,
          ).toBe(true);
          expect(other.name).toBe(teacher.name);
        });
        known(v.deviation)(`${v.change}: changes promptVersion`, async () => {
          const other = await make(() => v.make());
          expect(other.promptVersion.trim()).not.toBe('');
          expect(other.promptVersion).not.toBe(teacher.promptVersion);
        });
      }
      it('the implementation names at least one prompt-relevant config change', () => {
        expect(subject.variants().length).toBeGreaterThan(0);
      });
    });
  });
}
