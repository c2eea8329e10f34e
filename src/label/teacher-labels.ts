/**
 * Teacher labels read back for training: the bridge from the label cache to the student and the
 * embeddings. Labels are found by label set (teacher, model, prompt version, representation) as the
 * cache recorded them, so reading them never constructs a teacher.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { DistilrankError } from '../core/index.ts';
import type { Dataset } from '../store/index.ts';
import { LabelCache, type LabelSet } from './cache.ts';

/** One teacher label as training reads it. */
export interface TeacherLabel {
  queryId: string;
  queryText: string;
  itemId: string;
  distribution: readonly number[];
}

/** Teacher labels for training, with the provenance a model card records. */
export interface TrainingLabels {
  labels: TeacherLabel[];
  weight: number;
  name: string;
  model: string;
  promptVersion: string;
  labelSet: string;
}

/** A fixed pseudo-random order of (query, item) pairs (stable across runs and machines): how samples of teacher labels are drawn. */
export function seededPairOrder<T extends { queryId: string; itemId: string }>(labels: readonly T[]): T[] {
  return labels
    .map((l) => ({ l, h: createHash('sha1').update(`distilrank-teacher-sample\0${l.queryId}\0${l.itemId}`).digest('hex') }))
    .sort((a, b) => (a.h < b.h ? -1 : 1))
    .map((x) => x.l);
}

/** A label set's labels of a data set's queries (query text from the cache, else from the store). */
export function labelsOfSet(cache: LabelCache, dataset: Dataset, set: LabelSet): TeacherLabel[] {
  const texts = new Map(dataset.storedQueries().map((q) => [q.id, q.text] as const));
  return cache
    .labelsFor(set.dataset, set.teacher, set.model, set.promptVersion)
    .map((r) => ({ queryId: r.queryId, queryText: r.queryText ?? texts.get(r.queryId) ?? '', itemId: r.itemId, distribution: r.distribution }))
    .filter((r) => r.queryText !== '');
}

export interface ReadTeacherLabelsOptions {
  dataset: Dataset;
  /** Teacher name: its most recently written label set is read. */
  teacher: string;
  /** A label set id (see `distilrank label`'s summary and LabelCache.labelSets) instead of the newest one. */
  labelSet?: string;
  weight: number;
  /** At most this many labels, a seeded sample. */
  limit?: number;
  /** The label cache file (default: labels.sqlite beside the store). */
  cachePath?: string;
}

/** Read a teacher's labels of a data set for training; BAD_INPUT (with the fix) when the cache has none. */
export function readTeacherLabels(o: ReadTeacherLabelsOptions): TrainingLabels {
  const path = resolve(o.cachePath ?? LabelCache.defaultPath(o.dataset.store.path));
  const cache = LabelCache.open(path, { create: true });
  try {
    const sets = cache.labelSets(o.dataset.name);
    const set = o.labelSet === undefined ? sets.find((s) => s.teacher === o.teacher) : sets.find((s) => s.id === o.labelSet);
    if (o.labelSet !== undefined && (!set || set.teacher !== o.teacher)) {
      const have = sets.filter((s) => s.teacher === o.teacher).map((s) => s.id);
      throw new DistilrankError('BAD_INPUT', `the label cache has no label set "${o.labelSet}" of teacher ${o.teacher} for ${o.dataset}`, {
        file: path,
        field: 'label-set',
        hint: have.length ? `use one of: ${have.join(', ')}` : `label the pool first: distilrank label --dataset ${o.dataset} --teacher ${o.teacher}`,
      });
    }
    let labels = set ? labelsOfSet(cache, o.dataset, set) : [];
    if (!set || !labels.length) {
      throw new DistilrankError('BAD_INPUT', `the label cache has no labels of teacher ${o.teacher} for ${o.dataset}`, {
        file: path,
        hint: `label the pool first: distilrank label --dataset ${o.dataset} --teacher ${o.teacher}`,
      });
    }
    if (o.limit !== undefined && labels.length > o.limit) labels = seededPairOrder(labels).slice(0, o.limit);
    return { labels, weight: o.weight, name: set.teacher, model: set.model, promptVersion: set.promptVersion, labelSet: set.id };
  } finally {
    cache.close();
  }
}
