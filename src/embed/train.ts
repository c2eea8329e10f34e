/**
 * Training the two towers (tfjs, WASM backend, seeded: bit-identical reruns).
 *
 * Data: labelled (query, item) pairs with an expected gain g ∈ [0, 4] — human judgments of the train
 * split (the soft label's expectation where raters disagree) and, when present, the teacher's soft
 * labels for pool pairs (its distribution's expectation, at the teacher weight) — plus, per pair, one
 * unjudged item sampled from the query's BM25 candidates as a hard negative; and each epoch, fresh
 * self-supervised pairs from the catalogue (an item and a few of its title's words as a pseudo-query).
 *
 * Loss per batch of B pairs, over the B query vectors q_i and 2B item vectors (the B judged items,
 * then the B sampled negatives):
 *   1. graded in-batch softmax (InfoNCE, temperature τ): −w_i·(g_i/4)·log softmax_j(q_i·v_j/τ)[i],
 *      every other item of the batch (and every negative) competing; columns that are the same item
 *      or another judged item of the same query are masked. Distillation enters through g_i: a pair
 *      the teacher or the raters call L5 pulls with full weight, an L1 pair not at all.
 *   2. pointwise regression of the cosine to the level: w_i·(q_i·v_i − g_i/4)² and
 *      w_neg·(q_i·v_neg)², so irrelevant judged pairs and negatives are pushed apart, not just outranked.
 * The bucket table is updated sparsely (Adagrad on the rows a batch touched: the bag mean is linear, so
 * its gradient is computed here from tfjs' gradient of the bag vectors); the towers' MLPs by Adam.
 * Early stopping keeps the epoch with the best dev nDCG@10: of vector retrieval over the whole
 * catalogue (default), or of the judged dev pairs ranked by cosine (earlyStopping: 'judged').
 */
import * as tf from '@tensorflow/tfjs';
import { DistilrankError, mulberry32 } from '../core/index.ts';
import { ndcgAt } from '../metrics/index.ts';
import type { StoredItem } from '../store/index.ts';
import { initTfBackend } from '../ml/index.ts';
import { tokenize } from '../text/index.ts';
import { checkHashingConfig, DEFAULT_HASHING, itemBuckets, queryBuckets, type HashingConfig } from './hashing.ts';
import { bucketIdf, encodeBuckets, encodeItems, exactTopK, type TowerWeights, type TwoTowerWeights } from './model.ts';

export interface EmbedPair {
  queryId: string;
  queryText: string;
  itemId: string;
  /** Expected gain in [0, 4] (L1 = 0 … L5 = 4). */
  gain: number;
  /** Loss weight (human pairs 1, teacher pairs the teacher weight). */
  weight: number;
}

export interface EmbedTrainConfig {
  hashing: HashingConfig;
  dim: number;
  hidden: number;
  epochs: number;
  batchSize: number;
  /** Adam learning rate of the towers' MLPs. */
  learningRate: number;
  /** Adagrad learning rate of the bucket table. */
  tableLearningRate: number;
  /** Softmax temperature τ of the in-batch loss. */
  temperature: number;
  /** Weight of the cosine regression term. */
  regressionWeight: number;
  /** Weight of a sampled negative in the regression term. */
  negativeWeight: number;
  /**
   * Weight the bag mean by catalogue IDF (ln(1 + N/(1 + df)) per bucket) instead of a plain mean.
   * Off by default: on home-depot it lowered vector retrieval (test nDCG@10 0.084 vs 0.124).
   */
  idfWeighting: boolean;
  /**
   * Self-supervised pairs from the catalogue, per epoch, as a multiple of the labelled training pairs
   * (0: none): a seeded sample of items, each paired with a pseudo-query of 1 to selfMaxWords of its
   * title's words (in title order) at gain 4, so that every item's buckets get trained, not only the
   * judged items'. The other items of the batch are its negatives (in-batch), plus one random item.
   */
  selfPairs: number;
  /** Loss weight of a self-supervised pair (a human pair weighs 1). */
  selfWeight: number;
  /** Longest pseudo-query, in title words. */
  selfMaxWords: number;
  /**
   * What early stopping reads: 'judged' — nDCG@10 of each dev query's judged items ranked by cosine
   * (a re-ranking measure: on home-depot nearly every judged item is relevant, so it barely moves);
   * 'retrieval' — nDCG@10 of the vector leg over the whole catalogue (exact cosine, top 10), what
   * `vector` and `hybrid` retrieval see.
   */
  earlyStopping: 'judged' | 'retrieval';
  /** Stop after this many epochs without a better dev nDCG@10. */
  patience: number;
  seed: number;
}

