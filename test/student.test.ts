/**
 * The student end to end at library level (src/student: train.ts, dataset.ts, artifact.ts,
 * ranker.ts) on a synthetic catalogue where relevance follows from word overlap, so a student can
 * learn it: training → artifact → StudentRanker scores exactly what was trained; the model card;
 * reproducibility; refusals of foreign or damaged artifacts; atomic writes and no artifact after a
 * failed training; explanations; sampled negatives.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DistilrankError } from '../src/core/errors.ts';
import { FeatureExtractor, TWOTOWER_FEATURE, studentFeatureSet } from '../src/features/index.ts';

/** The students here are trained without an embedding artifact: every feature but twotower_cosine. */
const LEXICAL = studentFeatureSet(false);
import { Bm25Ranker } from '../src/retrieve/index.ts';
import { Store, type SplitFractions } from '../src/store/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import {
  DEFAULT_CANDIDATES,
  STUDENT_FORMAT,
  STUDENT_FORMAT_VERSION,
  StudentFeatures,
  StudentRanker,
  applyLabelShift,
  DEFAULT_NEGATIVES,
  STUDENT_MLP_CONFIG,
  labelledPairs,
  readStudentArtifact,
  trainStudent,
  writeStudentArtifact,
  type ModelCard,
  type TrainedStudent,
} from '../src/student/index.ts';
import { predictJs, trainMlp, type TrainingSet } from '../src/ml/index.ts';
import { caught, ingestedStore, rejected, runCli, useTempDir } from './helpers.ts';
import { itemId, wordOverlapBundle } from './synth-catalogue.ts';

// The synthetic catalogue: wordOverlapBundle (test/synth-catalogue.ts), 10 colours × 20 products = 200
// items titled "colour product", relevance by word overlap, so a student over lexical features can learn it.

// ---------------------------------------------------------------------------------------------

const tmp = useTempDir('distilrank-student-');
let store: Store;
let trained: TrainedStudent;
let modelDir: string;
let ranker: StudentRanker;
const fresh = (name: string): string => tmp.fresh(name);

const DS = 'synth-a';

function ingest(s: Store, bundle: DatasetBundle, splitFractions?: SplitFractions): void {
  s.ingest(bundle, splitFractions ? { splitFractions } : {});
}

beforeAll(async () => {
  store = ingestedStore(join(tmp.path, 'store.sqlite'), [wordOverlapBundle(DS), wordOverlapBundle('synth-b', { seed: 2 })]);
  trained = await trainStudent({ dataset: store.dataset(DS) });
  modelDir = join(tmp.path, 'models', DS, 'student-human');
  writeStudentArtifact(modelDir, trained.onnx, trained.card);
  ranker = await StudentRanker.load(store.dataset(DS), modelDir);
});

afterAll(async () => {
  await ranker?.close();
  store?.close();
});

async function rejection(p: Promise<unknown>): Promise<DistilrankError> {
  const e = await rejected(p);
  expect(e.details.hint, 'every error says how to fix it').toBeTruthy();
  return e;
}

const fileSha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

function judgedByQuery(s: Store, dataset: string, split: 'train' | 'dev' | 'test'): Map<string, Array<{ itemId: string; level: number }>> {
  const m = new Map<string, Array<{ itemId: string; level: number }>>();
  for (const j of s.judgments(dataset, { split })) {
    const list = m.get(j.queryId) ?? [];
    list.push({ itemId: j.itemId, level: j.level });
    m.set(j.queryId, list);
  }
  return m;
}

function expectation(probs: Float32Array, row: number): number {
  let e = 0;
  for (let k = 0; k < 5; k++) e += probs[row * 5 + k]! * (k + 1);
  return e;
}

function argmax(probs: Float32Array, row: number): number {
  let best = 0;
  for (let k = 1; k < 5; k++) if (probs[row * 5 + k]! > probs[row * 5 + best]!) best = k;
  return best + 1;
}

/** A copy of the trained artifact to damage. */
function artifactCopy(): string {
  const dir = fresh('artifact');
  cpSync(modelDir, dir, { recursive: true });
  return dir;
}

