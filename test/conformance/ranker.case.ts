/**
 * The Ranker conformance suite: what every ranking model of the registry (src/models) must do, run
 * once per model on one small synthetic data set (./ranker.test.ts builds it).
 *
 * - Deterministic: the same query twice gives the same items, order and scores (retrieve and score),
 *   and so does a second instance loaded through the registry.
 * - Well-formed: best first (scores never increase), finite scores, each item once, only catalogue ids.
 * - Ties: equal scores are ordered by item id, descending — trec_eval's order, which the metrics
 *   (sortRanking), the hybrid fusion and the student already use — and the fixture does produce ties
 *   for the models whose scores can tie.
 * - `retrieve(q, k)`: at most k items for k = 0, 1, 2, 5, the catalogue size ± 1 and far beyond; k = 1
 *   gives a best item; a shorter list is a prefix (by score) of a longer one; a model that ranks the
 *   whole catalogue returns all of it when k is larger than the catalogue.
 * - `score(q, ids)`: every candidate exactly once, finite scores; none for no candidates.
 * - Empty, blank, all-stopword and punctuation-only queries: no throw, a well-formed list — empty for
 *   models that find candidates by their words, a ranking for the others (what each model really
 *   does, declared per model).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ranker, ScoredItem } from '../../src/retrieve/index.ts';
import { known, type Deviations } from './known.ts';

export type RankerDeviation = 'tieOrder';

export interface LoadedRanker {
  ranker: Ranker;
  close(): Promise<void>;
}

export interface RankerSubject {
  /** The registry name. */
  name: string;
  /** A new instance of the model, through the registry. Called twice (determinism across instances). */
  load(): Promise<LoadedRanker>;
  /**
   * What retrieve gives for a query with no content words: 'nothing' (a model that finds candidates
   * by the query's words) or 'ranking' (min(k, catalogue) items).
   */
  emptyQuery(ranker: Ranker): 'nothing' | 'ranking';
  /** Whether `retrieve` with k ≥ the catalogue size returns the whole catalogue (vs. only matching items). */
  ranksWholeCatalogue(ranker: Ranker): boolean;
  /** Whether the fixture's queries produce tied scores for this model (random: its scores hash the id). */
  ties: boolean;
  /**
   * Approximate nearest-neighbour search (HNSW): a search may miss a few items, and which ones changes
   * with each index build, so "the whole catalogue" means all but at most APPROXIMATE_MISS of it, and a
   * shorter list need not be a prefix of a longer one.
   */
  approximate?: boolean;
  deviations?: Deviations<RankerDeviation>;
}

/** The share of the catalogue an approximate search may miss when asked for all of it. */
export const APPROXIMATE_MISS = 0.05;

export interface RankerFixture {
  /** Every item id of the data set. */
  catalogue: readonly string[];
  /** Queries with content words, some of which tie several items for the lexical models. */
  queries: readonly string[];
}

/** Queries with no content word. */
export const EMPTYISH_QUERIES: readonly string[] = ['', '   ', '\t\n', 'the of and', '!!! ?? ...', '—'];

/** trec_eval's order: score descending, ties by item id descending (strcmp). */
export function trecOrder(a: ScoredItem, b: ScoredItem): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.itemId < b.itemId ? 1 : a.itemId > b.itemId ? -1 : 0;
}

/** Checks every list a ranker returns must pass; `k`: the most items allowed. */
function expectWellFormed(list: readonly ScoredItem[], catalogue: ReadonlySet<string>, k: number): void {
  expect(Array.isArray(list)).toBe(true);
  expect(list.length).toBeLessThanOrEqual(k);
  expect(new Set(list.map((x) => x.itemId)).size).toBe(list.length);
  for (const x of list) {
    expect(catalogue.has(x.itemId), `${x.itemId} is not in the catalogue`).toBe(true);
    expect(Number.isFinite(x.score), `score of ${x.itemId}: ${x.score}`).toBe(true);
  }
  for (let i = 1; i < list.length; i++) {
    expect(list[i]!.score, `rank ${i + 1} (${list[i]!.itemId}) scores above rank ${i} (${list[i - 1]!.itemId})`).toBeLessThanOrEqual(list[i - 1]!.score);
  }
}

function expectEveryCandidateOnce(scored: readonly ScoredItem[], candidates: readonly string[]): void {
  expect(scored.map((x) => x.itemId).sort()).toEqual([...candidates].sort());
  for (const x of scored) expect(Number.isFinite(x.score), `score of ${x.itemId}: ${x.score}`).toBe(true);
}

/** A deterministic sample of `n` ids (every `step`-th, rotated), so candidates are not in id order. */
function sample(ids: readonly string[], n: number, offset = 7): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < Math.min(n, ids.length); i++) {
    const id = ids[(offset + i * 37) % ids.length]!;
    if (!out.includes(id)) out.push(id);
  }
  return out;
}

