/**
 * The embedding artifact: a folder beside the store (models/DATASET/embed) holding
 *   card.json      format version, id, config, training data and curve, dev metrics, checksums
 *   weights.bin    the two-tower weights, float32 little-endian, tensors in card.tensors order
 *   items.f32      the catalogue's item vectors (items × dim, float32), computed offline
 *   items.json     the item ids, in the row order of items.f32 (usearch keys are row numbers)
 *   index.usearch  the HNSW index over items.f32 (cosine)
 * Written to a temp folder and renamed (src/core/atomic.ts). The id is a hash of weights and vectors:
 * a student that reads the embedding similarity records it and refuses any other artifact.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import usearch from 'usearch';
import { replaceDirAtomic, DistilrankError } from '../core/index.ts';
import { checkFusionWeights } from '../retrieve/index.ts';
import type { FusionCard } from './fusion.ts';
import type { TowerWeights, TwoTowerWeights } from './model.ts';
import type { EmbedEpoch, EmbedTrainConfig } from './train.ts';

const { Index, MetricKind, ScalarKind } = usearch;
export type UsearchIndex = InstanceType<typeof Index>;

export const EMBED_FORMAT = 'distilrank-embed';
export const EMBED_FORMAT_VERSION = 1;

/** HNSW parameters: chosen so recall@10 vs exact search stays ≥ 0.95 (test/embed.test.ts checks it). */
export const INDEX_CONFIG = Object.freeze({ connectivity: 16, expansionAdd: 64, expansionSearch: 128 });

export interface EmbedCard {
  format: typeof EMBED_FORMAT;
  formatVersion: number;
  /** sha256(weights.bin, items.f32), first 12 hex digits: what a student records. */
  id: string;
  createdAt: string;
  dataset: string;
  judgmentSet: string;
  labels: string;
  inputs: string;
  config: EmbedTrainConfig;
  tensors: Array<{ name: string; shape: number[] }>;
  data: {
    splitSeed: string;
    train: { human: number; teacher: number; queries: number };
    dev: { pairs: number; queries: number };
    teacher: { name: string; model: string; promptVersion: string; weight: number } | null;
    negatives: { depth: number; queries: number };
  };
  training: { history: EmbedEpoch[]; bestEpoch: number; epochs: number; seconds: number; backend: string };
  /** Dev split, at the best epoch: nDCG@10 of the judged pairs ranked by cosine. */
  metrics: Record<string, number>;
  /**
   * The hybrid fusion's leg weights, chosen on dev when the embeddings were trained with a lexical leg
   * (the CLI always gives BM25), with the dev scores of every weight tried. Absent (cards written
   * before it, or trained without a lexical leg): `hybrid` fuses with equal weights.
   */
  fusion?: FusionCard;
  items: number;
  index: { metric: 'cos'; connectivity: number; expansionAdd: number; expansionSearch: number; buildSeconds: number };
  sha256: { weights: string; items: string; itemIds: string };
}

export function defaultEmbedDir(storePath: string, dataset: string): string {
  return join(dirname(storePath), 'models', dataset, 'embed');
}

/** Whether `dir` holds an embedding artifact (its card; readEmbedArtifact checks the rest). */
export function hasEmbedArtifact(dir: string): boolean {
  return existsSync(join(dir, 'card.json'));
}

function towerTensors(prefix: string, t: TowerWeights, dim: number, hidden: number): Array<[string, number[], Float32Array]> {
  return [
    [`${prefix}.w1`, [dim, hidden], t.w1],
    [`${prefix}.b1`, [hidden], t.b1],
    [`${prefix}.w2`, [hidden, dim], t.w2],
    [`${prefix}.b2`, [dim], t.b2],
  ];
}

function tensorsOf(m: TwoTowerWeights): Array<[string, number[], Float32Array]> {
  const { dim, hidden, hashing } = m.config;
  return [
    ['table', [hashing.buckets, dim], m.table],
    ['idf', [hashing.buckets], m.idf],
    ...towerTensors('query', m.query, dim, hidden),
    ...towerTensors('item', m.item, dim, hidden),
  ];
}

function bytesOf(parts: readonly Float32Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

export function buildIndex(vectors: Float32Array, dim: number): { index: UsearchIndex; seconds: number } {
  const t0 = performance.now();
  const index = new Index({
    dimensions: dim,
    metric: MetricKind.Cos,
    connectivity: INDEX_CONFIG.connectivity,
    expansion_add: INDEX_CONFIG.expansionAdd,
    expansion_search: INDEX_CONFIG.expansionSearch,
    quantization: ScalarKind.F32,
    multi: false,
  });
  const n = vectors.length / dim;
  if (n > 0)
    index.add(
      BigUint64Array.from({ length: n }, (_, i) => BigInt(i)),
      vectors,
      0,
    ); // all cores: the graph may differ between runs, the vectors never do
  return { index, seconds: (performance.now() - t0) / 1000 };
}

export type EmbedCardInput = Omit<EmbedCard, 'format' | 'formatVersion' | 'id' | 'createdAt' | 'tensors' | 'items' | 'index' | 'sha256' | 'config'>;

/** Write the artifact (atomically); builds the index; returns the card written. */
export function writeEmbedArtifact(
  dir: string,
  model: TwoTowerWeights,
  config: EmbedTrainConfig,
  itemIds: readonly string[],
  vectors: Float32Array,
  info: EmbedCardInput,
): EmbedCard {
  const tensors = tensorsOf(model);
  const weights = bytesOf(tensors.map((t) => t[2]));
  const itemBytes = bytesOf([vectors]);
  const idsJson = `${JSON.stringify(itemIds)}\n`;
  const { index, seconds } = buildIndex(vectors, model.config.dim);
  const card: EmbedCard = {
    format: EMBED_FORMAT,
    formatVersion: EMBED_FORMAT_VERSION,
    id: sha(Buffer.concat([Buffer.from(sha(weights)), Buffer.from(sha(itemBytes))])).slice(0, 12),
    createdAt: new Date().toISOString(),
    ...info,
    config,
    tensors: tensors.map(([name, shape]) => ({ name, shape })),
    items: itemIds.length,
    index: { metric: 'cos', ...INDEX_CONFIG, buildSeconds: Number(seconds.toFixed(3)) },
    sha256: { weights: sha(weights), items: sha(itemBytes), itemIds: sha(idsJson) },
  };
  replaceDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, 'weights.bin'), weights);
    writeFileSync(join(tmp, 'items.f32'), itemBytes);
    writeFileSync(join(tmp, 'items.json'), idsJson);
    index.save(join(tmp, 'index.usearch'));
    writeFileSync(join(tmp, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
  });
  return card;
}