function editCard(dir: string, edit: (card: Record<string, unknown>) => void): void {
  const path = join(dir, 'card.json');
  const card = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(card);
  writeFileSync(path, JSON.stringify(card));
}

// ---------------------------------------------------------------------------------------------

describe('trainStudent → writeStudentArtifact → StudentRanker.load', () => {
  it('records an ONNX parity below 1e-5 and loads the artifact it wrote', () => {
    expect(trained.card.onnxParityMaxAbsDiff).toBeGreaterThanOrEqual(0);
    expect(trained.card.onnxParityMaxAbsDiff).toBeLessThan(1e-5);
    expect(ranker.card).toEqual(JSON.parse(JSON.stringify(trained.card)));
    expect(ranker.name).toBe('student(human)');
    expect(ranker.candidates).toBe(DEFAULT_CANDIDATES);
  });

  it('serves the training-time scores: predictLevels equals the reference forward pass on the same features', async () => {
    const info = store.dataset(DS);
    const priors = store.judgments(DS, { split: 'train', judgmentSet: info.defaultJudgmentSet });
    const extractor = StudentFeatures.fromStore(store.dataset(DS), { priorJudgments: priors, embedding: null });
    const dev = judgedByQuery(store, DS, 'dev');
    expect(dev.size).toBeGreaterThan(0);
    let worst = 0;
    let pairs = 0;
    let correct = 0;
    for (const q of store.queries(DS, 'dev')) {
      const judged = dev.get(q.id);
      if (!judged) continue;
      const ids = judged.map((j) => j.itemId);
      // Level predictions apply the card's judged-pool label shift to the model output.
      const reference = applyLabelShift(predictJs(trained.model, extractor.extract({ text: q.text }, ids), ids.length), trained.card.negatives.priorShift);
      const served = await ranker.predictLevels(q.text, ids);
      expect(served).toHaveLength(ids.length * 5);
      for (let i = 0; i < served.length; i++) worst = Math.max(worst, Math.abs(served[i]! - reference[i]!));
      judged.forEach((j, r) => {
        pairs++;
        if (argmax(served, r) === j.level) correct++;
      });
    }
    expect(worst).toBeLessThan(1e-5);
    expect(pairs).toBe(trained.card.split.dev.pairs);
    // the card's dev accuracy is the accuracy of these very predictions
    expect(correct / pairs).toBeCloseTo(trained.card.metrics['dev accuracy']!, 9);
  });

  it('has learnt the word-overlap rule: the exact item is ranked first for most test queries', async () => {
    const test = judgedByQuery(store, DS, 'test');
    let first = 0;
    let total = 0;
    for (const q of store.queries(DS, 'test')) {
      const judged = test.get(q.id);
      if (!judged) continue;
      const scored = await ranker.score(
        q.text,
        judged.map((j) => j.itemId),
      );
      const top = [...scored].sort((a, b) => b.score - a.score)[0]!;
      total++;
      if (judged.find((j) => j.itemId === top.itemId)!.level === 5) first++;
    }
    expect(total).toBeGreaterThanOrEqual(10);
    expect(first / total).toBeGreaterThanOrEqual(0.8);
  });

  it('score() returns every candidate once, in order, with score = expected level in [1, 5]', async () => {
    const q = store.queries(DS, 'test')[0]!;
    const ids = [...store.itemIds(DS).slice(0, 37), itemId(0, 0)];
    const scored = await ranker.score(q.text, ids);
    expect(scored.map((s) => s.itemId)).toEqual(ids);
    const probs = await ranker.rankingProbabilities(q.text, ids);
    scored.forEach((s, i) => {
      expect(s.score).toBeGreaterThanOrEqual(1);
      expect(s.score).toBeLessThanOrEqual(5);
      expect(s.score).toBeCloseTo(expectation(probs, i), 6);
      let sum = 0;
      for (let k = 0; k < 5; k++) sum += probs[i * 5 + k]!;
      expect(sum).toBeCloseTo(1, 5);
    });
    expect(await ranker.score(q.text, [])).toEqual([]);
  });

  it('retrieve(k) returns at most k items from BM25’s top `candidates`, sorted by score', async () => {
    const small = await StudentRanker.load(store.dataset(DS), modelDir, { candidates: 15 });
    try {
      expect(small.candidates).toBe(15);
      const bm25 = new Bm25Ranker(store.dataset(DS));
      for (const q of store.queries(DS, 'test').slice(0, 5)) {
        const pool = new Set(bm25.retrieve(q.text, 15).map((c) => c.itemId));
        expect(pool.size).toBeGreaterThan(5);
        const top = await small.retrieve(q.text, 5);
        expect(top.length).toBeLessThanOrEqual(5);
        expect(top.length).toBe(5);
        expect(new Set(top.map((t) => t.itemId)).size).toBe(top.length);
        for (const t of top) expect(pool.has(t.itemId), `${t.itemId} is not among BM25's top 15 for "${q.text}"`).toBe(true);
        for (let i = 1; i < top.length; i++) expect(top[i - 1]!.score).toBeGreaterThanOrEqual(top[i]!.score);
        // the scores are the ranker's own scores, and they are the best of the pool
        const all = await small.score(q.text, [...pool]);
        const byId = new Map(all.map((s) => [s.itemId, s.score]));
        for (const t of top) expect(t.score).toBeCloseTo(byId.get(t.itemId)!, 6);
        const fifth = top[top.length - 1]!.score;
        expect(all.filter((s) => s.score > fifth + 1e-6).length).toBeLessThan(5);
        // the whole pool, when k reaches it: exactly BM25's top-15 items
        const whole = await small.retrieve(q.text, 15);
        expect(new Set(whole.map((t) => t.itemId))).toEqual(pool);
      }
      expect(await small.retrieve('zzzz qqqq', 5)).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe('the model card', () => {
  it('records format, data set, feature set, split, negatives, metrics and the ONNX checksum', () => {
    const card = JSON.parse(readFileSync(join(modelDir, 'card.json'), 'utf8')) as ModelCard;
    expect(card).toEqual(JSON.parse(JSON.stringify(trained.card)));
    expect(card.format).toBe(STUDENT_FORMAT);
    expect(card.format).toBe('distilrank-student');
    expect(card.formatVersion).toBe(STUDENT_FORMAT_VERSION);
    expect(card.dataset).toBe(DS);
    expect(card.judgmentSet).toBe('default');
    expect(card.labels).toBe('human');
    expect(Number.isNaN(Date.parse(card.createdAt))).toBe(false);
    expect(card.featureSetId).toBe(LEXICAL.id);
    expect(card.embedding).toBeNull();
    expect(card.features.map((f) => [f.name, f.version])).toEqual(LEXICAL.specs.map((f) => [f.name, f.version]));
    expect(card.features.map((f) => f.name)).not.toContain(TWOTOWER_FEATURE);
    for (const f of card.features) expect(f.description.length).toBeGreaterThan(10);
    expect(card.featureMeans).toHaveLength(LEXICAL.specs.length);
    for (const m of card.featureMeans) expect(Number.isFinite(m)).toBe(true);

    // split sizes, counted here from the store
    const info = store.dataset(DS);
    const train = judgedByQuery(store, DS, 'train');
    const dev = judgedByQuery(store, DS, 'dev');
    const pairs = (m: Map<string, unknown[]>): number => [...m.values()].reduce((n, l) => n + l.length, 0);
    expect(card.split).toEqual({
      seed: info.splitSeed,
      train: { queries: train.size, pairs: pairs(train) },
      dev: { queries: dev.size, pairs: pairs(dev) },
    });
    expect(card.split.train.pairs).toBeGreaterThan(300);

    // negatives: per query min(5, BM25 top-200 candidates that are not judged)
    const bm25 = new Bm25Ranker(store.dataset(DS));
    const expectedNegatives = (m: Map<string, Array<{ itemId: string }>>, split: 'train' | 'dev'): number =>
      store
        .queries(DS, split)
        .filter((q) => m.has(q.id))
        .reduce((n, q) => {
          const judged = new Set(m.get(q.id)!.map((j) => j.itemId));
          return n + Math.min(DEFAULT_NEGATIVES.perQuery, bm25.retrieve(q.text, 200).filter((c) => !judged.has(c.itemId)).length);
        }, 0);
    const negTrain = expectedNegatives(train, 'train');
    expect(card.negatives).toMatchObject({
      ...DEFAULT_NEGATIVES,
      train: negTrain,
      dev: expectedNegatives(dev, 'dev'),
    });
    expect(card.negatives.train).toBeGreaterThan(0);
    // the label-shift correction: log(share of each level among judged train pairs / share in the
    // weighted training rows, where the negatives add their weight to L1)
    const counts = [0, 0, 0, 0, 0];
    for (const list of train.values()) for (const j of list) counts[j.level - 1]! += 1;
    const nJudged = pairs(train);
    const w = DEFAULT_NEGATIVES.weight;
    const nAll = nJudged + w * negTrain;
    const shift = counts.map((c, k) => Math.log((c + 1e-3) / (nJudged + 5e-3) / ((c + (k === 0 ? w * negTrain : 0) + 1e-3) / (nAll + 5e-3))));
    expect(card.negatives.priorShift).toHaveLength(5);
    card.negatives.priorShift.forEach((x, k) => expect(x).toBeCloseTo(shift[k]!, 5));
    expect(card.negatives.priorShift[0]).toBeLessThan(0);

    expect(Object.keys(card.metrics).sort()).toEqual(['dev RMSE_expected_level', 'dev accuracy', 'dev kappa_quadratic', 'dev nDCG@10 (rerank)'].sort());
    for (const v of Object.values(card.metrics)) expect(Number.isFinite(v)).toBe(true);
    expect(card.metrics['dev accuracy']).toBeGreaterThan(0.5);
    expect(card.metrics['dev nDCG@10 (rerank)']).toBeGreaterThan(0.8);

    expect(card.training.epochs).toBe(card.training.history.length);
    expect(card.training.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(card.training.bestEpoch).toBeLessThanOrEqual(card.training.epochs);
    expect(card.training.config).toMatchObject({ seed: STUDENT_MLP_CONFIG.seed, hidden: [...STUDENT_MLP_CONFIG.hidden] });

    expect(card.onnxSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(card.onnxSha256).toBe(fileSha(join(modelDir, 'model.onnx')));
    expect(readFileSync(join(modelDir, 'model.onnx')).equals(Buffer.from(trained.onnx))).toBe(true);
  });
});

describe('reproducibility', () => {
  it('training twice with the same seed gives a byte-identical model.onnx; another seed does not', async () => {
    const again = await trainStudent({ dataset: store.dataset(DS) });
    expect(Buffer.from(again.onnx).equals(Buffer.from(trained.onnx))).toBe(true);
    expect(again.card.onnxSha256).toBe(trained.card.onnxSha256);
    expect(again.card.training.history).toEqual(trained.card.training.history);

    const other = await trainStudent({ dataset: store.dataset(DS), config: { seed: 7 } });
    expect(Buffer.from(other.onnx).equals(Buffer.from(trained.onnx))).toBe(false);
  });

  it('the label shift changes level predictions only: ranking scores and the ONNX model are the same', async () => {
    const raw = await trainStudent({ dataset: store.dataset(DS), priorCorrection: false });
    expect(raw.card.negatives.priorShift).toEqual([0, 0, 0, 0, 0]);
    expect(Buffer.from(raw.onnx).equals(Buffer.from(trained.onnx))).toBe(true);
    const rawDir = join(fresh('noshift'), 'student');
    writeStudentArtifact(rawDir, raw.onnx, raw.card);
    const plain = await StudentRanker.load(store.dataset(DS), rawDir);
    const shifted = await StudentRanker.load(store.dataset(DS), modelDir);
    const q = store.queries(DS, 'test')[0]!;
    const ids = store
      .judgments(DS, { split: 'test' })
      .filter((j) => j.queryId === q.id)
      .map((j) => j.itemId);
    expect(await shifted.score(q.text, ids)).toEqual(await plain.score(q.text, ids));
    const p = await plain.predictLevels(q.text, ids);
    const ps = await shifted.predictLevels(q.text, ids);
    const f = trained.card.negatives.priorShift.map((x) => Math.exp(x));
    for (let r = 0; r < ids.length; r++) {
      const z = [0, 1, 2, 3, 4].reduce((acc, k) => acc + p[r * 5 + k]! * f[k]!, 0);
      for (let k = 0; k < 5; k++) expect(ps[r * 5 + k]!).toBeCloseTo((p[r * 5 + k]! * f[k]!) / z, 6);
    }
    await plain.close();
    await shifted.close();
  });
});

describe('artifact refusals', () => {
  it('refuses a card of another format version (MODEL_MISMATCH, the card file, a hint)', async () => {
    const dir = artifactCopy();
    editCard(dir, (c) => {
      c.formatVersion = STUDENT_FORMAT_VERSION + 1;
    });
    const e = await rejection(StudentRanker.load(store.dataset(DS), dir));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.file).toBe(join(dir, 'card.json'));
    expect(e.details.field).toBe('formatVersion');
    expect(e.message).toContain(`v${STUDENT_FORMAT_VERSION + 1}`);
    expect(e.details.hint).toMatch(/retrain/);
    expect(caught(() => readStudentArtifact(dir)).code).toBe('MODEL_MISMATCH');
  });

  it('refuses a card of another format name', () => {
    const dir = artifactCopy();
    editCard(dir, (c) => {
      c.format = 'something-else';
    });
    const e = caught(() => readStudentArtifact(dir));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.message).toContain('something-else');
  });

  it('refuses a tampered model.onnx (checksum)', async () => {
    const dir = artifactCopy();
    const onnxPath = join(dir, 'model.onnx');
    const bytes = readFileSync(onnxPath);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x01;
    writeFileSync(onnxPath, bytes);
    const e = await rejection(StudentRanker.load(store.dataset(DS), dir));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.file).toBe(onnxPath);
    expect(e.message).toMatch(/checksum/);
  });

  it('refuses a model.onnx cut short', async () => {
    const dir = artifactCopy();
    const onnxPath = join(dir, 'model.onnx');
    writeFileSync(onnxPath, readFileSync(onnxPath).subarray(0, 100));
    const e = await rejection(StudentRanker.load(store.dataset(DS), dir));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.file).toBe(onnxPath);
  });

  it('refuses a card whose featureSetId differs from this distilrank’s', async () => {
    const dir = artifactCopy();
    editCard(dir, (c) => {
      c.featureSetId = 'features-0000000000';
    });
    const e = await rejection(StudentRanker.load(store.dataset(DS), dir));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.file).toBe(dir);
    expect(e.details.field).toBe('featureSetId');
    expect(e.message).toContain('features-0000000000');
    expect(e.message).toContain(LEXICAL.id);
    expect(e.details.hint).toMatch(/distilrank train --dataset synth-a/);
  });

  it('refuses a model trained on data set A for data set B', async () => {
    const e = await rejection(StudentRanker.load(store.dataset('synth-b'), modelDir));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.file).toBe(modelDir);
    expect(e.details.field).toBe('dataset');
    expect(e.message).toContain(DS);
    expect(e.message).toContain('synth-b');
    expect(e.details.hint).toMatch(/distilrank train --dataset synth-b/);
  });

  it('a folder without card.json (or without model.onnx) is FILE_NOT_FOUND', async () => {
    const noCard = artifactCopy();
    rmSync(join(noCard, 'card.json'));
    const e = await rejection(StudentRanker.load(store.dataset(DS), noCard));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.details.file).toBe(noCard);
    expect(e.details.hint).toMatch(/distilrank train/);

    const noModel = artifactCopy();
    rmSync(join(noModel, 'model.onnx'));
    expect((await rejection(StudentRanker.load(store.dataset(DS), noModel))).code).toBe('FILE_NOT_FOUND');
    expect((await rejection(StudentRanker.load(store.dataset(DS), join(tmp.path, 'nowhere')))).code).toBe('FILE_NOT_FOUND');
  });

  it('a card.json that is not JSON is MODEL_MISMATCH naming the card', () => {
    const dir = artifactCopy();
    writeFileSync(join(dir, 'card.json'), '{"format": "distilrank-student", ');
    const e = caught(() => readStudentArtifact(dir));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.file).toBe(join(dir, 'card.json'));
  });

  it('a card.json holding JSON null is MODEL_MISMATCH, not a TypeError', () => {
    const dir = artifactCopy();
    writeFileSync(join(dir, 'card.json'), 'null\n');
    const e = caught(() => readStudentArtifact(dir));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.file).toBe(join(dir, 'card.json'));
  });
});

