/**
 * Training the student for a data set: features of the judged pairs of the train and dev splits,
 * the MLP on their soft labels with early stopping on dev, ONNX export, a parity check of the ONNX
 * model against the reference forward pass, and the model card.
 */
import { DistilrankError } from '../core/index.ts';
import { pairMetrics } from '../metrics/index.ts';
import { Embeddings } from '../embed/index.ts';
import type { QueryItemSimilarity } from '../features/index.ts';
import type { Dataset } from '../store/index.ts';
import { STUDENT_FORMAT, STUDENT_FORMAT_VERSION, sha256, type ModelCard } from './artifact.ts';
import { DEFAULT_NEGATIVES, concatTables, filterRows, labelledPairs, teacherPairs, type NegativeSampling, type PairTable } from './dataset.ts';
import type { TeacherLabel } from '../label/index.ts';
import { StudentFeatures } from './features.ts';
import { DEFAULT_MLP_CONFIG, predictJs, trainMlp, type MlpConfig, type TrainedMlp, exportOnnx, OnnxScorer } from '../ml/index.ts';

export interface TrainStudentOptions {
  dataset: Dataset;
  judgmentSet?: string;
  labels?: 'human' | 'human+teacher';
  /**
   * Distillation: the teacher's soft labels for pool pairs (train-split or logged queries only),
   * added to the human-labelled rows with this loss weight. Required with labels 'human+teacher'.
   */
  teacher?: { labels: readonly TeacherLabel[]; weight: number; name: string; model: string; promptVersion: string };
  config?: Partial<MlpConfig>;
  /** Sampled unjudged BM25 candidates as weighted L1 rows (see dataset.ts); default DEFAULT_NEGATIVES. */
  negatives?: NegativeSampling;
  /** Record the label-shift correction level predictions apply on judged pairs (default true); see labelShift. */
  priorCorrection?: boolean;
  /**
   * The two-tower embeddings filling `twotower_cosine`: an Embeddings (or any similarity with an id),
   * 'default' for the data set's artifact (models/DATASET/embed beside the store; FILE_NOT_FOUND when
   * there is none), or none (undefined, null): then the student's feature set leaves that column out
   * (recorded in the model card). Opt-in because the feature has not lifted retrieval nDCG@10 on either of the
   * benchmarked data sets (docs/design.md).
   */
  embedding?: QueryItemSimilarity | 'default' | null;
  onEpoch?: (e: { epoch: number; trainLoss: number; devLoss: number }) => void;
  onStage?: (stage: string) => void;
}

/** The student's network: wider than the MLP default, chosen on the dev splits (docs/design.md). */
export const STUDENT_MLP_CONFIG: Readonly<MlpConfig> = Object.freeze({ ...DEFAULT_MLP_CONFIG, hidden: [128, 64] });

export interface TrainedStudent {
  card: ModelCard;
  onnx: Uint8Array;
  model: TrainedMlp;
}

