/**
 * The `local` teacher: the default where no LLM is configured. It is NOT an LLM. It is a stronger,
 * slower model than the student, trained here on the human labels alone, over features the student
 * cannot afford at serving time (./local-features.ts: typo-tolerant coverage, character 3-gram TF-IDF
 * cosines, term associations learnt from the training judgments, title proximity, head term) on top
 * of the student's 28. It judges any (query, item) pair of the catalogue with a distribution over
 * the five levels, so the whole distillation loop (teacher labels → student) runs on one machine.
 *
 * The model is an ensemble of MLPs (different seeds) trained on the training split's judged pairs
 * with their soft labels (no sampled negatives: the teacher judges pairs the way a rater does), with
 * early stopping on the dev split; its distribution is the mean of the members' softmax outputs.
 * Scoring is the pure-JS forward pass (predictJs): slow next to the student, and that is fine.
 *
 * The artifact is one folder, `teacher.json` (format, data set, judgment set, fingerprint of the
 * training judgments, feature list and set ids, dev metrics, the members' weights as base64
 * float32), written atomically at `<storeDir>/models/<dataset>/teacher-local`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { replaceDirAtomic, DistilrankError, oneHot, type LevelDistribution } from '../core/index.ts';
import { pairMetrics } from '../metrics/index.ts';
import { FEATURES, FEATURE_SET_ID } from '../features/index.ts';
import type { Split, Dataset, Store } from '../store/index.ts';
import { DEFAULT_MLP_CONFIG, predictJs, trainMlp, type MlpConfig, type TrainedMlp, type TrainingSet } from '../ml/index.ts';
import { LOCAL_FEATURES, LOCAL_FEATURE_SET_ID, LocalFeatureExtractor, type AssocHoldout } from './local-features.ts';
import { type Teacher, type TeacherJudgment, type TeacherPair } from './types.ts';
import { CallError } from '../jobs/index.ts';

export const LOCAL_TEACHER_FORMAT = 'distilrank-local-teacher';
export const LOCAL_TEACHER_FORMAT_VERSION = 1;
export const LOCAL_TEACHER_FILE = 'teacher.json';
export const LOCAL_TEACHER_DESCRIPTION =
  "not an LLM: an ensemble of MLPs trained here on the human labels, over the student's features plus expensive ones (typo-tolerant matching, 3-gram TF-IDF, learnt term associations); train it with `distilrank teacher train --dataset NAME`";

/** Each member: wider than the student, a little dropout; early stopping on dev. */
export const LOCAL_TEACHER_MLP_CONFIG: Readonly<MlpConfig> = Object.freeze({
  ...DEFAULT_MLP_CONFIG,
  hidden: [256, 128],
  epochs: 60,
  patience: 5,
  dropout: 0.1,
});
export const DEFAULT_TEACHER_SEEDS: readonly number[] = Object.freeze([1, 2, 3]);
/**
 * Training rows hold out their whole query from the association counts. With leave-one-out ('pair')
 * a training row still sees its query's other judged items — information a dev or test query never
 * has — so the features shift between training and use (icecat-chorus test κq 0.24 with 'pair' vs
 * 0.66 with 'query'; home-depot test RMSE 0.938 vs 0.923).
 */
export const DEFAULT_ASSOC_HOLDOUT: AssocHoldout = 'query';

export function defaultLocalTeacherDir(storePath: string, dataset: string): string {
  return join(dirname(storePath), 'models', dataset, 'teacher-local');
}

export function localTeacherModel(dataset: string): string {
  return `local-mlp-ensemble(${dataset})`;
}

interface EncodedLayer {
  inputs: number;
  outputs: number;
  weights: string;
  bias: string;
}
interface EncodedMember {
  seed: number;
  dims: number;
  mean: string;
  std: string;
  layers: EncodedLayer[];
}

export interface LocalTeacherCard {
  format: typeof LOCAL_TEACHER_FORMAT;
  formatVersion: number;
  /** Says what this is: not an LLM. */
  description: string;
  model: string;
  createdAt: string;
  dataset: string;
  judgmentSet: string;
  /** Hash of the student's and the teacher's feature registries (LOCAL_FEATURE_SET_ID). */
  featureSetId: string;
  studentFeatureSetId: string;
  features: Array<{ name: string; version: number; description: string; source: 'student' | 'local' }>;
  /** The training judgments the prior and association features were computed from. */
  trainJudgments: { pairs: number; sha256: string; assocHoldout: AssocHoldout };
  split: { seed: string; train: { queries: number; pairs: number }; dev: { queries: number; pairs: number } };
  training: {
    config: Record<string, unknown>;
    members: Array<{ seed: number; bestEpoch: number; epochs: number; seconds: number }>;
    featureSeconds: number;
    seconds: number;
    backend: string;
  };
  /** Dev metrics of the ensemble at training time. */
  metrics: Record<string, number>;
  /** SHA-256 of the members' JSON: part of the teacher's promptVersion (the label cache key). */
  weightsSha256: string;
  members: EncodedMember[];
}