describe('atomic writes', () => {
  it('writing over an existing artifact replaces it completely and leaves no temp folders', async () => {
    const dir = join(fresh('atomic'), 'student-human');
    writeStudentArtifact(dir, trained.onnx, trained.card);
    writeFileSync(join(dir, 'stray.txt'), 'left over from an older artifact');
    const other = await trainStudent({ dataset: store.dataset(DS), config: { seed: 11, epochs: 3 } });
    writeStudentArtifact(dir, other.onnx, other.card);
    expect(readdirSync(dir).sort()).toEqual(['card.json', 'model.onnx']);
    expect(readFileSync(join(dir, 'model.onnx')).equals(Buffer.from(other.onnx))).toBe(true);
    expect(Buffer.from(other.onnx).equals(Buffer.from(trained.onnx))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(other.card)));
    expect(readdirSync(join(dir, '..'))).toEqual(['student-human']);
    const read = readStudentArtifact(dir);
    expect(read.card.onnxSha256).toBe(other.card.onnxSha256);
  });

  it('a data set whose dev split has no judged pairs: BAD_INPUT, and the CLI writes no artifact', async () => {
    const path = join(fresh('nodev'), 'store.sqlite');
    const s = Store.open(path, { create: true });
    try {
      ingest(s, wordOverlapBundle('nodev'), { train: 0.8, dev: 0, test: 0.2 });
      const e = await rejection(trainStudent({ dataset: s.dataset('nodev') }));
      expect(e.code).toBe('BAD_INPUT');
      expect(e.message).toMatch(/dev split/);
      expect(e.details.field).toBe('split');
    } finally {
      s.close();
    }
    const cwd = join(path, '..');
    const r = runCli(['--store', path, 'train', '--dataset', 'nodev'], { cwd });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[BAD_INPUT\]/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(cwd, 'models'))).toBe(false);
    expect(readdirSync(cwd).sort()).toEqual(['store.sqlite']);
  });

  it('a data set with a single class of labels: BAD_INPUT (without sampled L1 negatives)', async () => {
    const s = Store.open(join(fresh('single'), 'store.sqlite'), { create: true });
    try {
      ingest(s, wordOverlapBundle('single', { grade: () => 5 }));
      const e = await rejection(trainStudent({ dataset: s.dataset('single'), negatives: { perQuery: 0, weight: 0.5, depth: 200, seed: 's' } }));
      expect(e.code).toBe('BAD_INPUT');
      expect(e.message).toMatch(/single class/);
      expect(e.message).toContain('L5');
      // the sampled negatives (L1) are the contrast that makes the same data trainable
      const ok = await trainStudent({ dataset: s.dataset('single'), config: { epochs: 2 } });
      expect(ok.card.negatives.train).toBeGreaterThan(0);
    } finally {
      s.close();
    }
  });

  it('too few labels: BAD_INPUT', async () => {
    const s = Store.open(join(fresh('few'), 'store.sqlite'), { create: true });
    try {
      ingest(s, wordOverlapBundle('few', { queries: 10, judgedPerQuery: 2 }));
      expect(s.judgments('few', { split: 'train' }).length).toBeLessThan(20);
      const e = await rejection(trainStudent({ dataset: s.dataset('few'), negatives: { perQuery: 0, weight: 0.5, depth: 200, seed: 's' } }));
      expect(e.code).toBe('BAD_INPUT');
      expect(e.message).toMatch(/too few labels/);
    } finally {
      s.close();
    }
  });
});

