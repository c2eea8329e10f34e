/**
 * The random baseline: a seeded, query-dependent shuffle. It is the floor every protocol should be
 * read against — under `rerank`, where most judged items are often relevant, random ordering already
 * scores a high nDCG.
 */
import type { Dataset } from '../store/index.ts';
import type { Ranker, ScoredItem } from './types.ts';

export class RandomRanker implements Ranker {
  readonly name = 'random';
  private catalogue: { ids: string[]; hashes: Uint32Array } | null = null;

  constructor(
    private readonly dataset: Dataset,
    private readonly seed = 'distilrank-random-1',
  ) {}

  retrieve(queryText: string, k: number): ScoredItem[] {
    if (!this.catalogue) {
      const ids = this.dataset.itemIds();
      this.catalogue = { ids, hashes: Uint32Array.from(ids, (id) => fnv1a(id, FNV_OFFSET)) };
    }
    const { ids, hashes } = this.catalogue;
    const hq = this.queryHash(queryText);
    // Keep only scores above a threshold that leaves ~8k expected survivors, then sort those.
    const threshold = Math.max(0, 1 - (8 * k) / Math.max(1, ids.length));
    const pick = (t: number) => {
      const out: ScoredItem[] = [];
      for (let i = 0; i < ids.length; i++) {
        const score = mix(hashes[i]! ^ hq) / 2 ** 32;
        if (score >= t) out.push({ itemId: ids[i]!, score });
      }
      return out;
    };
    let top = pick(threshold);
    if (top.length < Math.min(k, ids.length)) top = pick(0);
    return top.sort((a, b) => b.score - a.score).slice(0, k);
  }

  score(queryText: string, itemIds: readonly string[]): ScoredItem[] {
    const hq = this.queryHash(queryText);
    return itemIds.map((itemId) => ({ itemId, score: mix(fnv1a(itemId, FNV_OFFSET) ^ hq) / 2 ** 32 }));
  }

  private queryHash(queryText: string): number {
    return mix(fnv1a(`${this.seed}\0${queryText}`, FNV_OFFSET));
  }
}

const FNV_OFFSET = 0x811c9dc5;

/** 32-bit FNV-1a, continuing from `h`. */
function fnv1a(s: string, h: number): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** murmur3's fmix32 avalanche, so that similar ids do not get similar scores. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
