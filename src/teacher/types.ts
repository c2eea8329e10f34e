/**
 * The teacher contract. A teacher judges (query, item) pairs and returns a probability distribution
 * over the five levels plus what the call cost. Teachers judge one pair per call; the labelling job
 * (src/label) owns concurrency, retries, budgets, caching and resumption, so a teacher reports
 * failures as CallError (src/jobs) with a kind the job can act on.
 */
import type { LevelDistribution } from '../core/index.ts';
import type { CallCost } from '../jobs/index.ts';

export interface TeacherPair {
  queryId: string;
  queryText: string;
  itemId: string;
  /** The item's text representation (untrusted: it goes into a prompt delimited as data). */
  itemText: string;
}

export interface TeacherJudgment {
  distribution: LevelDistribution;
  cost: CallCost;
  /** How the distribution was read: 'logprobs', 'samples' (k structured samples), 'logits' … */
  method: string;
}

export interface Teacher {
  /** Registry name, e.g. "llm". */
  readonly name: string;
  /** The model behind it (endpoint model name, GGUF file name, folder name). */
  readonly model: string;
  /** Changes whenever the prompt or the way the distribution is read changes: part of the label cache key. */
  readonly promptVersion: string;
  judge(pair: TeacherPair, signal?: AbortSignal): Promise<TeacherJudgment>;
  close?(): Promise<void>;
}