export const DEFAULT_EMBED_CONFIG: Readonly<EmbedTrainConfig> = Object.freeze({
  hashing: DEFAULT_HASHING,
  dim: 64,
  hidden: 128,
  epochs: 6,
  batchSize: 256,
  learningRate: 2e-3,
  tableLearningRate: 0.05,
  temperature: 0.05,
  regressionWeight: 1,
  negativeWeight: 0.5,
  idfWeighting: false,
  // chosen on home-depot's dev split (docs/design.md): vector retrieval nDCG@10 0.144 → 0.195
  selfPairs: 2,
  selfWeight: 1,
  selfMaxWords: 4,
  earlyStopping: 'retrieval',
  patience: 2,
  seed: 7,
});

export interface EmbedEpoch {
  epoch: number;
  trainLoss: number;
  devLoss: number;
  devNdcg10: number;
}

export interface TrainEmbeddingsInput {
  items: readonly StoredItem[];
  train: readonly EmbedPair[];
  dev: readonly EmbedPair[];
  /** Per query id: unjudged candidates (e.g. BM25's top 200 minus judged items) to sample negatives from. */
  negatives?: ReadonlyMap<string, readonly string[]>;
  config?: Partial<EmbedTrainConfig>;
  onEpoch?: (e: EmbedEpoch) => void;
}

export interface TrainedEmbeddings {
  model: TwoTowerWeights;
  config: EmbedTrainConfig;
  history: EmbedEpoch[];
  bestEpoch: number;
  /** Catalogue order of `vectors`. */
  itemIds: string[];
  /** itemIds.length × dim, unit rows. */
  vectors: Float32Array;
  seconds: number;
  backend: string;
}

/** Catalogue bags in CSR form: item i's buckets are ids[start[i] … start[i+1]). */
interface Bags {
  start: Int32Array;
  ids: Int32Array;
}

function catalogueBags(items: readonly StoredItem[], cfg: HashingConfig): Bags {
  const parts = items.map((it) => itemBuckets(it, cfg));
  const start = new Int32Array(items.length + 1);
  for (let i = 0; i < parts.length; i++) start[i + 1] = start[i]! + parts[i]!.length;
  const ids = new Int32Array(start[items.length]!);
  parts.forEach((p, i) => ids.set(p, start[i]!));
  return { start, ids };
}

function glorot(inputs: number, outputs: number, rand: () => number): Float32Array {
  const limit = Math.sqrt(6 / (inputs + outputs));
  return Float32Array.from({ length: inputs * outputs }, () => (rand() * 2 - 1) * limit);
}