export async function trainStudent(opts: TrainStudentOptions): Promise<TrainedStudent> {
  const t0 = performance.now();
  const { dataset } = opts;
  const judgmentSet = opts.judgmentSet ?? dataset.defaultJudgmentSet;
  const labels = opts.labels ?? 'human';
  opts.onStage?.('features');
  const priors = dataset.storedJudgments({ split: 'train', judgmentSet });
  const embedding = opts.embedding === 'default' ? Embeddings.forDataset(dataset) : (opts.embedding ?? null);
  const extractor = StudentFeatures.fromStore(dataset, { priorJudgments: priors, embedding });
  const negatives = opts.negatives ?? DEFAULT_NEGATIVES;
  if (labels === 'human+teacher' && !opts.teacher) {
    throw new DistilrankError('BAD_OPTION', 'training on human+teacher labels needs teacher labels', {
      field: 'labels',
      hint: 'label the pool first: distilrank label --dataset NAME --teacher TEACHER',
    });
  }
  // With teacher labels for the pool, the teacher judges the unjudged candidates: stand-in negatives
  // only when asked for explicitly (opts.negatives).
  let humanTrain = labelledPairs(dataset, extractor, 'train', judgmentSet, opts.teacher && !opts.negatives ? { ...negatives, perQuery: 0 } : negatives);
  if (opts.teacher) {
    // A sampled negative the teacher has judged is no stand-in any more: the teacher's label wins.
    const judgedByTeacher = new Set(opts.teacher.labels.map((l) => `${l.queryId}\0${l.itemId}`));
    humanTrain = filterRows(humanTrain, (r) => humanTrain.judged[r]! || !judgedByTeacher.has(`${humanTrain.queryIds[r]}\0${humanTrain.itemIds[r]}`));
  }
  const train = opts.teacher
    ? concatTables(
        humanTrain,
        teacherPairs(extractor, opts.teacher.labels, opts.teacher.weight, new Set(humanTrain.queryIds.map((q, i) => `${q}\0${humanTrain.itemIds[i]}`))),
      )
    : humanTrain;
  const dev = labelledPairs(dataset, extractor, 'dev', judgmentSet, negatives);
  opts.onStage?.('training');
  const model = await trainMlp(train.set, dev.set, { ...STUDENT_MLP_CONFIG, ...opts.config }, opts.onEpoch);
  const priorShift = opts.priorCorrection === false ? [0, 0, 0, 0, 0] : labelShift(train);
  opts.onStage?.('export');
  const onnx = exportOnnx(model, {
    featureNames: [...extractor.names],
    producer: 'distilrank',
    docString: `distilrank student for ${dataset} (${labels} labels)`,
  });
  // The served model must be the trained one: compare ONNX Runtime with the reference forward pass.
  const reference = predictJs(model, dev.set.features, dev.set.rows);
  const scorer = await OnnxScorer.load(onnx);
  const served = await scorer.predict(dev.set.features, dev.set.rows);
  await scorer.close();
  let parity = 0;
  for (let i = 0; i < reference.length; i++) parity = Math.max(parity, Math.abs(reference[i]! - served[i]!));

  const means = Array.from({ length: extractor.names.length }, (_, j) => {
    let s = 0;
    for (let r = 0; r < train.set.rows; r++) s += train.set.features[r * train.set.dims + j]!;
    return s / Math.max(1, train.set.rows);
  });
  const card: ModelCard = {
    format: STUDENT_FORMAT,
    formatVersion: STUDENT_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    dataset: dataset.name,
    judgmentSet,
    labels,
    scale: 'distilrank levels L1 … L5; score = expected level',
    featureSetId: extractor.featureSetId,
    features: extractor.specs.map((f) => ({ name: f.name, version: f.version, description: f.description })),
    embedding: embedding ? { id: embedding.id } : null,
    featureMeans: means,
    split: {
      seed: dataset.splitSeed,
      train: { queries: new Set(train.queryIds).size, pairs: count(train.judged) },
      dev: { queries: new Set(dev.queryIds).size, pairs: count(dev.judged) },
    },
    teacher: opts.teacher
      ? {
          name: opts.teacher.name,
          model: opts.teacher.model,
          promptVersion: opts.teacher.promptVersion,
          weight: opts.teacher.weight,
          pairs: train.set.rows - humanTrain.set.rows,
        }
      : null,
    negatives: {
      ...negatives,
      ...(opts.teacher && !opts.negatives ? { perQuery: 0 } : {}),
      train: humanTrain.judged.length - count(humanTrain.judged),
      dev: dev.judged.length - count(dev.judged),
      priorShift: priorShift.map((x) => Number(x.toFixed(6))),
    },
    priors: `judgment set ${judgmentSet}, train split only (leave-one-out on training rows)`,
    training: {
      config: { ...model.config },
      bestEpoch: model.bestEpoch,
      epochs: model.history.length,
      history: model.history,
      seconds: (performance.now() - t0) / 1000,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      backend: model.backend ?? 'wasm',
    },
    metrics: devMetrics(dev, reference, priorShift),
    onnxParityMaxAbsDiff: parity,
    onnxSha256: sha256(onnx),
  };
  return { card, onnx, model };
}

/**
 * Sampled negatives raise the share of L1 in training above its share among judged pairs. The model
 * keeps that catalogue-wide prior for ranking (most candidates a re-ranker sees are not relevant),
 * while level predictions for judged pairs — what raters are shown — use the judged-pool prior: the
 * standard label-shift correction p'(L) ∝ p(L) · π_judged(L) / π_train(L). Returned as log ratios,
 * recorded in the model card and applied by StudentRanker.predictLevels.
 */
function labelShift(train: PairTable): number[] {
  const judged = [0, 0, 0, 0, 0];
  const all = [0, 0, 0, 0, 0];
  let nJudged = 0;
  let nAll = 0;
  for (let r = 0; r < train.set.rows; r++) {
    const w = train.set.weights?.[r] ?? 1;
    for (let k = 0; k < 5; k++) {
      const t = train.set.targets[r * 5 + k]!;
      all[k]! += w * t;
      if (train.judged[r]) judged[k]! += t;
    }
    nAll += w;
    if (train.judged[r]) nJudged += 1;
  }
  if (nAll === nJudged) return [0, 0, 0, 0, 0];
  return judged.map((j, k) => Math.log((j + 1e-3) / (nJudged + 5e-3) / ((all[k]! + 1e-3) / (nAll + 5e-3))));
}

/** Apply a label shift (log ratios) to rows × 5 probabilities, in place. */
export function applyLabelShift(probs: Float32Array, shift: readonly number[]): Float32Array {
  if (shift.every((x) => x === 0)) return probs;
  const factors = shift.map((x) => Math.exp(x));
  for (let r = 0; r < probs.length / 5; r++) {
    let z = 0;
    for (let k = 0; k < 5; k++) z += probs[r * 5 + k]! * factors[k]!;
    for (let k = 0; k < 5; k++) probs[r * 5 + k] = (probs[r * 5 + k]! * factors[k]!) / z;
  }
  return probs;
}

function count(flags: readonly boolean[]): number {
  return flags.reduce((n, f) => n + (f ? 1 : 0), 0);
}

/** Dev-split metrics of the reference predictions (the card's "metrics at training time"): level
 * predictions with the label shift applied, ranking by the model's own expected level, judged rows only. */
function devMetrics(dev: PairTable, rankingProbs: Float32Array, shift: readonly number[]): Record<string, number> {
  const probs = applyLabelShift(Float32Array.from(rankingProbs), shift);
  return pairMetrics({ ...dev, targets: dev.set.targets, rows: dev.set.rows }, probs, 'dev', { rankingProbs, include: (r) => dev.judged[r]! });
}
