/**
 * `distilrank embed`: train the two-tower embeddings of a data set (artifact beside the store), and
 * export item (and optionally query) vectors as JSONL or NumPy .npy for use elsewhere.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic, DistilrankError, unknownName, fmt } from '../core/index.ts';
import {
  DEFAULT_EMBED_CONFIG,
  DEFAULT_HASHING,
  Embeddings,
  defaultEmbedDir,
  hasEmbedArtifact,
  trainEmbeddingsForDataset,
  type EmbedCard,
} from '../embed/index.ts';
import { Bm25Ranker, negativePool } from '../retrieve/index.ts';
import { parseSplit, type Store } from '../store/index.ts';
import { TEACHERS } from '../teacher/index.ts';
import { loadTeacherLabels, note, positiveInt, storeWithDataset, type GlobalOptions } from './common.ts';
import { createProgress } from './progress.ts';

export const EMBED_EXPORT_FORMATS = ['jsonl', 'npy'] as const;
const NEGATIVE_DEPTH = 200;

interface EmbedOptions {
  dataset: string;
  labels: string;
  teacher: string;
  teacherWeight: number;
  teacherPairs?: number;
  labelSet?: string;
  cache?: string;
  judgments?: string;
  epochs?: number;
  seed?: number;
  dim?: number;
  buckets?: number;
  negatives: boolean;
  out?: string;
  export?: string;
  format: string;
  queries?: string;
}

export function registerEmbedCommands(program: Command, g: () => GlobalOptions): void {
  program
    .command('embed')
    .description(
      'train the relevance-tuned two-tower embeddings (hashed word + character n-grams; item vectors offline, HNSW index); with --export, write the vectors out',
    )
    .requiredOption('--dataset <name>', 'data set')
    .option('--labels <which>', 'training labels: human, or human+teacher (adds the teacher soft labels of the label cache)', 'human')
    .option('--teacher <name>', `with human+teacher: the teacher whose labels to use (${Object.keys(TEACHERS).join(', ')})`, 'llm')
    .option('--teacher-weight <x>', 'with human+teacher: loss weight of a teacher-labelled pair (a human pair weighs 1)', (v) => Number(v), 1)
    .option('--teacher-pairs <n>', 'with human+teacher: use at most this many teacher labels (a seeded sample)', positiveInt('teacher-pairs'))
    .option('--label-set <id>', "with human+teacher: the teacher's label set to read (default: its most recently written one)")
    .option('--cache <file>', 'label cache (default: labels.sqlite beside the store)')
    .option('--judgments <set>', "judgment set (default: the data set's default)")
    .option('--epochs <n>', `maximum epochs (early stopping on dev nDCG@10 decides; default ${DEFAULT_EMBED_CONFIG.epochs})`, positiveInt('epochs'))
    .option('--seed <n>', `random seed (default ${DEFAULT_EMBED_CONFIG.seed})`, positiveInt('seed'))
    .option('--dim <n>', `vector width (default ${DEFAULT_EMBED_CONFIG.dim})`, positiveInt('dim'))
    .option('--buckets <n>', `hash buckets, a power of two (default ${DEFAULT_HASHING.buckets})`, positiveInt('buckets'))
    .option('--no-negatives', `no sampled negatives from BM25's top ${NEGATIVE_DEPTH} (faster; in-batch negatives only)`)
    .option('--out <dir>', 'artifact folder (default: beside the store, models/DATASET/embed)')
    .option('--export <file>', 'write the item vectors to FILE (trains first only when there is no artifact yet)')
    .option('--format <fmt>', `export format: ${EMBED_EXPORT_FORMATS.join(' or ')} (npy: FILE holds items × dim float32, ids in FILE.ids.json)`, 'jsonl')
    .option('--queries <split>', 'with --export: also the query vectors of this split (train, dev, test or all)')
    .action(async (o: EmbedOptions) => {
      if (o.labels !== 'human' && o.labels !== 'human+teacher') throw unknownName('label source', o.labels, ['human', 'human+teacher']);
      if (!(EMBED_EXPORT_FORMATS as readonly string[]).includes(o.format)) throw unknownName('format', o.format, EMBED_EXPORT_FORMATS);
      if (o.queries !== undefined && o.queries !== 'all') parseSplit(o.queries);
      if (o.buckets !== undefined && (!Number.isInteger(Math.log2(o.buckets)) || o.buckets < 2 || o.buckets > 2 ** 24)) {
        throw new DistilrankError('BAD_OPTION', `--buckets must be a power of two between 2 and 2^24, got ${o.buckets}`, {
          field: 'buckets',
          hint: 'e.g. --buckets 262144',
        });
      }
      if (!(o.teacherWeight > 0))
        throw new DistilrankError('BAD_OPTION', `--teacher-weight must be positive, got ${o.teacherWeight}`, {
          field: 'teacher-weight',
          hint: 'e.g. --teacher-weight 0.5',
        });
      const store = await storeWithDataset(g(), o.dataset);
      try {
        const dir = resolve(o.out ?? defaultEmbedDir(store.path, o.dataset));
        if (!o.export || !hasEmbedArtifact(dir)) {
          if (o.export) note(g(), `no embedding artifact in ${dir} yet: training one first`);
          const card = await train(g, store, o, dir);
          const m = Object.entries(card.metrics).map(([k, v]) => `${k} ${fmt(v)}`);
          console.log(
            `trained embeddings ${card.id} on ${o.dataset} (${card.labels} labels): ${card.data.train.human} human + ${card.data.train.teacher} teacher train pairs, ` +
              `dim ${card.config.dim}, best epoch ${card.training.bestEpoch} of ${card.training.epochs}, ${card.training.seconds.toFixed(1)} s`,
          );
          console.log(`dev: ${m.join(', ')}; ${card.items} item vectors, HNSW index built in ${card.index.buildSeconds.toFixed(1)} s; artifact: ${dir}`);
          if (card.fusion) {
            const w = card.fusion.weights;
            const chosen = card.fusion.grid.find((r) => r.bm25 === w.bm25 && r.vector === w.vector);
            console.log(
              `hybrid fusion: weights bm25 ${w.bm25}, vector ${w.vector} (dev nDCG@10 ${fmt(chosen?.devNdcg10 ?? NaN)} on ${card.fusion.queries} dev queries; ` +
                `tried ${card.fusion.grid.map((r) => `${r.bm25}/${r.vector}: ${fmt(r.devNdcg10)}`).join(', ')})`,
            );
          }
        }
        if (o.export) exportVectors(store, o, dir, resolve(o.export));
      } finally {
        store.close();
      }
    });
}

async function train(g: () => GlobalOptions, store: Store, o: EmbedOptions, dir: string): Promise<EmbedCard> {
  const dataset = store.dataset(o.dataset);
  const teacher = o.labels === 'human+teacher' ? loadTeacherLabels(dataset, o.teacher, o.teacherWeight, o.teacherPairs, o.cache, o.labelSet) : undefined;
  if (teacher) note(g(), `distillation: ${teacher.labels.length} labels of teacher ${teacher.name} (${teacher.model}) at weight ${teacher.weight}`);
  const epochs = o.epochs ?? DEFAULT_EMBED_CONFIG.epochs;
  const bar = createProgress('train embeddings (epochs)', g().quiet);
  try {
    const { card } = await trainEmbeddingsForDataset({
      dataset,
      dir,
      ...(o.judgments ? { judgmentSet: o.judgments } : {}),
      ...(teacher ? { teacher } : {}),
      ...(o.negatives ? { negativePool: negativePool(dataset, NEGATIVE_DEPTH), negativeDepth: NEGATIVE_DEPTH } : {}),
      lexical: new Bm25Ranker(dataset),
      config: {
        epochs,
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.dim !== undefined ? { dim: o.dim } : {}),
        ...(o.buckets !== undefined ? { hashing: { ...DEFAULT_HASHING, buckets: o.buckets } } : {}),
      },
      onStage: (stage) => note(g(), `embed: ${stage}`),
      onEpoch: (e) => {
        bar.update(e.epoch, epochs);
        note(g(), `embed: epoch ${e.epoch} train loss ${fmt(e.trainLoss)}, dev loss ${fmt(e.devLoss)}, dev nDCG@10 ${fmt(e.devNdcg10)}`);
      },
    });
    return card;
  } finally {
    bar.stop();
  }
}

/** NumPy .npy v1.0: magic, header dict padded to a multiple of 64 bytes, then row-major little-endian float32. */
export function npyBytes(data: Float32Array, rows: number, cols: number): Uint8Array[] {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += `${' '.repeat(pad % 64)}\n`;
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  return [pre, Buffer.from(header, 'latin1'), new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

function exportVectors(store: Store, o: EmbedOptions, dir: string, file: string): void {
  const dataset = store.dataset(o.dataset);
  const e = Embeddings.forDataset(dataset, { dir, cacheSize: 0 });
  const queries = o.queries === undefined ? [] : dataset.storedQueries(o.queries === 'all' ? undefined : parseSplit(o.queries));
  const qvec = new Float32Array(queries.length * e.dim);
  queries.forEach((q, i) => qvec.set(e.queries.encode(q.text), i * e.dim));
  const round = (v: Float32Array) => Array.from(v, (x) => Number(x.toPrecision(7)));
  if (o.format === 'jsonl') {
    writeFileAtomic(
      file,
      (function* () {
        yield `${JSON.stringify({ kind: 'meta', embedding: e.id, dataset: o.dataset, dim: e.dim, items: e.itemIds.length, queries: queries.length, metric: 'cosine (unit vectors: dot product)' })}\n`;
        for (let i = 0; i < e.itemIds.length; i++)
          yield `${JSON.stringify({ kind: 'item', id: e.itemIds[i], vector: round(e.vectors.subarray(i * e.dim, (i + 1) * e.dim)) })}\n`;
        for (let i = 0; i < queries.length; i++)
          yield `${JSON.stringify({ kind: 'query', id: queries[i]!.id, text: queries[i]!.text, vector: round(qvec.subarray(i * e.dim, (i + 1) * e.dim)) })}\n`;
      })(),
    );
  } else {
    writeFileAtomic(file, npyBytes(e.vectors, e.itemIds.length, e.dim));
    writeFileAtomic(`${file}.ids.json`, `${JSON.stringify({ embedding: e.id, dataset: o.dataset, ids: e.itemIds })}\n`);
    if (queries.length) {
      writeFileAtomic(`${file}.queries.npy`, npyBytes(qvec, queries.length, e.dim));
      writeFileAtomic(`${file}.queries.ids.json`, `${JSON.stringify({ embedding: e.id, dataset: o.dataset, ids: queries.map((q) => q.id) })}\n`);
    }
  }
  console.log(
    `exported ${e.itemIds.length} item${queries.length ? ` and ${queries.length} query` : ''} vectors (embedding ${e.id}, dim ${e.dim}, ${o.format}) to ${file}`,
  );
}