/** Register the conformance suite for one ranker. `fixture` is read once the test file's setup has run. */
export function rankerConformance(subject: RankerSubject, fixture: () => RankerFixture): void {
  describe(`Ranker conformance: ${subject.name}`, () => {
    let loaded: LoadedRanker;
    let r: Ranker;
    let catalogue: Set<string>;
    let ids: readonly string[];
    let queries: readonly string[];
    const all = (q: string): Promise<ScoredItem[]> => Promise.resolve(r.retrieve(q, ids.length));

    beforeAll(async () => {
      loaded = await subject.load();
      r = loaded.ranker;
      ids = fixture().catalogue;
      catalogue = new Set(ids);
      queries = fixture().queries;
    });
    afterAll(async () => loaded?.close());

    it('the same query twice gives the same items, order and scores (retrieve and score)', async () => {
      const candidates = sample(ids, 30);
      let found = 0;
      for (const q of queries) {
        const a = await r.retrieve(q, 20);
        const b = await r.retrieve(q, 20);
        expect(b).toEqual(a);
        found += a.length;
        expect(await r.score(q, candidates)).toEqual(await r.score(q, candidates));
      }
      expect(found).toBeGreaterThan(0); // the model finds something for the fixture's queries
    });

    it('a second instance from the registry gives the same answers', async () => {
      const other = await subject.load();
      try {
        const candidates = sample(ids, 30, 3);
        for (const q of queries) {
          expect(await other.ranker.retrieve(q, 20)).toEqual(await r.retrieve(q, 20));
          expect(await other.ranker.score(q, candidates)).toEqual(await r.score(q, candidates));
        }
      } finally {
        await other.close();
      }
    });

    it('retrieve lists are best first, with finite scores, each item once, only catalogue items', async () => {
      for (const q of queries) expectWellFormed(await all(q), catalogue, ids.length);
    });

    if (subject.ties) {
      known(subject.deviations?.tieOrder)('equal scores are ordered by item id, descending (trec_eval order)', async () => {
        let tied = 0;
        for (const q of queries) {
          const list = await all(q);
          for (let i = 1; i < list.length; i++) {
            const [a, b] = [list[i - 1]!, list[i]!];
            if (a.score !== b.score) continue;
            tied += 1;
            expect(a.itemId > b.itemId, `"${q}": ${a.itemId} and ${b.itemId} tie at ${a.score} but are not in descending id order`).toBe(true);
          }
        }
        expect(tied).toBeGreaterThan(0); // the fixture really has ties for this model
      });
    } else {
      it('scores do not tie on the fixture, so the order is fixed by score alone', async () => {
        for (const q of queries) {
          const list = await all(q);
          expect(list.length).toBeGreaterThan(1);
          expect(new Set(list.map((x) => x.score)).size).toBe(list.length);
          expect([...list].sort(trecOrder)).toEqual(list);
        }
      });
    }

    it('retrieve(q, k) returns at most k items; k = 1 gives a best item; a shorter list is a prefix of a longer one', async () => {
      const n = ids.length;
      for (const q of queries) {
        const deep = await all(q);
        for (const k of [0, 1, 2, 5, n - 1, n]) {
          const top = await r.retrieve(q, k);
          expectWellFormed(top, catalogue, k);
          if (subject.approximate) {
            expect(top.length).toBeLessThanOrEqual(k);
            expect(top.length).toBeGreaterThanOrEqual(Math.min(k, deep.length) - Math.ceil(APPROXIMATE_MISS * n));
            continue;
          }
          expect(top.length).toBe(Math.min(k, deep.length));
          // ties at the cut may keep different items, but never different scores
          expect(top.map((x) => x.score)).toEqual(deep.slice(0, k).map((x) => x.score));
        }
        if (deep.length > 0 && !subject.approximate) expect((await r.retrieve(q, 1))[0]!.score).toBe(Math.max(...deep.map((x) => x.score)));
      }
    });

    it('k larger than the catalogue: each item at most once, the whole catalogue for a model that ranks all of it', async () => {
      for (const q of queries) {
        for (const k of [ids.length + 1, ids.length + 50, 10_000]) {
          const list = await r.retrieve(q, k);
          expectWellFormed(list, catalogue, ids.length);
          const whole = subject.ranksWholeCatalogue(r) ? ids.length : (await all(q)).length;
          expectLength(list.length, whole, subject.approximate ? Math.ceil(APPROXIMATE_MISS * ids.length) : 0);
        }
      }
    });

    it('score(q, ids) returns every candidate exactly once, with a finite score', async () => {
      for (const q of queries) {
        for (const candidates of [sample(ids, 1), sample(ids, 25), [...ids].reverse()]) {
          expectEveryCandidateOnce(await r.score(q, candidates), candidates);
        }
        expect(await r.score(q, [])).toEqual([]);
      }
    });

    it('empty, blank, all-stopword and punctuation-only queries do not throw and give a well-formed list', async () => {
      const expected = subject.emptyQuery(r);
      const candidates = sample(ids, 12);
      for (const q of EMPTYISH_QUERIES) {
        for (const k of [1, 10, ids.length + 5]) {
          const list = await r.retrieve(q, k);
          expectWellFormed(list, catalogue, k);
          const want = expected === 'nothing' ? 0 : Math.min(k, ids.length);
          expectLength(list.length, want, subject.approximate ? Math.ceil(APPROXIMATE_MISS * ids.length) : 0, `"${q}", k = ${k}`);
        }
        expectEveryCandidateOnce(await r.score(q, candidates), candidates);
      }
    });
  });
}

/** `length` is `want`, or (for an approximate search) at most `slack` short of it. */
function expectLength(length: number, want: number, slack: number, what?: string): void {
  expect(length, what).toBeLessThanOrEqual(want);
  expect(length, what).toBeGreaterThanOrEqual(want - slack);
}
