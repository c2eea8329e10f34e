/**
 * Teacher labels on demand (POST /v1/judge): each pair is looked up in the label cache first (free),
 * and only a miss is paid for: one teacher call, stored in the cache at once, so the same pair is
 * never paid twice. A per-process budget (calls, tokens, USD) refuses further paid calls once spent.
 */
import { createHash } from 'node:crypto';
import { LabelCache, itemText, labelKey } from '../label/index.ts';
import type { LevelDistribution } from '../core/index.ts';
import type { Dataset } from '../store/index.ts';
import { createTeacher, type Teacher } from '../teacher/index.ts';
import { addCost, ZERO_COST, type CallCost } from '../jobs/index.ts';
import { ApiError } from './errors.ts';

export interface JudgeBudget {
  /** Paid teacher calls this process may make (Infinity: no limit). */
  calls: number;
  /** Input + output tokens. */
  tokens: number;
  usd: number;
}

export const DEFAULT_JUDGE_BUDGET: Readonly<JudgeBudget> = Object.freeze({ calls: 1000, tokens: 2_000_000, usd: 5 });

export interface JudgeOptions {
  /** Teacher registry name (default llm). */
  teacher: string;
  /** Where the teacher reads DISTILRANK_LLM_* (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Label cache file (default: labels.sqlite beside the store). */
  cachePath?: string;
  budget: JudgeBudget;
}

export interface JudgePairInput {
  query: string;
  /** A catalogue item (its teacher text is built from the store)… */
  itemId?: string;
  /** … or a free text. */
  text?: string;
}

export interface JudgedPair {
  query: string;
  itemId?: string;
  levels: number[];
  expectedLevel: number;
  cached: boolean;
  method: string;
}

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 16);

export class JudgeService {
  private teacher: Teacher | null = null;
  private cache: LabelCache | null = null;
  private spent: CallCost = { ...ZERO_COST };

  constructor(private readonly options: JudgeOptions) {}

  get spending(): CallCost {
    return { ...this.spent };
  }

  private open(dataset: Dataset): { teacher: Teacher; cache: LabelCache } {
    try {
      this.teacher ??= createTeacher(this.options.teacher, { ...(this.options.env ? { env: this.options.env } : {}), dataset });
    } catch (e) {
      throw new ApiError('TEACHER_UNAVAILABLE', `the ${this.options.teacher} teacher is not available: ${(e as Error).message}`);
    }
    this.cache ??= LabelCache.open(this.options.cachePath ?? LabelCache.defaultPath(dataset.store.path), { create: true });
    return { teacher: this.teacher, cache: this.cache };
  }

  private exhausted(): string | null {
    const b = this.options.budget;
    if (this.spent.calls >= b.calls) return `${this.spent.calls} of ${b.calls} calls`;
    if (this.spent.inputTokens + this.spent.outputTokens >= b.tokens) return `${this.spent.inputTokens + this.spent.outputTokens} of ${b.tokens} tokens`;
    if (this.spent.usd >= b.usd) return `$${this.spent.usd.toFixed(4)} of $${b.usd}`;
    return null;
  }

  async judge(
    dataset: Dataset,
    pairs: readonly JudgePairInput[],
  ): Promise<{ teacher: { name: string; model: string; promptVersion: string }; results: JudgedPair[] }> {
    const { teacher, cache } = this.open(dataset);
    const ids = pairs.flatMap((p) => (p.itemId !== undefined ? [p.itemId] : []));
    const items = new Map(dataset.storedItems(ids).map((it) => [it.id, it]));
    const results: JudgedPair[] = [];
    for (const [n, p] of pairs.entries()) {
      let text: string;
      if (p.itemId !== undefined) {
        const item = items.get(p.itemId);
        if (!item) throw new ApiError('UNKNOWN_REFERENCE', `unknown item "${p.itemId}" in ${dataset}`, `pairs.${n}.itemId`);
        text = itemText(item);
      } else if (p.text !== undefined) {
        text = p.text;
      } else {
        throw new ApiError('BAD_REQUEST', 'a pair needs itemId or text', `pairs.${n}`);
      }
      const key = labelKey(teacher, p.query, text);
      const hit = cache.get(key);
      let distribution: LevelDistribution;
      let method: string;
      let cached = true;
      if (hit) {
        ({ distribution, method } = hit);
      } else {
        const over = this.exhausted();
        if (over) {
          throw new ApiError(
            'BUDGET_EXHAUSTED',
            `the judge budget of this process is spent (${over}); ${results.filter((r) => !r.cached).length} new labels of this request were paid for and cached before it ran out`,
          );
        }
        let judgment;
        try {
          judgment = await teacher.judge({ queryId: `serve:${sha(p.query)}`, queryText: p.query, itemId: p.itemId ?? `text:${sha(text)}`, itemText: text });
        } catch (e) {
          throw new ApiError('TEACHER_UNAVAILABLE', `the teacher failed: ${(e as Error).message}`);
        }
        this.spent = addCost(this.spent, judgment.cost);
        // Stored by key only, with no data-set reference: what becomes training data is decided by
        // the label job's pool (train and logged queries, never dev/test), which then finds the
        // label already paid for. A judged test query must not leak into distillation.
        cache.put(key, judgment);
        ({ distribution, method } = judgment);
        cached = false;
      }
      const levels = Array.from(distribution);
      results.push({
        query: p.query,
        ...(p.itemId !== undefined ? { itemId: p.itemId } : {}),
        levels,
        expectedLevel: levels.reduce((s, x, j) => s + x * (j + 1), 0),
        cached,
        method,
      });
    }
    return { teacher: { name: teacher.name, model: teacher.model, promptVersion: teacher.promptVersion }, results };
  }

  async close(): Promise<void> {
    this.cache?.close();
    this.cache = null;
    await this.teacher?.close?.();
    this.teacher = null;
  }
}
