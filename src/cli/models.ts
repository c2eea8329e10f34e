/**
 * Model names on the command line: the retrieval registry (bm25, vector, hybrid, random) plus
 * `student` (the default artifact of the data set) and `student:PATH` (an artifact folder). A student
 * name may end in `@RETRIEVER` (`student@hybrid`): the student then re-ranks that retriever's
 * candidates instead of BM25's.
 */
import { resolve } from 'node:path';
import { unknownName } from '../errors.ts';
import { calibrateRanker } from '../eval/index.ts';
import { createRanker, RANKERS, type LevelPredictor, type Ranker, type RankerOptions } from '../retrieve/index.ts';
import type { Store } from '../store/index.ts';
import { defaultStudentDir, StudentRanker } from '../student/index.ts';

export const MODEL_NAMES = [...Object.keys(RANKERS), 'student', 'student-distilled', 'student:PATH', 'student@RETRIEVER'];

export interface LoadedModel {
  ranker: Ranker;
  /** Level predictions for label metrics: the model's own, or its scores calibrated on train. */
  levels: () => Promise<LevelPredictor>;
  close: () => Promise<void>;
}

/** A student name's base and its candidate retriever (`student@hybrid` → student, hybrid). */
export function splitRetriever(name: string): { base: string; retriever: string | undefined } {
  const at = name.lastIndexOf('@');
  if (name.startsWith('student') && at > 0) {
    const retriever = name.slice(at + 1);
    if (!RANKERS[retriever]) throw unknownName('retriever', retriever, Object.keys(RANKERS));
    return { base: name.slice(0, at), retriever };
  }
  return { base: name, retriever: undefined };
}

export function checkModelName(name: string): void {
  const { base } = splitRetriever(name);
  if (base === 'student' || base === 'student-distilled' || base.startsWith('student:') || (RANKERS[base] && base === name)) return;
  throw unknownName('model', name, MODEL_NAMES);
}

export async function loadModel(
  name: string,
  store: Store,
  dataset: string,
  opts: { candidates?: number; judgmentSet?: string; rankerOptions?: RankerOptions } = {},
): Promise<LoadedModel> {
  const rankerOptions = opts.rankerOptions ?? {};
  checkModelName(name);
  const { base, retriever } = splitRetriever(name);
  if (base !== name) name = base;
  if (name === 'student' || name === 'student-distilled' || name.startsWith('student:')) {
    const dir =
      name === 'student' || name === 'student-distilled'
        ? defaultStudentDir(store.path, dataset, name === 'student' ? 'human' : 'human+teacher')
        : resolve(name.slice('student:'.length));
    const student = await StudentRanker.load(store, dataset, dir, {
      ...(opts.candidates ? { candidates: opts.candidates } : {}),
      ...(retriever ? { retriever: createRanker(retriever, store, dataset, rankerOptions) } : {}),
    });
    return { ranker: student, levels: () => Promise.resolve(student), close: () => student.close() };
  }
  const ranker = createRanker(name, store, dataset, rankerOptions);
  return {
    ranker,
    levels: () => calibrateRanker(ranker, store, dataset, 'train', opts.judgmentSet),
    close: () => Promise.resolve(),
  };
}