describe('NaN features', () => {
  it('trainMlp refuses a NaN with BAD_INPUT naming its column and row', async () => {
    const dims = 4;
    const make = (rows: number): TrainingSet => {
      const features = new Float32Array(rows * dims);
      const targets = new Float32Array(rows * 5);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < dims; c++) features[r * dims + c] = ((r * 7 + c * 3) % 11) / 11;
        targets[r * 5 + (r % 5)] = 1;
      }
      return { features, rows, dims, targets };
    };
    const train = make(40);
    train.features[13 * dims + 2] = NaN;
    const e = await rejection(trainMlp(train, make(10), { epochs: 1 }));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.details.field).toBe('features[2]');
    expect(e.message).toMatch(/column 2/);
    expect(e.message).toMatch(/row 13/);
    expect(e.message).toMatch(/NaN/);

    const dev = make(10);
    dev.features[3 * dims + 1] = Infinity;
    const e2 = await rejection(trainMlp(make(40), dev, { epochs: 1 }));
    expect(e2.code).toBe('BAD_INPUT');
    expect(e2.details.field).toBe('features[1]');
    expect(e2.message).toMatch(/dev set/);
  });
});

describe('explain()', () => {
  it('gives one contribution per feature, sorted by |contribution|, consistent with score()', async () => {
    const q = store.queries(DS, 'test')[0]!;
    const exact = store.itemIds(DS).find((id) => store.items(DS, [id])[0]!.title === q.text)!;
    expect(exact).toBeDefined();
    const ex = await ranker.explain(q.text, exact);
    expect(ex.itemId).toBe(exact);
    expect(ex.contributions).toHaveLength(LEXICAL.specs.length);
    expect(ex.contributions.map((c) => c.feature).sort()).toEqual(LEXICAL.specs.map((f) => f.name).sort());
    for (let i = 1; i < ex.contributions.length; i++) {
      expect(Math.abs(ex.contributions[i - 1]!.contribution)).toBeGreaterThanOrEqual(Math.abs(ex.contributions[i]!.contribution));
    }
    expect(ex.probabilities).toHaveLength(5);
    expect(ex.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const [scored] = await ranker.score(q.text, [exact]);
    expect(ex.expectedLevel).toBeCloseTo(scored!.score, 6);

    // values are the extracted features
    const priors = store.judgments(DS, { split: 'train', judgmentSet: 'default' });
    const x = StudentFeatures.fromStore(store.dataset(DS), { priorJudgments: priors, embedding: null }).extract({ text: q.text }, [exact]);
    const names = LEXICAL.specs.map((f) => f.name);
    for (const c of ex.contributions) expect(c.value).toBeCloseTo(x[names.indexOf(c.feature)]!, 6);
    expect(ex.contributions.find((c) => c.feature === 'exact_title')!.value).toBe(1);

    // an exact title match is explained by text matching
    const TEXT = /^(bm25_|coverage_|exact_title$|phrase_title$|trigram_jaccard_title$)/;
    const top = ex.contributions.slice(0, 5);
    expect(
      top.some((c) => TEXT.test(c.feature) && c.contribution > 0),
      `top contributions: ${top.map((c) => `${c.feature}=${c.contribution.toFixed(3)}`).join(', ')}`,
    ).toBe(true);

    // a contribution is base − (expected level with that feature at its training mean)
    const c0 = ex.contributions[0]!;
    const j = names.indexOf(c0.feature);
    const occluded = Float32Array.from(x);
    occluded[j] = trained.card.featureMeans[j]!;
    const base = expectation(predictJs(trained.model, x, 1), 0);
    const without = expectation(predictJs(trained.model, occluded, 1), 0);
    expect(c0.contribution).toBeCloseTo(base - without, 4);
    expect(Math.abs(c0.contribution)).toBeGreaterThan(0);
  });
});

describe('labelledPairs with sampled negatives', () => {
  const NEG = { perQuery: 3, weight: 0.25, depth: 50, seed: 'test-negatives' };

  function extractor(): FeatureExtractor {
    return FeatureExtractor.fromStore(store.dataset(DS), { priorJudgments: store.judgments(DS, { split: 'train' }) });
  }

  it('adds min(perQuery, available) unjudged BM25 candidates per query, weighted L1 rows', () => {
    const ext = extractor();
    const bm25 = new Bm25Ranker(store.dataset(DS));
    const judged = judgedByQuery(store, DS, 'train');
    for (const perQuery of [3, 100]) {
      const neg = { ...NEG, perQuery };
      const t = labelledPairs(store.dataset(DS), ext, 'train', 'default', neg);
      const { set } = t;
      expect(set.rows).toBe(t.queryIds.length);
      expect(t.itemIds).toHaveLength(set.rows);
      expect(t.judged).toHaveLength(set.rows);
      expect(set.weights).toBeDefined();
      let sawFewer = false;
      for (const [qid, list] of judged) {
        const q = store.queries(DS, 'train').find((x) => x.id === qid)!;
        const judgedIds = new Set(list.map((j) => j.itemId));
        const available = bm25
          .retrieve(q.text, neg.depth)
          .map((c) => c.itemId)
          .filter((id) => !judgedIds.has(id));
        const rows = t.queryIds.map((id, r) => (id === qid ? r : -1)).filter((r) => r >= 0);
        const negRows = rows.filter((r) => !t.judged[r]);
        const judgedRows = rows.filter((r) => t.judged[r]);
        expect(negRows).toHaveLength(Math.min(perQuery, available.length));
        if (available.length < perQuery) sawFewer = true;
        expect(judgedRows.map((r) => t.itemIds[r]).sort()).toEqual([...judgedIds].sort());
        expect(new Set(negRows.map((r) => t.itemIds[r])).size).toBe(negRows.length);
        for (const r of negRows) {
          const id = t.itemIds[r]!;
          expect(judgedIds.has(id), `negative ${id} of ${qid} is a judged item`).toBe(false);
          expect(available).toContain(id);
          expect(set.weights![r]).toBe(NEG.weight);
          expect(Array.from(set.targets.subarray(r * 5, r * 5 + 5))).toEqual([1, 0, 0, 0, 0]);
          // its features are the extractor's for this pair
          expect(Array.from(set.features.subarray(r * set.dims, (r + 1) * set.dims))).toEqual(Array.from(ext.extract({ id: qid, text: q.text }, [id])));
        }
        for (const r of judgedRows) {
          expect(set.weights![r]).toBe(1);
          const level = list.find((j) => j.itemId === t.itemIds[r])!.level;
          const target = [0, 0, 0, 0, 0];
          target[level - 1] = 1;
          expect(Array.from(set.targets.subarray(r * 5, r * 5 + 5))).toEqual(target);
        }
      }
      if (perQuery === 100) expect(sawFewer, 'perQuery 100 exceeds every pool').toBe(true);
    }
  });

  it('is deterministic across calls, and depends on the seed', () => {
    const ext = extractor();
    const a = labelledPairs(store.dataset(DS), ext, 'train', 'default', NEG);
    const b = labelledPairs(store.dataset(DS), ext, 'train', 'default', { ...NEG });
    expect(b.itemIds).toEqual(a.itemIds);
    expect(b.queryIds).toEqual(a.queryIds);
    expect(b.set.features).toEqual(a.set.features);
    expect(b.set.weights).toEqual(a.set.weights);
    const c = labelledPairs(store.dataset(DS), ext, 'train', 'default', { ...NEG, seed: 'another seed' });
    expect(c.itemIds).not.toEqual(a.itemIds);
    expect(c.set.rows).toBe(a.set.rows);
  });

  it('without negatives: exactly the judged pairs, unweighted', () => {
    const t = labelledPairs(store.dataset(DS), extractor(), 'train', 'default', { ...NEG, perQuery: 0 });
    expect(t.set.rows).toBe(store.judgments(DS, { split: 'train' }).length);
    expect(t.judged.every(Boolean)).toBe(true);
    expect(t.set.weights).toBeUndefined();
    const none = labelledPairs(store.dataset(DS), extractor(), 'train');
    expect(none.set.rows).toBe(t.set.rows);
  });
});