export interface TrainLocalTeacherOptions {
  dataset: Dataset;
  judgmentSet?: string;
  /** One ensemble member per seed (default 1, 2, 3). */
  seeds?: readonly number[];
  config?: Partial<MlpConfig>;
  assocHoldout?: AssocHoldout;
  /** Where to write the artifact (default defaultLocalTeacherDir); null: do not write. */
  dir?: string | null;
  onStage?: (stage: string) => void;
  onEpoch?: (e: { seed: number; epoch: number; trainLoss: number; devLoss: number }) => void;
}

export interface TrainedLocalTeacher {
  /** Where the artifact was written (absent with dir: null). */
  dir?: string;
  card: LocalTeacherCard;
  teacher: LocalTeacher;
}

// ---------------------------------------------------------------------------------------------
// training

interface PairRows {
  queryIds: string[];
  itemIds: string[];
  set: TrainingSet;
}

/** The judged pairs of a split (every judgment of the set; no sampled negatives) with their features. */
function judgedPairs(dataset: Dataset, extractor: LocalFeatureExtractor, split: Split, judgmentSet: string): PairRows {
  const byQuery = new Map<string, Array<{ itemId: string; target: readonly number[] }>>();
  for (const j of dataset.storedJudgments({ split, judgmentSet })) {
    const list = byQuery.get(j.queryId) ?? [];
    list.push({ itemId: j.itemId, target: j.soft ?? oneHot(j.level) });
    byQuery.set(j.queryId, list);
  }
  const queries = dataset.storedQueries(split).filter((q) => byQuery.has(q.id));
  const rows = queries.reduce((n, q) => n + byQuery.get(q.id)!.length, 0);
  if (rows === 0) {
    throw new DistilrankError('BAD_INPUT', `the ${split} split of ${dataset} has no judged pairs (judgment set ${judgmentSet})`, {
      field: 'split',
      hint:
        split === 'dev'
          ? 'the dev split needs judged queries for early stopping: ingest more queries or change the split fractions'
          : 'ingest judgments for this data set',
    });
  }
  const dims = extractor.dim;
  const features = new Float32Array(rows * dims);
  const targets = new Float32Array(rows * 5);
  const queryIds: string[] = [];
  const itemIds: string[] = [];
  let r = 0;
  for (const q of queries) {
    const pairs = byQuery.get(q.id)!;
    features.set(
      extractor.extract(
        { id: q.id, text: q.text },
        pairs.map((p) => p.itemId),
      ),
      r * dims,
    );
    pairs.forEach((p, i) => {
      targets.set(p.target, (r + i) * 5);
      queryIds.push(q.id);
      itemIds.push(p.itemId);
    });
    r += pairs.length;
  }
  return { queryIds, itemIds, set: { features, rows, dims, targets } };
}

/** Mean of the members' softmax outputs, rows × 5. */
function ensemblePredict(members: readonly TrainedMlp[], features: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(rows * 5);
  const acc = new Float64Array(rows * 5);
  for (const m of members) {
    const p = predictJs(m, features, rows);
    for (let i = 0; i < acc.length; i++) acc[i]! += p[i]!;
  }
  for (let r = 0; r < rows; r++) {
    let z = 0;
    for (let k = 0; k < 5; k++) z += acc[r * 5 + k]!;
    for (let k = 0; k < 5; k++) out[r * 5 + k] = acc[r * 5 + k]! / z;
  }
  return out;
}

const b64 = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

function encodeMember(m: TrainedMlp): EncodedMember {
  return {
    seed: m.config.seed,
    dims: m.dims,
    mean: b64(m.mean),
    std: b64(m.std),
    layers: m.layers.map((l) => ({ inputs: l.inputs, outputs: l.outputs, weights: b64(l.weights), bias: b64(l.bias) })),
  };
}

function membersSha(members: readonly EncodedMember[]): string {
  return createHash('sha256').update(JSON.stringify(members)).digest('hex');
}

