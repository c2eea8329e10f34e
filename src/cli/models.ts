/**
 * Model names on the command line: the retrieval registry (bm25, random) plus `student` (the default
 * artifact of the data set) and `student:PATH` (an artifact folder).
 */
import { resolve } from 'node:path';
import { unknownName } from '../errors.ts';
import { calibrateRanker } from '../eval/index.ts';
import { createRanker, RANKERS, type LevelPredictor, type Ranker } from '../retrieve/index.ts';
import type { Store } from '../store/index.ts';
import { defaultStudentDir, StudentRanker } from '../student/index.ts';

export const MODEL_NAMES = [...Object.keys(RANKERS), 'student', 'student-distilled', 'student:PATH'];

export interface LoadedModel {
  ranker: Ranker;
  /** Level predictions for label metrics: the model's own, or its scores calibrated on train. */
  levels: () => Promise<LevelPredictor>;
  close: () => Promise<void>;
}

export function checkModelName(name: string): void {
  if (name === 'student' || name === 'student-distilled' || name.startsWith('student:') || RANKERS[name]) return;
  throw unknownName('model', name, MODEL_NAMES);
}

export async function loadModel(name: string, store: Store, dataset: string, opts: { candidates?: number; judgmentSet?: string } = {}): Promise<LoadedModel> {
  checkModelName(name);
  if (name === 'student' || name === 'student-distilled' || name.startsWith('student:')) {
    const dir =
      name === 'student' || name === 'student-distilled'
        ? defaultStudentDir(store.path, dataset, name === 'student' ? 'human' : 'human+teacher')
        : resolve(name.slice('student:'.length));
    const student = await StudentRanker.load(store, dataset, dir, opts.candidates ? { candidates: opts.candidates } : {});
    return { ranker: student, levels: () => Promise.resolve(student), close: () => student.close() };
  }
  const ranker = createRanker(name, store, dataset);
  return {
    ranker,
    levels: () => calibrateRanker(ranker, store, dataset, 'train', opts.judgmentSet),
    close: () => Promise.resolve(),
  };
}