function shuffled(n: number, rand: () => number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

interface TowerVars {
  w1: tf.Variable;
  b1: tf.Variable;
  w2: tf.Variable;
  b2: tf.Variable;
}

function towerVars(dim: number, hidden: number, rand: () => number): TowerVars {
  return tf.tidy(() => ({
    w1: tf.variable(tf.tensor2d(glorot(dim, hidden, rand), [dim, hidden]), true),
    b1: tf.variable(tf.zeros([hidden]), true),
    // zero: the towers start as the plain bag mean (a soft n-gram overlap) and learn a correction
    w2: tf.variable(tf.zeros([hidden, dim]), true),
    b2: tf.variable(tf.zeros([dim]), true),
  }));
}

function towerTf(h: tf.Tensor2D, v: TowerVars): tf.Tensor2D {
  const z = tf.relu(tf.add(tf.matMul(h, v.w1), v.b1));
  const y = tf.add(tf.add(h, tf.matMul(z, v.w2)), v.b2) as tf.Tensor2D;
  return tf.div(y, tf.sqrt(tf.add(tf.sum(tf.square(y), 1, true), 1e-12))) as tf.Tensor2D;
}

function readTower(v: TowerVars): TowerWeights {
  return { w1: v.w1.dataSync() as Float32Array, b1: v.b1.dataSync() as Float32Array, w2: v.w2.dataSync() as Float32Array, b2: v.b2.dataSync() as Float32Array };
}

function gainOf(p: EmbedPair): number {
  return Math.min(4, Math.max(0, p.gain));
}

export async function trainEmbeddings(input: TrainEmbeddingsInput): Promise<TrainedEmbeddings> {
  const t0 = performance.now();
  const cfg: EmbedTrainConfig = { ...DEFAULT_EMBED_CONFIG, ...input.config };
  checkHashingConfig(cfg.hashing);
  if (input.train.length < 2) {
    throw new DistilrankError('BAD_INPUT', `the embeddings need at least 2 labelled training pairs, got ${input.train.length}`, {
      hint: 'ingest judgments for the train split (or label the pool with a teacher)',
    });
  }
  const { backend } = await initTfBackend();
  const { dim, hidden } = cfg;
  const items = input.items;
  const itemIndex = new Map(items.map((it, i) => [it.id, i]));
  const bags = catalogueBags(items, cfg.hashing);
  const queryBags = new Map<string, Int32Array>();
  const qbag = (text: string) => {
    let b = queryBags.get(text);
    if (!b) queryBags.set(text, (b = queryBuckets(text, cfg.hashing)));
    return b;
  };
  const usable = (pairs: readonly EmbedPair[]) => pairs.filter((p) => itemIndex.has(p.itemId) && Number.isFinite(p.gain) && p.weight > 0);
  const train = usable(input.train);
  const dev = usable(input.dev);
  const judgedBy = new Map<string, Set<number>>();
  for (const p of [...train, ...dev]) {
    let s = judgedBy.get(p.queryId);
    if (!s) judgedBy.set(p.queryId, (s = new Set()));
    s.add(itemIndex.get(p.itemId)!);
  }
  const pools = new Map<string, Int32Array>();
  for (const [q, ids] of input.negatives ?? []) {
    const judged = judgedBy.get(q);
    pools.set(q, Int32Array.from(ids.map((id) => itemIndex.get(id) ?? -1).filter((i) => i >= 0 && !judged?.has(i))));
  }

  const rand = mulberry32(cfg.seed);
  const table = new Float32Array(cfg.hashing.buckets * dim);
  const scale = 0.5;
  for (let i = 0; i < table.length; i++) table[i] = (rand() * 2 - 1) * scale;
  const acc = new Float32Array(table.length).fill(0.1);
  const idf = cfg.idfWeighting ? bucketIdf(cfg.hashing.buckets, bags.ids, items.length) : new Float32Array(cfg.hashing.buckets).fill(1);
  const qv = towerVars(dim, hidden, rand);
  const iv = towerVars(dim, hidden, rand);
  const towerList = [qv.w1, qv.b1, qv.w2, qv.b2, iv.w1, iv.b1, iv.w2, iv.b2];
  const optimizer = tf.train.adam(cfg.learningRate);

  const negativeFor = (p: EmbedPair, r: () => number): number => {
    const pool = pools.get(p.queryId);
    if (pool && pool.length) return pool[Math.floor(r() * pool.length)]!;
    const judged = judgedBy.get(p.queryId);
    for (let t = 0; t < 8; t++) {
      const i = Math.floor(r() * items.length);
      if (!judged?.has(i)) return i;
    }
    return Math.floor(r() * items.length);
  };

  /** Bag means of the batch (queries, then items) and the bucket lists to route their gradients. */
  const bagMeans = (bagsOf: Int32Array[]): Float32Array => {
    const h = new Float32Array(bagsOf.length * dim);
    bagsOf.forEach((b, r) => {
      let wsum = 0;
      for (const id of b) {
        const w = idf[id]!;
        wsum += w;
        for (let j = 0; j < dim; j++) h[r * dim + j]! += w * table[id * dim + j]!;
      }
      if (wsum > 0) for (let j = 0; j < dim; j++) h[r * dim + j]! /= wsum;
    });
    return h;
  };
  const itemBag = (i: number) => bags.ids.subarray(bags.start[i]!, bags.start[i + 1]!);
  const titleWords: Array<string[] | undefined> = [];

  interface Batch {
    qBags: Int32Array[];
    iBags: Int32Array[];
    gains: Float32Array;
    weights: Float32Array;
    mask: Float32Array;
    n: number;
  }
  const makeBatch = (pairs: readonly EmbedPair[], order: Uint32Array, s: number, e: number, r: () => number): Batch => {
    const n = e - s;
    const chosen = Array.from({ length: n }, (_, k) => pairs[order[s + k]!]!);
    const pos = chosen.map((p) => itemIndex.get(p.itemId)!);
    const neg = chosen.map((p) => negativeFor(p, r));
    const cols = [...pos, ...neg];
    const mask = new Float32Array(n * 2 * n);
    for (let i = 0; i < n; i++) {
      const judged = judgedBy.get(chosen[i]!.queryId);
      for (let j = 0; j < 2 * n; j++) {
        if (j === i) continue;
        if (cols[j] === pos[i] || (judged?.has(cols[j]!) ?? false)) mask[i * 2 * n + j] = -1e4;
      }
    }
    return {
      qBags: chosen.map((p) => qbag(p.queryText)),
      iBags: cols.map(itemBag),
      gains: Float32Array.from(chosen, gainOf),
      weights: Float32Array.from(chosen, (p) => p.weight),
      mask,
      n,
    };
  };

  const lossTf = (hq: tf.Tensor2D, hi: tf.Tensor2D, b: Batch): tf.Scalar => {
    const n = b.n;
    const q = towerTf(hq, qv);
    const v = towerTf(hi, iv);
    const sims = tf.matMul(q, v, false, true); // n × 2n cosines
    const logits = tf.add(tf.mul(sims, 1 / cfg.temperature), tf.tensor2d(b.mask, [n, 2 * n]));
    const lsm = tf.sub(logits, tf.logSumExp(logits, 1, true));
    const eye = tf.concat([tf.eye(n), tf.zeros([n, n])], 1);
    const eyeNeg = tf.concat([tf.zeros([n, n]), tf.eye(n)], 1);
    const nll = tf.neg(tf.sum(tf.mul(lsm, eye), 1));
    const g4 = tf.div(tf.tensor1d(b.gains), 4);
    const w = tf.tensor1d(b.weights);
    const nceW = tf.mul(w, g4);
    const nceSum = b.gains.reduce((s, g, i) => s + (g / 4) * b.weights[i]!, 0);
    const nce = nceSum > 0 ? tf.div(tf.sum(tf.mul(nll, nceW)), nceSum) : tf.scalar(0);
    const cosPos = tf.sum(tf.mul(sims, eye), 1);
    const cosNeg = tf.sum(tf.mul(sims, eyeNeg), 1);
    const wSum = b.weights.reduce((s, x) => s + x, 0) + cfg.negativeWeight * n;
    const reg = tf.div(tf.add(tf.sum(tf.mul(w, tf.square(tf.sub(cosPos, g4)))), tf.mul(tf.sum(tf.square(cosNeg)), cfg.negativeWeight)), wSum);
    return tf.add(nce, tf.mul(reg, cfg.regressionWeight)) as tf.Scalar;
  };

  const snapshot = (): TwoTowerWeights => ({
    config: { hashing: { ...cfg.hashing }, dim, hidden },
    table: Float32Array.from(table),
    idf,
    query: readTower(qv),
    item: readTower(iv),
  });

  const devNdcg = (model: TwoTowerWeights): number => (cfg.earlyStopping === 'retrieval' ? devRetrievalNdcg(model) : devJudgedNdcg(model));

  /** nDCG@10 of the vector leg on the dev queries: the whole catalogue by exact cosine, judged gains (unjudged 0). */
  const devRetrievalNdcg = (model: TwoTowerWeights): number => {
    const vectors = encodeItems(
      model,
      items.map((_, i) => itemBag(i)),
    );
    const byQuery = new Map<string, { text: string; gains: Map<string, number> }>();
    for (const p of dev) {
      let q = byQuery.get(p.queryId);
      if (!q) byQuery.set(p.queryId, (q = { text: p.queryText, gains: new Map() }));
      q.gains.set(p.itemId, Math.round(gainOf(p)));
    }
    const scratch = new Float32Array(dim + hidden);
    const qvec = new Float32Array(dim);
    let sum = 0;
    for (const q of byQuery.values()) {
      encodeBuckets(model, model.query, qbag(q.text), qvec, 0, scratch);
      sum += ndcgAt(
        exactTopK(qvec, vectors, dim, 10).map((h) => items[h.row]!.id),
        q.gains,
        10,
      );
    }
    return byQuery.size ? sum / byQuery.size : 0;
  };

  const devJudgedNdcg = (model: TwoTowerWeights): number => {
    const byQuery = new Map<string, EmbedPair[]>();
    for (const p of dev) byQuery.set(p.queryId, [...(byQuery.get(p.queryId) ?? []), p]);
    const scratch = new Float32Array(dim + hidden);
    const qvec = new Float32Array(dim);
    const ivec = new Float32Array(dim);
    let sum = 0;
    let count = 0;
    for (const pairs of byQuery.values()) {
      encodeBuckets(model, model.query, qbag(pairs[0]!.queryText), qvec, 0, scratch);
      const gains = new Map<string, number>();
      const scored = pairs.map((p) => {
        gains.set(p.itemId, Math.round(gainOf(p)));
        encodeBuckets(model, model.item, itemBag(itemIndex.get(p.itemId)!), ivec, 0, scratch);
        let s = 0;
        for (let j = 0; j < dim; j++) s += qvec[j]! * ivec[j]!;
        return { id: p.itemId, s };
      });
      scored.sort((a, b) => b.s - a.s || (a.id < b.id ? 1 : -1));
      sum += ndcgAt(
        scored.map((x) => x.id),
        gains,
        10,
      );
      count += 1;
    }
    return count ? sum / count : 0;
  };

  // Sparse gradient of the bucket table: slot[bucket] = its row in gradBuf this batch, else -1.
  const slot = new Int32Array(cfg.hashing.buckets).fill(-1);
  const touched: number[] = [];
  let gradBuf = new Float32Array(4096 * dim);

  const history: EmbedEpoch[] = [];
  let best = snapshot();
  let bestEpoch = 0;
  let bestNdcg = devNdcg(best);
  let sinceBest = 0;
  try {
    for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
      const r = mulberry32((cfg.seed * 7919 + epoch) >>> 0);
      const pairs =
        cfg.selfPairs > 0 ? [...train, ...selfSupervised(Math.round(cfg.selfPairs * train.length), mulberry32((cfg.seed * 104729 + epoch) >>> 0))] : train;
      const order = shuffled(pairs.length, r);
      let lossSum = 0;
      let batches = 0;
      for (let s = 0; s + 1 < pairs.length; s += cfg.batchSize) {
        const e = Math.min(pairs.length, s + cfg.batchSize);
        if (e - s < 2) break;
        const b = makeBatch(pairs, order, s, e, r);
        const n = b.n;
        const hq = tf.variable(tf.tensor2d(bagMeans(b.qBags), [n, dim]), true);
        const hi = tf.variable(tf.tensor2d(bagMeans(b.iBags), [2 * n, dim]), true);
        const { value, grads } = tf.variableGrads(() => lossTf(hq, hi, b), [...towerList, hq, hi]);
        const gq = grads[hq.name]!.dataSync() as Float32Array;
        const gi = grads[hi.name]!.dataSync() as Float32Array;
        optimizer.applyGradients(towerList.map((t) => ({ name: t.name, tensor: grads[t.name]! })));
        lossSum += value.dataSync()[0]!;
        batches += 1;
        for (const t of Object.values(grads)) t.dispose();
        value.dispose();
        hq.dispose();
        hi.dispose();
        // The bag mean is linear: each bucket of a bag gets the bag's gradient × idf_b / Σ idf.
        touched.length = 0;
        const route = (bagsOf: Int32Array[], g: Float32Array) =>
          bagsOf.forEach((bag, row) => {
            let wsum = 0;
            for (let k = 0; k < bag.length; k++) wsum += idf[bag[k]!]!;
            if (wsum <= 0) return;
            for (let k = 0; k < bag.length; k++) {
              const id = bag[k]!;
              const inv = idf[id]! / wsum;
              let at = slot[id]!;
              if (at < 0) {
                at = slot[id] = touched.length;
                touched.push(id);
                if (gradBuf.length < touched.length * dim) {
                  const bigger = new Float32Array(gradBuf.length * 2);
                  bigger.set(gradBuf);
                  gradBuf = bigger;
                }
                gradBuf.fill(0, at * dim, (at + 1) * dim);
              }
              const base = at * dim;
              for (let j = 0; j < dim; j++) gradBuf[base + j]! += g[row * dim + j]! * inv;
            }
          });
        route(b.qBags, gq);
        route(b.iBags, gi);
        for (let t = 0; t < touched.length; t++) {
          const id = touched[t]!;
          slot[id] = -1;
          for (let j = 0; j < dim; j++) {
            const k = id * dim + j;
            const gk = gradBuf[t * dim + j]!;
            acc[k]! += gk * gk;
            table[k]! -= (cfg.tableLearningRate * gk) / Math.sqrt(acc[k]!);
          }
        }
      }
      const trainLoss = lossSum / Math.max(1, batches);
      const devLoss = devLossOf();
      const model = snapshot();
      const ndcg = devNdcg(model);
      if (!Number.isFinite(trainLoss) || !Number.isFinite(devLoss)) {
        throw new DistilrankError('TRAINING_FAILED', `embedding training diverged at epoch ${epoch}: train loss ${trainLoss}, dev loss ${devLoss}`, {
          hint: 'lower --learning-rate',
        });
      }
      const stats = { epoch, trainLoss, devLoss, devNdcg10: ndcg };
      history.push(stats);
      input.onEpoch?.(stats);
      if (ndcg > bestNdcg) {
        bestNdcg = ndcg;
        bestEpoch = epoch;
        best = model;
        sinceBest = 0;
      } else if (++sinceBest >= cfg.patience) {
        break;
      }
    }
  } finally {
    for (const v of towerList) v.dispose();
    optimizer.dispose();
  }

  const vectors = encodeItems(
    best,
    items.map((_, i) => itemBag(i)),
  );
  return { model: best, config: cfg, history, bestEpoch, itemIds: items.map((it) => it.id), vectors, seconds: (performance.now() - t0) / 1000, backend };

  /** `n` self-supervised pairs: random items (with a title of at least one word), pseudo-queries from their titles. */
  function selfSupervised(n: number, r: () => number): EmbedPair[] {
    const out: EmbedPair[] = [];
    for (let t = 0; out.length < n && t < 4 * n; t++) {
      const i = Math.floor(r() * items.length);
      const words = titleWords[i] ?? (titleWords[i] = tokenize(items[i]!.title));
      if (!words.length) continue;
      const len = 1 + Math.floor(r() * Math.min(cfg.selfMaxWords, words.length));
      // `len` distinct positions, kept in title order
      const picked = shuffled(words.length, r).subarray(0, len).sort();
      const text = Array.from(picked, (k) => words[k]!).join(' ');
      out.push({ queryId: `\u0000self:${i}`, queryText: text, itemId: items[i]!.id, gain: 4, weight: cfg.selfWeight });
    }
    return out;
  }

  function devLossOf(): number {
    if (dev.length < 2) return 0;
    const r = mulberry32(cfg.seed ^ 0x5bd1e995);
    const order = Uint32Array.from({ length: dev.length }, (_, i) => i);
    let sum = 0;
    let batches = 0;
    for (let s = 0; s + 1 < dev.length; s += cfg.batchSize) {
      const e = Math.min(dev.length, s + cfg.batchSize);
      if (e - s < 2) break;
      const b = makeBatch(dev, order, s, e, r);
      const loss = tf.tidy(() => lossTf(tf.tensor2d(bagMeans(b.qBags), [b.n, dim]), tf.tensor2d(bagMeans(b.iBags), [2 * b.n, dim]), b));
      sum += loss.dataSync()[0]!;
      loss.dispose();
      batches += 1;
    }
    return sum / Math.max(1, batches);
  }
}