/**
 * Train the local teacher for a data set on its human labels and (unless dir is null) write the
 * artifact atomically. BAD_INPUT when the train or dev split has no judged pairs or too few labels.
 */
export async function trainLocalTeacher(opts: TrainLocalTeacherOptions): Promise<TrainedLocalTeacher> {
  const t0 = performance.now();
  const { dataset } = opts;
  const { store } = dataset;
  const judgmentSet = opts.judgmentSet ?? dataset.defaultJudgmentSet;
  const seeds = opts.seeds ?? DEFAULT_TEACHER_SEEDS;
  if (!seeds.length || seeds.some((s) => !Number.isFinite(s))) {
    throw new DistilrankError('BAD_OPTION', `invalid ensemble seeds [${seeds.join(', ')}]`, { field: 'seeds', hint: 'pass one or more numbers, e.g. 1,2,3' });
  }
  opts.onStage?.('features');
  const extractor = LocalFeatureExtractor.fromStore(dataset, judgmentSet, { holdout: opts.assocHoldout ?? DEFAULT_ASSOC_HOLDOUT });
  const train = judgedPairs(dataset, extractor, 'train', judgmentSet);
  const dev = judgedPairs(dataset, extractor, 'dev', judgmentSet);
  const featureSeconds = (performance.now() - t0) / 1000;
  const members: TrainedMlp[] = [];
  const memberStats: LocalTeacherCard['training']['members'] = [];
  for (const seed of seeds) {
    opts.onStage?.(`training member seed ${seed}`);
    const tm = performance.now();
    const m = await trainMlp(train.set, dev.set, { ...LOCAL_TEACHER_MLP_CONFIG, ...opts.config, seed }, (e) => opts.onEpoch?.({ seed, ...e }));
    members.push(m);
    memberStats.push({ seed, bestEpoch: m.bestEpoch, epochs: m.history.length, seconds: (performance.now() - tm) / 1000 });
  }
  opts.onStage?.('evaluate');
  const devProbs = ensemblePredict(members, dev.set.features, dev.set.rows);
  const encoded = members.map(encodeMember);
  const card: LocalTeacherCard = {
    format: LOCAL_TEACHER_FORMAT,
    formatVersion: LOCAL_TEACHER_FORMAT_VERSION,
    description: LOCAL_TEACHER_DESCRIPTION,
    model: localTeacherModel(dataset.name),
    createdAt: new Date().toISOString(),
    dataset: dataset.name,
    judgmentSet,
    featureSetId: LOCAL_FEATURE_SET_ID,
    studentFeatureSetId: FEATURE_SET_ID,
    features: [
      ...FEATURES.map((f) => ({ name: f.name, version: f.version, description: f.description, source: 'student' as const })),
      ...LOCAL_FEATURES.map((f) => ({ name: f.name, version: f.version, description: f.description, source: 'local' as const })),
    ],
    trainJudgments: { pairs: extractor.trainPairs, sha256: extractor.trainFingerprint, assocHoldout: extractor.holdout },
    split: {
      seed: dataset.splitSeed,
      train: { queries: new Set(train.queryIds).size, pairs: train.set.rows },
      dev: { queries: new Set(dev.queryIds).size, pairs: dev.set.rows },
    },
    training: {
      config: { ...LOCAL_TEACHER_MLP_CONFIG, ...opts.config, seeds: [...seeds] },
      members: memberStats,
      featureSeconds,
      seconds: (performance.now() - t0) / 1000,
      backend: members[0]!.backend,
    },
    metrics: pairMetrics({ ...dev, targets: dev.set.targets, rows: dev.set.rows }, devProbs, 'dev'),
    weightsSha256: membersSha(encoded),
    members: encoded,
  };
  const teacher = new LocalTeacher(store, card, members, extractor);
  if (opts.dir === null) return { card, teacher };
  const dir = opts.dir ?? defaultLocalTeacherDir(store.path, dataset.name);
  opts.onStage?.('write');
  writeLocalTeacherArtifact(dir, card);
  return { dir, card, teacher };
}

// ---------------------------------------------------------------------------------------------
// the artifact

/** Write `teacher.json` into `dir` atomically: a temp folder beside it, renamed into place. */
export function writeLocalTeacherArtifact(dir: string, card: LocalTeacherCard): void {
  replaceDirAtomic(dir, (tmp) => writeFileSync(join(tmp, LOCAL_TEACHER_FILE), `${JSON.stringify(card)}\n`));
}

const mismatch = (message: string, file: string, hint = 'retrain the teacher: `distilrank teacher train --dataset NAME`'): DistilrankError =>
  new DistilrankError('MODEL_MISMATCH', message, { file, hint });

