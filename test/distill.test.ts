/**
 * Distillation: the student trains on human labels plus a teacher's soft labels for pool pairs.
 * A deterministic in-test teacher (word overlap, like the synthetic raters) fills the label cache
 * through the real labelling job; the student then trains on both, and the model card says so.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilrankError } from '../src/core/errors.ts';
import { LabelCache, buildPool, runLabelJob, type TeacherLabel } from '../src/label/index.ts';
import type { LevelDistribution } from '../src/core/index.ts';
import type { Store } from '../src/store/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import { StudentRanker, trainStudent, writeStudentArtifact } from '../src/student/index.ts';
import type { Teacher, TeacherJudgment, TeacherPair } from '../src/teacher/index.ts';
import { SYNTH_SCALE, ingestedStore, useTempDir } from './helpers.ts';

const COLOURS = ['crimson', 'azure', 'olive', 'amber', 'violet', 'ivory', 'teal', 'maroon'];
const PRODUCTS = ['kettle', 'teapot', 'blender', 'toaster', 'lantern', 'backpack', 'umbrella', 'notebook', 'hammock', 'pillow', 'skillet', 'thermos'];

/** Level by word overlap: both words 5, the product 3, the colour 2, nothing 1. */
function overlapLevel(query: string, title: string): number {
  const [c, p] = query.split(' ');
  const words = new Set(title.toLowerCase().split(/\W+/));
  const hasC = words.has(c!);
  const hasP = words.has(p!);
  return hasC && hasP ? 5 : hasP ? 3 : hasC ? 2 : 1;
}

function bundle(): DatasetBundle {
  const items = [];
  for (const c of COLOURS) for (const p of PRODUCTS) items.push({ id: `${c}-${p}`, title: `${c} ${p}`, description: `a ${p} for every day` });
  const queries = [];
  const judgments = [];
  let k = 0;
  for (const [ci, c] of COLOURS.entries()) {
    for (const [pi, p] of PRODUCTS.entries()) {
      if ((ci + pi) % 2) continue; // half of the combinations are queries
      const id = `q${String(k++).padStart(3, '0')}`;
      queries.push({ id, text: `${c} ${p}` });
      // humans judged only four items per query: the teacher covers the rest of the pool
      for (const iid of [
        `${c}-${p}`,
        `${COLOURS[(ci + 1) % COLOURS.length]}-${p}`,
        `${c}-${PRODUCTS[(pi + 1) % PRODUCTS.length]}`,
        `${COLOURS[(ci + 3) % COLOURS.length]}-${PRODUCTS[(pi + 5) % PRODUCTS.length]}`,
      ]) {
        judgments.push({ queryId: id, itemId: iid, grade: overlapLevel(`${c} ${p}`, iid.replace('-', ' ')) });
      }
    }
  }
  return {
    name: 'distill',
    description: 'distillation fixture',
    source: '/synthetic',
    mapping: SYNTH_SCALE,
    defaultJudgmentSet: 'default',
    items,
    queries,
    judgments,
  };
}

class OverlapTeacher implements Teacher {
  readonly name = 'overlap';
  readonly model = 'overlap-v1';
  readonly promptVersion = 'p1';
  calls = 0;
  judge(pair: TeacherPair): Promise<TeacherJudgment> {
    this.calls++;
    const title = /^title: (.*)$/m.exec(pair.itemText)?.[1] ?? pair.itemText;
    const level = overlapLevel(pair.queryText, title);
    const distribution: LevelDistribution = [0.025, 0.025, 0.025, 0.025, 0.025];
    distribution[level - 1] = 0.9;
    return Promise.resolve({ distribution, cost: { calls: 1, inputTokens: 0, outputTokens: 0, seconds: 0, usd: 0 }, method: 'rule' });
  }
}

describe('distillation: human + teacher labels', () => {
  const tmp = useTempDir('distilrank-distill-');
  let store: Store;
  let cache: LabelCache;
  let labels: TeacherLabel[];
  const teacher = new OverlapTeacher();

  beforeAll(async () => {
    store = ingestedStore(join(tmp.path, 'store.sqlite'), bundle(), { splitFractions: { train: 0.6, dev: 0.2, test: 0.2 } });
    cache = LabelCache.open(join(tmp.path, 'labels.sqlite'), { create: true });
    const pairs = buildPool(store.dataset('distill'), { k: 12, queries: 'train' });
    const summary = await runLabelJob({ cache, teacher, pairs, dataset: 'distill', concurrency: 4 });
    expect(summary.stoppedBy).toBe('done');
    const texts = new Map(store.queries('distill').map((q) => [q.id, q.text]));
    labels = cache
      .labelsFor('distill', teacher.name, teacher.model, teacher.promptVersion)
      .map((r) => ({ queryId: r.queryId, queryText: r.queryText ?? texts.get(r.queryId)!, itemId: r.itemId, distribution: r.distribution }));
  });
  afterAll(() => {
    cache.close();
    store.close();
  });

  it('labels only training queries, and the student records the teacher in its card', async () => {
    const trainQueries = new Set(store.queries('distill', 'train').map((q) => q.id));
    expect(labels.length).toBeGreaterThan(0);
    for (const l of labels) expect(trainQueries.has(l.queryId)).toBe(true);

    const trained = await trainStudent({
      dataset: store.dataset('distill'),
      labels: 'human+teacher',
      teacher: { labels, weight: 0.5, name: teacher.name, model: teacher.model, promptVersion: teacher.promptVersion },
    });
    const human = new Set(store.judgments('distill', { split: 'train' }).map((j) => `${j.queryId}\0${j.itemId}`));
    const expectedTeacherRows = labels.filter((l) => !human.has(`${l.queryId}\0${l.itemId}`)).length;
    expect(trained.card.labels).toBe('human+teacher');
    expect(trained.card.teacher).toEqual({ name: 'overlap', model: 'overlap-v1', promptVersion: 'p1', weight: 0.5, pairs: expectedTeacherRows });
    expect(trained.card.negatives.perQuery).toBe(0);
    expect(trained.card.negatives.train).toBe(0);
    expect(trained.card.split.train.pairs).toBe(human.size);
    expect(trained.card.onnxParityMaxAbsDiff).toBeLessThan(1e-5);

    // The distilled student ranks the exact item first for test queries over the whole catalogue.
    const dir = join(tmp.path, 'student-distilled');
    writeStudentArtifact(dir, trained.onnx, trained.card);
    const ranker = await StudentRanker.load(store.dataset('distill'), dir);
    let first = 0;
    const tests = store.queries('distill', 'test');
    for (const q of tests) {
      const [top] = await ranker.retrieve(q.text, 5);
      if (top?.itemId === q.text.replace(' ', '-')) first++;
    }
    await ranker.close();
    expect(first / tests.length).toBeGreaterThanOrEqual(0.8);
  });

  it('a second labelling run pays for nothing', async () => {
    const before = teacher.calls;
    const summary = await runLabelJob({ cache, teacher, pairs: buildPool(store.dataset('distill'), { k: 12, queries: 'train' }), dataset: 'distill' });
    expect(summary.labelled).toBe(0);
    expect(teacher.calls).toBe(before);
  });

  it('human+teacher without teacher labels is refused before any training', async () => {
    const e = await trainStudent({ dataset: store.dataset('distill'), labels: 'human+teacher' }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(DistilrankError);
    expect((e as DistilrankError).code).toBe('BAD_OPTION');
    expect((e as DistilrankError).details.hint).toMatch(/distilrank label/);
  });
});
