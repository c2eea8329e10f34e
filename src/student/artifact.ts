/**
 * The student artifact: a folder with `model.onnx` (normalisation included) and `card.json`, the
 * model card: format version, feature list and versions, scale, training data and split, metrics at
 * training time. Written atomically (a temp folder renamed into place); loading checks the format
 * version, the ONNX checksum, and that the feature set and data set match.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { replaceDirAtomic, DistilrankError } from '../core/index.ts';

export const STUDENT_FORMAT = 'distilrank-student';
/** 2: the card records the embedding artifact (`embedding`) and the feature set may omit twotower_cosine. */
export const STUDENT_FORMAT_VERSION = 2;

export interface ModelCard {
  format: typeof STUDENT_FORMAT;
  formatVersion: number;
  createdAt: string;
  dataset: string;
  judgmentSet: string;
  /** Which labels trained it: "human", later "human+teacher". */
  labels: string;
  scale: string;
  /** studentFeatureSet(embedding !== null).id: every feature, or all but twotower_cosine. */
  featureSetId: string;
  /** The two-tower embedding artifact the model reads (its id), or null: trained without twotower_cosine. */
  embedding: { id: string } | null;
  features: Array<{ name: string; version: number; description: string }>;
  /** Per-feature training mean (explanations replace a feature by its mean). */
  featureMeans: number[];
  split: { seed: string; train: { queries: number; pairs: number }; dev: { queries: number; pairs: number } };
  /** Distillation: whose soft labels joined the human ones, at which weight, and how many pool pairs. */
  teacher: { name: string; model: string; promptVersion: string; weight: number; pairs: number } | null;
  /** Sampled unjudged BM25 candidates used as weighted L1 rows (train), and how many. */
  negatives: {
    perQuery: number;
    weight: number;
    depth: number;
    seed: string;
    train: number;
    dev: number;
    /** Label shift (log π_judged/π_train per level) that level predictions for judged pairs apply; zeros = none. */
    priorShift: number[];
  };
  /** Item priors were computed from these judgments only (never the evaluated split). */
  priors: string;
  training: {
    config: Record<string, unknown>;
    bestEpoch: number;
    epochs: number;
    history: Array<{ epoch: number; trainLoss: number; devLoss: number }>;
    seconds: number;
    peakRssMiB: number;
    backend: string;
  };
  /** Metrics on the dev split at training time. */
  metrics: Record<string, number>;
  /** Largest |ONNX − reference| probability difference on dev rows, checked when the artifact was written. */
  onnxParityMaxAbsDiff: number;
  onnxSha256: string;
}

export function defaultStudentDir(storePath: string, dataset: string, labels: string): string {
  return join(dirname(storePath), 'models', dataset, `student-${labels.replace(/\+/g, '-')}`);
}

export function writeStudentArtifact(dir: string, onnx: Uint8Array, card: ModelCard): void {
  replaceDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, 'model.onnx'), onnx);
    writeFileSync(join(tmp, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
  });
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function readStudentArtifact(dir: string): { card: ModelCard; onnx: Uint8Array } {
  const cardPath = join(dir, 'card.json');
  const onnxPath = join(dir, 'model.onnx');
  if (!existsSync(cardPath) || !existsSync(onnxPath)) {
    throw new DistilrankError('FILE_NOT_FOUND', 'no student model here (expected card.json and model.onnx)', {
      file: dir,
      hint: 'train one with `distilrank train --dataset NAME`, or pass --model student:PATH',
    });
  }
  let card: ModelCard;
  try {
    card = JSON.parse(readFileSync(cardPath, 'utf8')) as ModelCard;
  } catch (e) {
    throw new DistilrankError('MODEL_MISMATCH', `card.json is not valid JSON (${(e as Error).message})`, { file: cardPath, hint: 'retrain the model' });
  }
  if (typeof card !== 'object' || card === null || Array.isArray(card)) {
    throw new DistilrankError('MODEL_MISMATCH', 'card.json does not hold a model card object', { file: cardPath, hint: 'retrain the model' });
  }
  if (card.format !== STUDENT_FORMAT || card.formatVersion !== STUDENT_FORMAT_VERSION) {
    throw new DistilrankError(
      'MODEL_MISMATCH',
      `artifact format ${String(card.format)} v${String(card.formatVersion)}; this distilrank reads ${STUDENT_FORMAT} v${STUDENT_FORMAT_VERSION}`,
      { file: cardPath, field: 'formatVersion', hint: 'retrain the model with this version: `distilrank train --dataset NAME`' },
    );
  }
  const onnx = new Uint8Array(readFileSync(onnxPath));
  if (sha256(onnx) !== card.onnxSha256) {
    throw new DistilrankError('MODEL_MISMATCH', 'model.onnx does not match the checksum in card.json', {
      file: onnxPath,
      hint: 'the artifact was modified or partly copied: retrain or copy the whole folder again',
    });
  }
  return { card, onnx };
}