function decode(s: unknown, length: number, what: string, file: string): Float32Array {
  if (typeof s !== 'string') throw mismatch(`${what} is missing`, file);
  const buf = Buffer.from(s, 'base64');
  if (buf.byteLength !== length * 4) throw mismatch(`${what} holds ${buf.byteLength / 4} values, expected ${length}`, file);
  const out = new Float32Array(length);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

function decodeMember(m: EncodedMember, dims: number, file: string): TrainedMlp {
  if (m.dims !== dims || !Array.isArray(m.layers) || m.layers.length < 1)
    throw mismatch(`an ensemble member takes ${String(m.dims)} features; the feature list has ${dims}`, file);
  let inputs = dims;
  const layers = m.layers.map((l, i) => {
    if (l.inputs !== inputs || !Number.isInteger(l.outputs) || l.outputs < 1) throw mismatch(`layer ${i} of an ensemble member has inconsistent shapes`, file);
    inputs = l.outputs;
    return {
      inputs: l.inputs,
      outputs: l.outputs,
      weights: decode(l.weights, l.inputs * l.outputs, `layer ${i} weights`, file),
      bias: decode(l.bias, l.outputs, `layer ${i} bias`, file),
    };
  });
  if (inputs !== 5) throw mismatch('an ensemble member does not output five levels', file);
  return {
    dims,
    mean: decode(m.mean, dims, 'feature means', file),
    std: decode(m.std, dims, 'feature stds', file),
    layers,
    history: [],
    bestEpoch: 0,
    config: { ...LOCAL_TEACHER_MLP_CONFIG, seed: m.seed },
    backend: 'js',
    notes: [],
  };
}

/**
 * Read and check an artifact: FILE_NOT_FOUND when there is none; MODEL_MISMATCH when it is damaged
 * (not JSON, checksum), of another format version, data set or feature set.
 */
export function readLocalTeacherArtifact(dir: string, dataset?: string): { card: LocalTeacherCard; members: TrainedMlp[] } {
  const file = join(dir, LOCAL_TEACHER_FILE);
  if (!existsSync(file)) {
    throw new DistilrankError('FILE_NOT_FOUND', 'no trained local teacher here', {
      file: dir,
      hint: `train it first: \`distilrank teacher train --dataset ${dataset ?? 'NAME'}\` (the local teacher is not an LLM; it is trained here on the human labels)`,
    });
  }
  let card: LocalTeacherCard;
  try {
    card = JSON.parse(readFileSync(file, 'utf8')) as LocalTeacherCard;
  } catch (e) {
    throw mismatch(`${LOCAL_TEACHER_FILE} is not valid JSON (${(e as Error).message})`, file);
  }
  if (typeof card !== 'object' || card === null || Array.isArray(card)) throw mismatch(`${LOCAL_TEACHER_FILE} does not hold a teacher card`, file);
  if (card.format !== LOCAL_TEACHER_FORMAT || card.formatVersion !== LOCAL_TEACHER_FORMAT_VERSION) {
    throw mismatch(
      `artifact format ${String(card.format)} v${String(card.formatVersion)}; this distilrank reads ${LOCAL_TEACHER_FORMAT} v${LOCAL_TEACHER_FORMAT_VERSION}`,
      file,
    );
  }
  if (dataset !== undefined && card.dataset !== dataset)
    throw mismatch(
      `the teacher was trained on data set "${String(card.dataset)}", not "${dataset}"`,
      file,
      `train one for ${dataset}: \`distilrank teacher train --dataset ${dataset}\``,
    );
  if (card.featureSetId !== LOCAL_FEATURE_SET_ID || card.studentFeatureSetId !== FEATURE_SET_ID) {
    throw mismatch(`the teacher was trained on feature set ${String(card.featureSetId)}; this distilrank computes ${LOCAL_FEATURE_SET_ID}`, file);
  }
  if (!Array.isArray(card.members) || card.members.length === 0) throw mismatch('the artifact holds no ensemble members', file);
  if (membersSha(card.members) !== card.weightsSha256) {
    throw mismatch(
      'the ensemble weights do not match the checksum in teacher.json',
      file,
      'the artifact was modified or partly copied: retrain or copy the whole folder again',
    );
  }
  const dims = FEATURES.length + LOCAL_FEATURES.length;
  return { card, members: card.members.map((m) => decodeMember(m, dims, file)) };
}

// ---------------------------------------------------------------------------------------------
// the teacher

/** The local (non-LLM) teacher over a trained artifact. Also a LevelPredictor (predictLevels). */
export class LocalTeacher implements Teacher {
  readonly name = 'local';
  readonly model: string;
  /** `local-<featureSetId>-<weights hash>`: retraining changes it, and with it the label cache key. */
  readonly promptVersion: string;

  constructor(
    readonly store: Store,
    readonly card: LocalTeacherCard,
    private readonly members: readonly TrainedMlp[],
    private readonly extractor: LocalFeatureExtractor,
  ) {
    this.model = localTeacherModel(card.dataset);
    this.promptVersion = `local-${card.featureSetId}-${card.weightsSha256.slice(0, 12)}`;
  }

  get dataset(): string {
    return this.card.dataset;
  }

  /**
   * Load a trained teacher for `dataset` (default folder: defaultLocalTeacherDir). Rebuilds the
   * features from the store and refuses (MODEL_MISMATCH) when the store's training judgments are not
   * those the teacher was trained with.
   */
  static load(dataset: Dataset, dir: string = defaultLocalTeacherDir(dataset.store.path, dataset.name)): LocalTeacher {
    const { card, members } = readLocalTeacherArtifact(dir, dataset.name);
    const extractor = LocalFeatureExtractor.fromStore(dataset, card.judgmentSet, { holdout: card.trainJudgments.assocHoldout });
    if (extractor.trainFingerprint !== card.trainJudgments.sha256) {
      throw mismatch(
        `the store's training judgments of ${dataset} (judgment set ${card.judgmentSet}) are not those the teacher was trained on (re-ingested or re-split since)`,
        join(dir, LOCAL_TEACHER_FILE),
        `retrain it: \`distilrank teacher train --dataset ${dataset}\``,
      );
    }
    return new LocalTeacher(dataset.store, card, members, extractor);
  }

  /** Distributions for one query's items, rows × 5 (unknown items: UNKNOWN_REFERENCE). */
  predict(query: { id?: string; text: string }, itemIds: readonly string[]): Float32Array {
    if (!itemIds.length) return new Float32Array(0);
    const x = this.extractor.extract(query, itemIds);
    return ensemblePredict(this.members, x, itemIds.length);
  }

  /** LevelPredictor: distributions for a query text's items (no query id: nothing is held out). */
  predictLevels(queryText: string, itemIds: readonly string[]): Float32Array {
    return this.predict({ text: queryText }, itemIds);
  }

  async judge(pair: TeacherPair, signal?: AbortSignal): Promise<TeacherJudgment> {
    signal?.throwIfAborted();
    return this.judgeSync([pair])[0]!;
  }

  /** Judge many pairs at once (grouped by query, so each query is prepared once). Same results as judge. */
  async judgeMany(pairs: readonly TeacherPair[], signal?: AbortSignal): Promise<TeacherJudgment[]> {
    signal?.throwIfAborted();
    return this.judgeSync(pairs);
  }

  private judgeSync(pairs: readonly TeacherPair[]): TeacherJudgment[] {
    for (const p of pairs) {
      if (!this.extractor.has(p.itemId)) {
        throw new CallError('fatal', `unknown item "${p.itemId}": not in the ${this.dataset} catalogue the local teacher reads`);
      }
    }
    const t0 = performance.now();
    const groups = new Map<string, { id: string; text: string; at: number[] }>();
    pairs.forEach((p, k) => {
      const key = `${p.queryId}\u0000${p.queryText}`;
      const g = groups.get(key);
      if (g) g.at.push(k);
      else groups.set(key, { id: p.queryId, text: p.queryText, at: [k] });
    });
    const dists = new Array<LevelDistribution>(pairs.length);
    for (const g of groups.values()) {
      const probs = this.predict(
        { id: g.id, text: g.text },
        g.at.map((k) => pairs[k]!.itemId),
      );
      g.at.forEach((k, r) => {
        const d = [0, 0, 0, 0, 0] as LevelDistribution;
        let z = 0;
        for (let c = 0; c < 5; c++) z += probs[r * 5 + c]!;
        for (let c = 0; c < 5; c++) d[c] = probs[r * 5 + c]! / z;
        dists[k] = d;
      });
    }
    const seconds = (performance.now() - t0) / 1000 / Math.max(1, pairs.length);
    return dists.map((distribution) => ({
      distribution,
      cost: { calls: 1, inputTokens: 0, outputTokens: 0, seconds, usd: 0 },
      method: 'local-ensemble',
    }));
  }
}
