/**
 * Calibrating a ranker's scores to the five levels, so rankers that only score (BM25) can be compared
 * with graders (student, teacher) on label metrics. Isotonic regression (pool-adjacent-violators) of
 * the human level on the score, fitted on the training split: each pooled block of scores predicts
 * the distribution of human levels observed in that block. Monotone in the score by construction.
 */
import { DistilrankError } from '../core/index.ts';
import type { LevelPredictor, Ranker } from '../retrieve/index.ts';
import type { Dataset, Split } from '../store/index.ts';

interface Block {
  /** Highest score in the block (blocks are sorted by score). */
  upper: number;
  dist: Float32Array;
}

export class IsotonicLevels {
  private constructor(private readonly blocks: Block[]) {}

  /** Fit on (score, level) pairs, levels 1 … 5. */
  static fit(scores: readonly number[], levels: readonly number[]): IsotonicLevels {
    if (scores.length !== levels.length || scores.length === 0) {
      throw new DistilrankError('BAD_INPUT', `calibration needs pairs of scores and levels, got ${scores.length} and ${levels.length}`, {
        hint: 'the training split must hold judged pairs',
      });
    }
    const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
    // Start with one block per distinct score, then pool adjacent blocks while means decrease.
    type Pool = { upper: number; sum: number; n: number; counts: number[] };
    const stack: Pool[] = [];
    for (const i of order) {
      const s = scores[i]!;
      const l = levels[i]!;
      const last = stack[stack.length - 1];
      if (last && last.upper === s) {
        last.sum += l;
        last.n += 1;
        last.counts[l - 1]! += 1;
      } else {
        const counts = [0, 0, 0, 0, 0];
        counts[l - 1] = 1;
        stack.push({ upper: s, sum: l, n: 1, counts });
      }
      while (stack.length > 1) {
        const b = stack[stack.length - 1]!;
        const a = stack[stack.length - 2]!;
        if (a.sum / a.n <= b.sum / b.n) break;
        stack.pop();
        a.upper = b.upper;
        a.sum += b.sum;
        a.n += b.n;
        for (let k = 0; k < 5; k++) a.counts[k]! += b.counts[k]!;
      }
    }
    return new IsotonicLevels(stack.map((p) => ({ upper: p.upper, dist: Float32Array.from(p.counts, (c) => c / p.n) })));
  }

  /** The level distribution for a score: that of the first block whose upper bound reaches it. */
  predict(score: number): Float32Array {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.blocks[mid]!.upper >= score) hi = mid;
      else lo = mid + 1;
    }
    return this.blocks[lo]!.dist;
  }

  get blockCount(): number {
    return this.blocks.length;
  }
}

/**
 * Wrap a ranker as a LevelPredictor calibrated on one split's judgments (the training split: never
 * the split it is evaluated on).
 */
export async function calibrateRanker(ranker: Ranker, dataset: Dataset, split: Split, judgmentSet?: string): Promise<LevelPredictor> {
  const byQuery = new Map<string, Array<{ itemId: string; level: number }>>();
  for (const j of dataset.storedJudgments({ split, ...(judgmentSet ? { judgmentSet } : {}) })) {
    const list = byQuery.get(j.queryId) ?? [];
    list.push({ itemId: j.itemId, level: j.level });
    byQuery.set(j.queryId, list);
  }
  const scores: number[] = [];
  const levels: number[] = [];
  for (const q of dataset.storedQueries(split)) {
    const judged = byQuery.get(q.id);
    if (!judged) continue;
    const scored = new Map(
      (
        await ranker.score(
          q.text,
          judged.map((j) => j.itemId),
        )
      ).map((s) => [s.itemId, s.score]),
    );
    for (const j of judged) {
      scores.push(scored.get(j.itemId) ?? 0);
      levels.push(j.level);
    }
  }
  const iso = IsotonicLevels.fit(scores, levels);
  return {
    name: `${ranker.name}+isotonic(${split})`,
    async predictLevels(queryText, itemIds) {
      const scored = new Map((await ranker.score(queryText, itemIds)).map((s) => [s.itemId, s.score]));
      const out = new Float32Array(itemIds.length * 5);
      itemIds.forEach((id, i) => out.set(iso.predict(scored.get(id) ?? 0), i * 5));
      return out;
    },
  };
}