function mismatch(message: string, file: string, hint = 'retrain the embeddings: distilrank embed --dataset NAME'): DistilrankError {
  return new DistilrankError('MODEL_MISMATCH', message, { file, hint });
}

export interface EmbedArtifact {
  dir: string;
  card: EmbedCard;
  model: TwoTowerWeights;
  itemIds: string[];
  vectors: Float32Array;
  /** The saved HNSW index, loaded (call only when searching: it reads the file). */
  loadIndex(): UsearchIndex;
}

function f32(buf: Buffer): Float32Array {
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return new Float32Array(copy.buffer);
}

/** Read and verify an artifact: format version, checksums, shapes. */
export function readEmbedArtifact(dir: string): EmbedArtifact {
  const cardPath = join(dir, 'card.json');
  if (!hasEmbedArtifact(dir)) {
    throw new DistilrankError('FILE_NOT_FOUND', 'no embedding artifact here (expected card.json, weights.bin, items.f32, items.json, index.usearch)', {
      file: dir,
      hint: 'train the embeddings first: distilrank embed --dataset NAME',
    });
  }
  let card: EmbedCard;
  try {
    card = JSON.parse(readFileSync(cardPath, 'utf8')) as EmbedCard;
  } catch (e) {
    throw mismatch(`card.json is not valid JSON (${(e as Error).message})`, cardPath);
  }
  if (typeof card !== 'object' || card === null || card.format !== EMBED_FORMAT || card.formatVersion !== EMBED_FORMAT_VERSION) {
    throw mismatch(
      `artifact format ${String(card?.format)} v${String(card?.formatVersion)}; this distilrank reads ${EMBED_FORMAT} v${EMBED_FORMAT_VERSION}`,
      cardPath,
    );
  }
  if (card.fusion !== undefined) checkFusionWeights(card.fusion?.weights, 'fusion.weights', cardPath);
  const files = ['weights.bin', 'items.f32', 'items.json', 'index.usearch'].map((f) => join(dir, f));
  for (const f of files)
    if (!existsSync(f)) throw mismatch(`the artifact lacks ${f}`, f, 'the folder was partly copied: copy it whole, or retrain with distilrank embed');
  const weights = readFileSync(files[0]!);
  const items = readFileSync(files[1]!);
  const idsJson = readFileSync(files[2]!, 'utf8');
  if (sha(weights) !== card.sha256.weights || sha(items) !== card.sha256.items || sha(idsJson) !== card.sha256.itemIds) {
    throw mismatch(
      'the artifact files do not match the checksums in card.json',
      dir,
      'the artifact was modified or partly copied: copy it whole, or retrain with distilrank embed',
    );
  }
  const all = f32(weights);
  const { dim, hidden } = card.config;
  const parts = new Map<string, Float32Array>();
  let at = 0;
  for (const t of card.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    parts.set(t.name, all.subarray(at, at + size));
    at += size;
  }
  if (at !== all.length) throw mismatch(`weights.bin holds ${all.length} floats, the card's tensors ${at}`, files[0]!);
  const tower = (p: string): TowerWeights => ({ w1: parts.get(`${p}.w1`)!, b1: parts.get(`${p}.b1`)!, w2: parts.get(`${p}.w2`)!, b2: parts.get(`${p}.b2`)! });
  const model: TwoTowerWeights = {
    config: { hashing: card.config.hashing, dim, hidden },
    table: parts.get('table')!,
    idf: parts.get('idf')!,
    query: tower('query'),
    item: tower('item'),
  };
  const itemIds = JSON.parse(idsJson) as string[];
  const vectors = f32(items);
  if (vectors.length !== itemIds.length * dim) throw mismatch(`items.f32 holds ${vectors.length} floats for ${itemIds.length} items × ${dim}`, files[1]!);
  return {
    dir,
    card,
    model,
    itemIds,
    vectors,
    loadIndex: () => {
      const index = new Index({
        dimensions: dim,
        metric: MetricKind.Cos,
        connectivity: card.index.connectivity,
        expansion_add: card.index.expansionAdd,
        expansion_search: card.index.expansionSearch,
        quantization: ScalarKind.F32,
        multi: false,
      });
      index.load(files[3]!);
      return index;
    },
  };
}
