/**
 * What every command shares: the global options, opening the store (ingesting a built-in data set on
 * first use), option parsers, evaluating a model, the result table. Stage commands live in their own
 * files and register themselves through a `register…Commands(program, g)` function (see main.ts).
 */
import { resolve } from 'node:path';
import { DATASETS, datasetAdapter, resolveDatasetDir, type DatasetBundle } from '../ingest/index.ts';
import { DistilrankError, fmt, table } from '../core/index.ts';
import { evaluate, evaluateLabels, parseProtocol, DEFAULT_MEASURES, type EvalReport, type Protocol } from '../eval/index.ts';
import { writeRun } from '../metrics/index.ts';
import { DEFAULT_CANDIDATES } from '../student/index.ts';
import { LabelCache, readTeacherLabels } from '../label/index.ts';
import { createTeacher, type Teacher } from '../teacher/index.ts';
import { Store, type Dataset, type Split, type IngestResult } from '../store/index.ts';
import { loadModel } from '../models/index.ts';
import { createProgress } from './progress.ts';

export interface GlobalOptions {
  store: string;
  dataDir?: string;
  quiet?: boolean;
}

export const DEFAULT_STORE = '.distilrank/store.sqlite';

export function storePath(g: GlobalOptions): string {
  return resolve(g.store);
}

/** Text for stderr notes (suppressed by --quiet). */
export function note(g: GlobalOptions, text: string): void {
  if (!g.quiet) process.stderr.write(`${text}\n`);
}

/** Resolve, load and ingest a built-in data set (downloading it when public and absent). */
export async function ingestBuiltin(
  g: GlobalOptions,
  store: Store,
  name: string,
  opts: { download?: boolean; splitSeed?: string } = {},
): Promise<IngestResult> {
  const adapter = datasetAdapter(name);
  const dir = await resolveDatasetDir(name, {
    ...(g.dataDir ? { dataDir: g.dataDir } : {}),
    ...(opts.download === false ? { download: false } : {}),
  });
  note(g, `reading ${name} from ${dir}`);
  const bundle = adapter.load(dir);
  return ingestBundle(g, store, bundle, opts.splitSeed);
}

export function ingestBundle(g: GlobalOptions, store: Store, bundle: DatasetBundle, splitSeed?: string): IngestResult {
  const bar = createProgress(`ingest ${bundle.name}`, g.quiet);
  try {
    return store.ingest(bundle, { ...(splitSeed ? { splitSeed } : {}), onProgress: (d, t) => bar.update(d, t) });
  } finally {
    bar.stop();
  }
}

export function describeIngest(r: IngestResult, seconds: number): string {
  if (r.unchanged) return `${r.dataset}: already up to date (same input as the stored version)`;
  return (
    `${r.dataset}: ${r.items} items, ${r.queries} queries (train ${r.splits.train} / dev ${r.splits.dev} / test ${r.splits.test}), ` +
    `${r.judgments} judgments${r.judgmentsSkipped ? ` (${r.judgmentsSkipped} skipped by the scale mapping)` : ''}` +
    `${r.logEvents ? `, ${r.logEvents} log events` : ''} in ${seconds.toFixed(1)} s`
  );
}

/** Open the store for a data set, ingesting a built-in data set first when it is not there yet. */
export async function storeWithDataset(g: GlobalOptions, dataset: string): Promise<Store> {
  const store = Store.open(storePath(g), { create: true });
  try {
    if (!store.datasetNames().includes(dataset)) {
      if (!DATASETS[dataset]) {
        const held = store.datasetNames();
        throw new DistilrankError(
          'STORE_NOT_FOUND',
          `data set "${dataset}" is not in the store ${store.path}${held.length ? ` (the store holds: ${held.join(', ')})` : ''}`,
          {
            hint: `ingest your own files with \`distilrank ingest --name ${dataset} --items … --queries … --judgments … --scale …\`; built-in data sets (ingested on first use): ${Object.keys(DATASETS).join(', ')}`,
          },
        );
      }
      note(g, `${dataset} is not in the store yet: ingesting it first`);
      const t0 = performance.now();
      note(g, describeIngest(await ingestBuiltin(g, store, dataset), (performance.now() - t0) / 1000));
    }
    return store;
  } catch (e) {
    store.close();
    throw e;
  }
}

export function protocolsOf(spec: string): Protocol[] {
  return spec === 'both' ? ['rerank', 'retrieval'] : [parseProtocol(spec)];
}

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw new DistilrankError('BAD_OPTION', `--${name} must be a positive integer, got "${v}"`, { field: name, hint: `e.g. --${name} 100` });
    }
    return n;
  };
}

export const LABEL_COLUMNS = ['accuracy', 'kappa_quadratic', 'RMSE_expected_level'] as const;

