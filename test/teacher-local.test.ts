/**
 * The local teacher (src/teacher/local.ts, local-features.ts): not an LLM, an ensemble of MLPs over
 * the student's features plus expensive ones, trained on human labels. On a synthetic word-overlap
 * catalogue: it trains, writes its artifact atomically, loads (directly and through the registry),
 * judges pairs with distributions better than chance; the expensive features do what they say
 * (typo tolerance, 3-gram cosine, leave-one-out association); damaged or foreign artifacts are
 * refused; retraining with another seed changes the label cache key.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DistilrankError } from '../src/core/errors.ts';
import { FEATURES } from '../src/features/index.ts';
import { Store, type StoredItem, type StoredJudgment, type StoredQuery } from '../src/store/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import {
  LOCAL_FEATURES,
  LOCAL_FEATURE_SET_ID,
  LOCAL_TEACHER_FORMAT_VERSION,
  LocalFeatureExtractor,
  LocalTeacher,
  TEACHERS,
  createTeacher,
  defaultLocalTeacherDir,
  trainLocalTeacher,
  withinOneEdit,
  type AssocHoldout,
  type TeacherPair,
  type TrainedLocalTeacher,
} from '../src/teacher/index.ts';
import { CallError } from '../src/jobs/index.ts';
import { caught, ingestedStore, useTempDir } from './helpers.ts';
import { itemExtras, itemId, wordOverlapBundle } from './synth-catalogue.ts';

// ---------------------------------------------------------------------------------------------
// The synthetic catalogue of test/student.test.ts (wordOverlapBundle, test/synth-catalogue.ts), without
// brands: 10 colours × 20 products, titles "colour product"; per query the exact item L5, three of the
// product in another colour L3, three of the colour L2, three sharing no word L1.

const synthBundle = (name: string, seed = 1): DatasetBundle => wordOverlapBundle(name, { seed, item: itemExtras(false), description: `synthetic ${name}` });

// ---------------------------------------------------------------------------------------------

const DS = 'synth-a';
const tmp = useTempDir('distilrank-teacher-local-');
let store: Store;
let trained: TrainedLocalTeacher;
let teacher: LocalTeacher;

beforeAll(async () => {
  store = ingestedStore(join(tmp.path, 'store.sqlite'), [synthBundle(DS), synthBundle('synth-b', 2)]);
  trained = await trainLocalTeacher({ dataset: store.dataset(DS) });
  teacher = LocalTeacher.load(store.dataset(DS));
}, 120_000);

afterAll(() => {
  store?.close();
});

const col = (name: string): number => FEATURES.length + LOCAL_FEATURES.findIndex((f) => f.name === name);

function item(id: string, title: string, description?: string): StoredItem {
  return { id, title, description: description ?? null, fields: {}, attributes: {}, imageUrl: null, language: null };
}

function judgment(queryId: string, itemId: string, level: 1 | 2 | 3 | 4 | 5): StoredJudgment {
  return { queryId, itemId, judgmentSet: 'default', nativeGrade: level, level, gain: level - 1, soft: null, raters: null };
}

const query = (id: string, text: string): StoredQuery => ({ id, text, language: null, split: 'train' });

// ---------------------------------------------------------------------------------------------

describe('trainLocalTeacher → artifact → LocalTeacher', () => {
  it('writes the artifact at <storeDir>/models/<dataset>/teacher-local, atomically', () => {
    const dir = defaultLocalTeacherDir(store.path, DS);
    expect(dir).toBe(join(tmp.path, 'models', DS, 'teacher-local'));
    expect(trained.dir).toBe(dir);
    expect(readdirSync(dir)).toEqual(['teacher.json']);
    expect(trained.card.trainJudgments.assocHoldout).toBe('query');
    expect(readdirSync(join(tmp.path, 'models', DS)).filter((f) => f.startsWith('.'))).toEqual([]);
    const card = JSON.parse(readFileSync(join(dir, 'teacher.json'), 'utf8')) as Record<string, unknown>;
    expect(card.formatVersion).toBe(LOCAL_TEACHER_FORMAT_VERSION);
    expect(card.featureSetId).toBe(LOCAL_FEATURE_SET_ID);
    expect(card.description).toMatch(/not an LLM/);
    expect((card.features as unknown[]).length).toBe(FEATURES.length + LOCAL_FEATURES.length);
    expect((card.members as unknown[]).length).toBe(3);
    for (const k of ['dev accuracy', 'dev kappa_quadratic', 'dev RMSE_expected_level', 'dev nDCG@10 (rerank)']) {
      expect(Number.isFinite((card.metrics as Record<string, number>)[k])).toBe(true);
    }
  });

  it('is a Teacher that says it is not an LLM', () => {
    expect(teacher.name).toBe('local');
    expect(teacher.model).toBe(`local-mlp-ensemble(${DS})`);
    expect(teacher.promptVersion).toMatch(new RegExp(`^local-${LOCAL_FEATURE_SET_ID}-[0-9a-f]{12}$`));
    expect(teacher.promptVersion).toBe(trained.teacher.promptVersion);
  });

  it('judges test pairs with distributions that sum to 1, far better than chance', async () => {
    const texts = new Map(store.queries(DS, 'test').map((q) => [q.id, q.text]));
    const judged = store.judgments(DS, { split: 'test' });
    expect(judged.length).toBeGreaterThan(50);
    let hits = 0;
    let sq = 0;
    for (const j of judged) {
      const r = await teacher.judge({ queryId: j.queryId, queryText: texts.get(j.queryId)!, itemId: j.itemId, itemText: '' });
      expect(r.distribution).toHaveLength(5);
      expect(r.distribution.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 9);
      for (const p of r.distribution) expect(p).toBeGreaterThanOrEqual(0);
      expect(r.method).toBe('local-ensemble');
      expect(r.cost).toMatchObject({ calls: 1, inputTokens: 0, outputTokens: 0, usd: 0 });
      expect(r.cost.seconds).toBeGreaterThanOrEqual(0);
      const best = r.distribution.indexOf(Math.max(...r.distribution)) + 1;
      if (best === j.level) hits += 1;
      const e = r.distribution.reduce((s, p, k) => s + p * (k + 1), 0);
      sq += (e - j.level) ** 2;
    }
    // chance (the most common level) is 30%; the levels follow word overlap, which the features see
    expect(hits / judged.length).toBeGreaterThan(0.8);
    expect(Math.sqrt(sq / judged.length)).toBeLessThan(0.6);
  });

  it('judgeMany gives what judge gives, and refuses an unknown item as a fatal call error', async () => {
    const pairs: TeacherPair[] = [
      { queryId: 'x1', queryText: 'teal kettle', itemId: itemId(6, 0), itemText: '' },
      { queryId: 'x2', queryText: 'azure lantern', itemId: itemId(1, 4), itemText: '' },
      { queryId: 'x1', queryText: 'teal kettle', itemId: itemId(3, 9), itemText: '' },
    ];
    const many = await teacher.judgeMany(pairs);
    for (const [k, p] of pairs.entries()) {
      const one = await teacher.judge(p);
      one.distribution.forEach((x, i) => expect(x).toBeCloseTo(many[k]!.distribution[i]!, 6));
    }
    // the exact product scores above an unrelated one
    const e = (d: readonly number[]) => d.reduce((s, p, i) => s + p * (i + 1), 0);
    expect(e(many[0]!.distribution)).toBeGreaterThan(e(many[2]!.distribution) + 1);
    const err = await teacher.judge({ ...pairs[0]!, itemId: 'no-such-item' }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(err).toBeInstanceOf(CallError);
    expect((err as CallError).kind).toBe('fatal');
  });
});

describe('registry', () => {
  it('lists local as a non-LLM teacher and builds it from the trained artifact', async () => {
    expect(TEACHERS.local!.isLLM).toBe(false);
    expect(TEACHERS.local!.description).toMatch(/not an LLM/);
    const t = createTeacher('local', { dataset: store.dataset(DS) });
    expect(t.name).toBe('local');
    expect(t.promptVersion).toBe(teacher.promptVersion);
    const j = await t.judge({ queryId: 'z', queryText: 'olive pillow', itemId: itemId(2, 9), itemText: '' });
    expect(j.distribution.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 9);
  });

  it('without a trained artifact: FILE_NOT_FOUND with a hint to train it', () => {
    const e = caught(() => createTeacher('local', { dataset: store.dataset('synth-b') }));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.details.hint).toContain('distilrank teacher train --dataset synth-b');
    const e2 = caught(() => createTeacher('local', { dataset: store.dataset(DS), modelDir: join(tmp.path, 'nowhere') }));
    expect(e2.code).toBe('FILE_NOT_FOUND');
  });

  it('without a store or data set: BAD_OPTION', () => {
    const e = caught(() => createTeacher('local'));
    expect(e.code).toBe('BAD_OPTION');
    expect(e.details.hint).toBeTruthy();
  });
});

describe('artifact refusals (MODEL_MISMATCH)', () => {
  let n = 0;
  function copy(edit?: (card: Record<string, unknown>) => void, raw?: string): string {
    const dir = join(tmp.path, `copy-${++n}`);
    cpSync(trained.dir!, dir, { recursive: true });
    const path = join(dir, 'teacher.json');
    if (raw !== undefined) writeFileSync(path, raw);
    if (edit) {
      const card = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      edit(card);
      writeFileSync(path, JSON.stringify(card));
    }
    return dir;
  }
  const refusal = (dir: string, dataset = DS): DistilrankError => {
    const e = caught(() => LocalTeacher.load(store.dataset(dataset), dir));
    expect(e.details.hint).toBeTruthy();
    return e;
  };

  it('loads an untouched copy', () => {
    expect(LocalTeacher.load(store.dataset(DS), copy()).promptVersion).toBe(teacher.promptVersion);
  });

  it('refuses a truncated file, changed weights, another format, feature set or data set', () => {
    const text = readFileSync(join(trained.dir!, 'teacher.json'), 'utf8');
    expect(refusal(copy(undefined, text.slice(0, text.length / 2))).code).toBe('MODEL_MISMATCH');
    const weights = refusal(
      copy((c) => {
        const m = (c.members as Array<{ layers: Array<{ bias: string }> }>)[0]!;
        const b = Buffer.from(m.layers[0]!.bias, 'base64');
        b[0] = b[0]! ^ 1;
        m.layers[0]!.bias = b.toString('base64');
      }),
    );
    expect(weights.code).toBe('MODEL_MISMATCH');
    expect(weights.message).toMatch(/checksum/);
    expect(refusal(copy((c) => (c.formatVersion = 99))).code).toBe('MODEL_MISMATCH');
    expect(refusal(copy((c) => (c.featureSetId = 'abcdef123456'))).message).toMatch(/feature set/);
    expect(refusal(trained.dir!, 'synth-b').message).toMatch(/data set "synth-a"/);
  });

  it('refuses a store whose training judgments changed since training', () => {
    const other = Store.open(join(tmp.path, 'other.sqlite'), { create: true });
    try {
      other.ingest(synthBundle(DS), { splitSeed: 'another-split' });
      const e = caught(() => LocalTeacher.load(other.dataset(DS), trained.dir!));
      expect(e.code).toBe('MODEL_MISMATCH');
      expect(e.message).toMatch(/training judgments/);
    } finally {
      other.close();
    }
  });

  it('retraining with another seed changes the promptVersion; the same seeds reproduce it', async () => {
    const again = await trainLocalTeacher({ dataset: store.dataset(DS), dir: null });
    expect(again.dir).toBeUndefined();
    expect(again.teacher.promptVersion).toBe(teacher.promptVersion);
    const dir = join(tmp.path, 'seed-7');
    const other = await trainLocalTeacher({ dataset: store.dataset(DS), seeds: [7], dir });
    expect(existsSync(join(dir, 'teacher.json'))).toBe(true);
    expect(other.teacher.promptVersion).not.toBe(teacher.promptVersion);
    expect(LocalTeacher.load(store.dataset(DS), dir).promptVersion).toBe(other.teacher.promptVersion);
    // rewriting over an existing artifact replaces it whole
    const replaced = await trainLocalTeacher({ dataset: store.dataset(DS), seeds: [8], dir });
    expect(LocalTeacher.load(store.dataset(DS), dir).promptVersion).toBe(replaced.teacher.promptVersion);
    expect(readdirSync(tmp.path).filter((f) => f.startsWith('.seed-7'))).toEqual([]);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------

describe('expensive features', () => {
  it('withinOneEdit: one substitution, insertion, deletion or transposition', () => {
    expect(withinOneEdit('refrigerater', 'refrigerator')).toBe(true);
    expect(withinOneEdit('refirgerator', 'refrigerator')).toBe(true);
    expect(withinOneEdit('refrigertor', 'refrigerator')).toBe(true);
    expect(withinOneEdit('refrigeratorr', 'refrigerator')).toBe(true);
    expect(withinOneEdit('refrigerator', 'refrigerator')).toBe(true);
    expect(withinOneEdit('refrigerator', 'refrigerant')).toBe(false);
    expect(withinOneEdit('fridge', 'bridges')).toBe(false);
    expect(withinOneEdit('ab', 'ba')).toBe(true);
    expect(withinOneEdit('abc', 'cba')).toBe(false);
  });

  const items = [
    item('fridge', 'Stainless Refrigerator with Ice Maker'),
    item('cot', 'folding cot bed'),
    item('cat', 'cat tree tower'),
    item('drill', 'cordless drill kit'),
    item('saw', 'circular saw blade', 'a blade for cordless drill users? no: for saws'),
  ];
  const fx = LocalFeatureExtractor.fromData({ items, trainQueries: [], trainJudgments: [] });

  it('typo coverage: a term of ≥ 4 characters matches within one edit; shorter terms need the exact word', () => {
    const f = (q: string, id: string, name = 'typo_coverage_title') => fx.extract({ text: q }, [id])[col(name)]!;
    expect(f('refrigerater', 'fridge')).toBe(1);
    expect(f('refridgerator ice maker', 'fridge')).toBe(1);
    expect(f('refrigerater freezer', 'fridge')).toBe(0.5);
    expect(f('cat', 'cat')).toBe(1);
    expect(f('cat', 'cot')).toBe(0); // "cot" is one edit from "cat", but "cat" is too short for a typo
    expect(f('cats', 'cat')).toBe(1); // same stem
    expect(f('cordles dril', 'drill')).toBe(1); // "dril" has 4 characters
    expect(f('cordless drill', 'saw', 'typo_coverage_all')).toBe(1);
    expect(f('cordless drill', 'saw')).toBe(0);
    // the student's exact coverage misses the typo
    expect(fx.extract({ text: 'refrigerater' }, ['fridge'])[FEATURES.findIndex((x) => x.name === 'coverage_title')]).toBe(0);
  });

  it('3-gram TF-IDF cosine: 1 for identical text, lower for partial overlap, 0 for none', () => {
    const row = (q: string, id: string) => fx.extract({ text: q }, [id]);
    expect(row('cordless drill kit', 'drill')[col('trigram_tfidf_title')]).toBeCloseTo(1, 5);
    expect(row('cordless drill kit', 'drill')[col('trigram_tfidf_all')]).toBeCloseTo(1, 5);
    const partial = row('cordless drill', 'drill')[col('trigram_tfidf_title')]!;
    expect(partial).toBeGreaterThan(0.5);
    expect(partial).toBeLessThan(0.99);
    expect(row('xyzzy', 'drill')[col('trigram_tfidf_title')]).toBe(0);
  });

  it('proximity and head term', () => {
    const p = (q: string, id: string, name: string) => fx.extract({ text: q }, [id])[col(name)]!;
    expect(p('cordless drill', 'drill', 'proximity_title')).toBe(1);
    expect(p('cordless kit', 'drill', 'proximity_title')).toBeCloseTo(2 / 3, 6);
    expect(p('ice refrigerator', 'fridge', 'proximity_title')).toBeCloseTo(2 / 3, 6); // refrigerator with ice
    expect(p('drill bits', 'drill', 'head_term_title')).toBe(0); // the user wants bits, not a drill
    expect(p('bits for drill', 'drill', 'head_term_title')).toBe(1);
  });

  describe('term association', () => {
    // Queries about "kettle" judged against kettle items (relevant) and teapot items (not relevant).
    const cat = [item('k1', 'steel kettle'), item('k2', 'glass kettle'), item('t1', 'steel teapot'), item('t2', 'glass teapot'), item('b1', 'bamboo whisk')];
    const queries = [query('q1', 'kettle'), query('q2', 'electric kettle'), query('q3', 'kettle steel')];
    const base = [
      judgment('q1', 'k1', 5),
      judgment('q1', 't1', 1),
      judgment('q2', 'k2', 5),
      judgment('q2', 't2', 1),
      judgment('q3', 'k1', 5),
      judgment('q3', 't2', 2),
    ];
    const build = (judgments: StoredJudgment[], holdout: AssocHoldout) =>
      LocalFeatureExtractor.fromData({ items: cat, trainQueries: queries, trainJudgments: judgments }, { holdout });
    const assoc = (fx2: LocalFeatureExtractor, q: { id?: string; text: string }, id: string) => {
      const row = fx2.extract(q, [id]);
      return ['assoc_mean', 'assoc_best_mean', 'assoc_best_min', 'assoc_support_log'].map((n) => row[col(n)]!);
    };

    it('learns that kettle queries want kettle titles, not teapots', () => {
      const fx2 = build(base, 'pair');
      expect(assoc(fx2, { text: 'kettle' }, 'k2')[0]).toBeGreaterThan(0);
      expect(assoc(fx2, { text: 'kettle' }, 't2')[0]).toBeLessThan(0);
      expect(assoc(fx2, { text: 'unseen words' }, 'k1')).toEqual([0, 0, 0, 0]);
    });

    for (const holdout of ['pair', 'query'] as const) {
      it(`holdout ${holdout}: a training row's features do not change when only its own label changes`, () => {
        const flipped = base.map((j) => (j.queryId === 'q1' && j.itemId === 'k1' ? judgment('q1', 'k1', 1) : j));
        const a = build(base, holdout);
        const b = build(flipped, holdout);
        // the training row itself (query id given, as training rows are built)
        expect(assoc(b, { id: 'q1', text: 'kettle' }, 'k1')).toEqual(assoc(a, { id: 'q1', text: 'kettle' }, 'k1'));
        // ...while the same pair seen from outside the training data does change: the label is in the counts
        expect(assoc(b, { text: 'kettle' }, 'k1')[0]).toBeLessThan(assoc(a, { text: 'kettle' }, 'k1')[0]!);
        // ...and so does another training query's row that shares the term pair
        expect(assoc(b, { id: 'q3', text: 'kettle steel' }, 'k1')[0]).toBeLessThan(assoc(a, { id: 'q3', text: 'kettle steel' }, 'k1')[0]!);
      });
    }

    it('the hold-out applies only to the training text of the query id', () => {
      const a = build(base, 'pair');
      expect(assoc(a, { id: 'q1', text: 'another text kettle' }, 'k1')).toEqual(assoc(a, { text: 'another text kettle' }, 'k1'));
    });
  });
});