/** Which retriever a re-ranking model's candidates came from: `student@hybrid` → hybrid, else bm25. */
function candidateSource(model: string): string {
  const at = model.lastIndexOf('@');
  return at > 0 && /^student/.test(model) && !model.startsWith('student:') ? model.slice(at + 1) : 'bm25';
}

export function reportTable(reports: readonly EvalReport[], measures: readonly string[] = DEFAULT_MEASURES): string {
  const labels = reports.some((r) => r.levels) ? LABEL_COLUMNS : [];
  return table(
    ['model', 'protocol', 'queries', ...measures, ...labels, 'p50 ms', 'p99 ms'],
    reports.map((r) => [
      r.model,
      r.candidates ? `${r.protocol} (${candidateSource(r.model)}@${r.candidates})` : r.protocol,
      String(r.queries),
      ...measures.map((m) => fmt(r.metrics[m] ?? NaN)),
      ...labels.map((m) => (r.metrics[m] === undefined ? '' : fmt(r.metrics[m]))),
      fmt(r.latencyMs.p50, 2),
      fmt(r.latencyMs.p99, 2),
    ]),
  );
}

export interface EvaluateModelOptions {
  model: string;
  split: Split;
  protocols: Protocol[];
  depth?: number;
  candidates?: number;
  measures?: readonly string[];
  labels?: boolean;
  judgmentSet?: string;
  runFile?: string;
  onReport?: (r: EvalReport) => void;
}

/** Evaluate one model under the given protocols; label metrics join the rerank report. */
export async function evaluateModel(g: GlobalOptions, dataset: Dataset, o: EvaluateModelOptions): Promise<EvalReport[]> {
  const model = await loadModel(o.model, dataset, {
    ...(o.candidates ? { candidates: o.candidates } : {}),
    ...(o.judgmentSet ? { judgmentSet: o.judgmentSet } : {}),
  });
  const isStudent = o.model.startsWith('student');
  try {
    const reports: EvalReport[] = [];
    for (const protocol of o.protocols) {
      const bar = createProgress(`eval ${o.model} ${protocol}`, g.quiet);
      const ev = await evaluate({
        dataset,
        split: o.split,
        protocol,
        ranker: model.ranker,
        ...(o.depth ? { depth: o.depth } : {}),
        ...(o.measures ? { measures: o.measures } : {}),
        ...(o.judgmentSet ? { judgmentSet: o.judgmentSet } : {}),
        onProgress: (d, t) => bar.update(d, t),
      });
      bar.stop();
      if (isStudent && protocol === 'retrieval') ev.report.candidates = o.candidates ?? DEFAULT_CANDIDATES;
      if (protocol === 'rerank' && (o.labels || isStudent)) {
        const predictor = await model.levels();
        const lab = await evaluateLabels({ dataset, split: o.split, predictor, ...(o.judgmentSet ? { judgmentSet: o.judgmentSet } : {}) });
        Object.assign(ev.report.metrics, lab.metrics);
        ev.report.levels = { from: predictor.name, pairs: lab.pairs, confusion: lab.confusion };
      }
      if (o.runFile) {
        writeRun(o.runFile, ev.run, `distilrank-${o.model.replace(/[^A-Za-z0-9_.-]/g, '_')}-${protocol}`);
        note(g, `wrote run ${o.runFile}`);
      }
      o.onReport?.(ev.report);
      reports.push(ev.report);
    }
    return reports;
  } finally {
    await model.close();
  }
}

/** A teacher's labels for training (its newest label set, or `labelSet`), as `train` and `embed` read them. */
export function loadTeacherLabels(
  dataset: Dataset,
  teacherName: string,
  weight: number,
  limit: number | undefined,
  cachePath: string | undefined,
  labelSet?: string,
) {
  return readTeacherLabels({
    dataset,
    teacher: teacherName,
    weight,
    ...(limit !== undefined ? { limit } : {}),
    ...(cachePath !== undefined ? { cachePath } : {}),
    ...(labelSet !== undefined ? { labelSet } : {}),
  });
}

/** The store, a teacher for one of its data sets, and the label cache: what `label` and `teacher eval` work with. */
export async function openTeacherJob(
  g: GlobalOptions,
  name: string,
  teacherName: string,
  cachePath: string | undefined,
): Promise<{ store: Store; dataset: Dataset; teacher: Teacher; cache: LabelCache }> {
  const store = await storeWithDataset(g, name);
  try {
    const dataset = store.dataset(name);
    const teacher = createTeacher(teacherName, { dataset });
    return { store, dataset, teacher, cache: LabelCache.open(resolve(cachePath ?? LabelCache.defaultPath(store.path)), { create: true }) };
  } catch (e) {
    store.close();
    throw e;
  }
}
