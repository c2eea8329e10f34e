/**
 * The `distilrank` command line. Each command is a thin layer over a stage's public surface; errors a
 * user can cause print `error[CODE]: file:line: field: message` and a hint, never a stack trace.
 * Commands shared helpers live in common.ts; a stage with several commands registers them from its
 * own file (see STAGE_COMMANDS below).
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { DATASETS, parseScale, loadItems, loadJudgments, loadLogEvents, loadQueries, type Loaded, type DatasetBundle, type Sourced } from '../ingest/index.ts';
import { DistilrankError, isDistilrankError, unknownName, fmt, table } from '../core/index.ts';
import { confusionSection, confusionSvg, evalTableSection, evaluate, writeHtmlReport, splitQrels, DEFAULT_MEASURES, type EvalReport } from '../eval/index.ts';
import { parseMeasure, writeQrels } from '../metrics/index.ts';
import { createRanker, RANKERS, checkModelName, loadModel, MODEL_NAMES } from '../models/index.ts';
import {
  DEFAULT_CANDIDATES,
  DEFAULT_NEGATIVES,
  STUDENT_MLP_CONFIG,
  defaultStudentDir,
  trainStudent,
  writeStudentArtifact,
  type StudentRanker,
} from '../student/index.ts';
import { buildPool, DEFAULT_CONCURRENCY, exportBatch, importBatch, runLabelJob } from '../label/index.ts';
import { LlmTeacher, TEACHERS, trainLocalTeacher, type Teacher } from '../teacher/index.ts';
import { evaluateTeacher, DEFAULT_MULTIPLES, formatStudy, studySections } from '../studies/index.ts';
import { checkDatasetName, parseSplit, Store, type IngestResult } from '../store/index.ts';
import {
  DEFAULT_STORE,
  describeIngest,
  evaluateModel,
  ingestBuiltin,
  ingestBundle,
  loadTeacherLabels,
  note,
  openTeacherJob,
  positiveInt,
  protocolsOf,
  reportTable,
  storePath,
  storeWithDataset,
  type GlobalOptions,
} from './common.ts';
import { registerDistillCommands, runStudy } from './distill-commands.ts';
import { registerEmbedCommands } from './embed-commands.ts';
import { registerEnrichCommands } from './enrich-commands.ts';
import { createProgress } from './progress.ts';
import { fieldSources, registerRepresentCommands } from './represent-commands.ts';
import { readRepresentation } from '../enrich/index.ts';
import { announceAndWait, registerServeCommands } from './serve-commands.ts';
import { startServer } from '../serve/index.ts';

export { DEFAULT_STORE, LABEL_COLUMNS, reportTable } from './common.ts';

/** Stage commands registered from their own files: `(program, globalOptions) => void`. */
type RegisterCommands = (program: Command, g: () => GlobalOptions) => void;
const STAGE_COMMANDS: readonly RegisterCommands[] = [
  registerDistillCommands,
  registerRepresentCommands,
  registerServeCommands,
  registerEnrichCommands,
  registerEmbedCommands,
];

export function buildProgram(): Command {
  const program = new Command('distilrank')
    .description('LLM search relevance, distilled: human judgments → LLM teacher → small fast student → ranked search')
    .version('0.1.0')
    .addOption(new Option('--store <path>', 'store file (SQLite)').env('DISTILRANK_STORE').default(DEFAULT_STORE))
    .addOption(new Option('--data-dir <dir>', 'folder holding one subfolder per data set').env('DISTILRANK_DATA_DIR'))
    .option('-q, --quiet', 'no progress or notes on stderr')
    .showHelpAfterError('(run with --help for usage)');

  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  program
    .command('ingest')
    .description('load a built-in data set (--dataset) or your own files (--name with --items/--queries/--judgments) into the store')
    .option('--dataset <name>', `built-in data set: ${Object.keys(DATASETS).join(', ')}`)
    .option('--name <name>', 'name for your own data set')
    .option('--items <file>', 'items (.jsonl or .csv)')
    .option('--queries <file>', 'queries (.tsv or .jsonl)')
    .option('--judgments <file>', 'judgments (TREC qrels, or .csv query_id,item_id,grade[,rater])')
    .option('--logs <file>', 'search-log events (.jsonl)')
    .option(
      '--scale <spec>',
      'native scale of your judgments: a name (levels-1-5, graded-0-4, quepid-0-3, trec-0-2, binary-0-1) or GRADE:LEVEL pairs, e.g. 0:1,1:3,2:4,3:5',
    )
    .option('--description <text>', 'one line describing your data set')
    .option('--split-seed <seed>', 'seed of the train/dev/test split by query')
    .option('--no-download', 'never download a missing public data set')
    .action(
      async (o: {
        dataset?: string;
        name?: string;
        items?: string;
        queries?: string;
        judgments?: string;
        logs?: string;
        scale?: string;
        description?: string;
        splitSeed?: string;
        download: boolean;
      }) => {
        const store = Store.open(storePath(g()), { create: true });
        try {
          const t0 = performance.now();
          let result: IngestResult;
          if (o.dataset) {
            const stray = (['name', 'items', 'queries', 'judgments', 'logs', 'scale', 'description'] as const).filter((f) => o[f] !== undefined);
            if (stray.length) {
              throw new DistilrankError(
                'BAD_OPTION',
                `--dataset loads a built-in data set; --${stray.join(', --')} ${stray.length > 1 ? 'are' : 'is'} for your own files`,
                {
                  field: 'dataset',
                  hint: 'give either --dataset NAME, or --name with --items, --queries, --judgments and --scale',
                },
              );
            }
            result = await ingestBuiltin(g(), store, o.dataset, { download: o.download, ...(o.splitSeed ? { splitSeed: o.splitSeed } : {}) });
          } else {
            for (const [flag, v] of [
              ['name', o.name],
              ['items', o.items],
              ['queries', o.queries],
              ['judgments', o.judgments],
              ['scale', o.scale],
            ] as const) {
              if (!v) {
                throw new DistilrankError('BAD_OPTION', `--${flag} is required to ingest your own files`, {
                  field: flag,
                  hint: 'e.g. distilrank ingest --name shop --items items.jsonl --queries queries.tsv --judgments qrels.txt --scale graded-0-4 (or --dataset NAME for a built-in one)',
                });
              }
            }
            checkDatasetName(o.name!);
            const scale = parseScale(o.scale!);
            const sourced = <T>(l: Loaded<T>): Array<Sourced<T>> => l.records.map((r, i) => ({ ...r, origin: { file: l.file, line: l.lines[i]! } }));
            const items = loadItems(o.items!);
            const queries = loadQueries(o.queries!);
            const judgments = loadJudgments(o.judgments!);
            const setName = 'default';
            const bundle: DatasetBundle = {
              name: o.name!,
              description: o.description ?? `user data set ${o.name}`,
              source: [o.items, o.queries, o.judgments, o.logs]
                .filter(Boolean)
                .map((p) => resolve(p!))
                .join(', '),
              mapping: scale,
              defaultJudgmentSet: setName,
              items: sourced(items),
              queries: sourced(queries),
              judgments: sourced(judgments).map((j) => ({ ...j, source: setName })),
              ...(o.logs ? { logEvents: sourced(loadLogEvents(o.logs)) } : {}),
            };
            result = ingestBundle(g(), store, bundle, o.splitSeed);
          }
          console.log(describeIngest(result, (performance.now() - t0) / 1000));
        } finally {
          store.close();
        }
      },
    );

  program
    .command('datasets')
    .description('list the data sets in the store, with their scale mappings and splits')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const store = Store.open(storePath(g()), { create: true });
      try {
        const infos = store.datasetNames().map((n) => store.dataset(n));
        if (o.json) return console.log(JSON.stringify(infos, null, 2));
        if (!infos.length) return console.log(`the store ${store.path} is empty: run \`distilrank ingest --dataset NAME\``);
        for (const d of infos) {
          console.log(`${d.name}: ${d.description}`);
          console.log(
            `  ${d.items} items, ${d.queries} queries, ${d.judgments} judgments (sets: ${d.judgmentSets.join(', ')}; default ${d.defaultJudgmentSet})`,
          );
          console.log(`  split seed "${d.splitSeed}" ${JSON.stringify(d.splitFractions)}; BM25 field weights ${JSON.stringify(d.fieldWeights)}`);
          console.log(`  scale ${d.scale.name}: ${d.scale.description}`);
          for (const r of d.scale.rows) console.log(`    ${r.native.padStart(5)} → ${r.level === null ? 'dropped' : `L${r.level}`}  ${r.note}`);
        }
      } finally {
        store.close();
      }
    });

  program
    .command('eval')
    .description('evaluate a model on a split under a named protocol')
    .requiredOption('--dataset <name>', 'data set')
    .option('--model <name>', `model: ${MODEL_NAMES.join(', ')}`, 'bm25')
    .option('--protocol <name>', 'rerank, retrieval or both', 'both')
    .option('--split <name>', 'train, dev or test', 'test')
    .option('--judgments <set>', "judgment set (default: the data set's default)")
    .option('--depth <n>', 'retrieval depth', positiveInt('depth'), 100)
    .option('--candidates <n>', 'retrieval: BM25 candidates a student re-ranks', positiveInt('candidates'), DEFAULT_CANDIDATES)
    .option('--metrics <list>', 'comma-separated measure names', DEFAULT_MEASURES.join(','))
    .option('--labels', 'also label metrics (accuracy, κ, RMSE) under rerank; rankers are calibrated to levels on train (always on for a student)')
    .option('--run <file>', 'write the TREC run that was scored (one protocol only)')
    .option('--json', 'print one JSON object per protocol')
    .action(
      async (o: {
        dataset: string;
        model: string;
        protocol: string;
        split: string;
        judgments?: string;
        depth: number;
        candidates: number;
        metrics: string;
        labels?: boolean;
        run?: string;
        json?: boolean;
      }) => {
        const split = parseSplit(o.split);
        const protocols = protocolsOf(o.protocol);
        if (o.run && protocols.length > 1) {
          throw new DistilrankError('BAD_OPTION', '--run needs a single protocol', { field: 'run', hint: 'add --protocol rerank or --protocol retrieval' });
        }
        const measures = o.metrics
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        measures.forEach(parseMeasure); // fail on a bad name before any work
        checkModelName(o.model);
        if (o.candidates < o.depth) {
          throw new DistilrankError('BAD_OPTION', `--candidates ${o.candidates} is below --depth ${o.depth}`, {
            field: 'candidates',
            hint: 'a re-ranker returns at most as many items as it re-ranks: give --candidates of at least --depth',
          });
        }
        const store = await storeWithDataset(g(), o.dataset);
        try {
          const dataset = store.dataset(o.dataset);
          const reports = await evaluateModel(g(), dataset, {
            model: o.model,
            split,
            protocols,
            depth: o.depth,
            candidates: o.candidates,
            measures,
            labels: Boolean(o.labels),
            ...(o.judgments ? { judgmentSet: o.judgments } : {}),
            ...(o.run ? { runFile: o.run } : {}),
            onReport: (r) => {
              if (o.json) console.log(JSON.stringify(r));
            },
          });
          if (!o.json) {
            console.log(`${o.dataset}, split ${split}, judgments ${reports[0]!.judgmentSet}; gains L1=0 … L5=4; rel=3 means L4 and up`);
            console.log(reportTable(reports, measures));
          }
        } finally {
          store.close();
        }
      },
    );

  program
    .command('train')
    .description('train the student (an MLP over query–item features) on soft relevance labels; writes an ONNX artifact with its model card')
    .requiredOption('--dataset <name>', 'data set')
    .option('--labels <which>', 'training labels: human, or human+teacher (distillation: adds the teacher labels of the label cache)', 'human')
    .option('--teacher <name>', `with human+teacher: the teacher whose labels to use (${Object.keys(TEACHERS).join(', ')})`, 'llm')
    .option('--teacher-weight <x>', 'with human+teacher: loss weight of a teacher-labelled pair (a human pair weighs 1)', (v) => Number(v), 1)
    .option('--teacher-pairs <n>', 'with human+teacher: use at most this many teacher labels (a seeded sample)', positiveInt('teacher-pairs'))
    .option('--label-set <id>', "with human+teacher: the teacher's label set to read (default: its most recently written one)")
    .option('--judgments <set>', "judgment set (default: the data set's default)")
    .option('--out <dir>', 'artifact folder (default: beside the store, models/DATASET/student-LABELS)')
    .option('--epochs <n>', 'maximum epochs (early stopping on dev decides)', positiveInt('epochs'))
    .option('--seed <n>', 'random seed', (v) => Number(v))
    .option('--negatives <n>', 'unjudged BM25 candidates per training query used as L1 rows (default: 20 with human labels, 0 with teacher labels)', (v) =>
      Number(v),
    )
    .option('--cache <file>', 'label cache (default: labels.sqlite beside the store)')
    .option(
      '--embedding',
      "add the two-tower cosine feature (twotower_cosine) from the data set's embeddings (`distilrank embed` writes them beside the store); eval and serve then load the student with those embeddings",
    )
    .action(
      async (o: {
        negatives?: number;
        dataset: string;
        labels: string;
        teacher: string;
        teacherWeight: number;
        teacherPairs?: number;
        labelSet?: string;
        judgments?: string;
        out?: string;
        epochs?: number;
        seed?: number;
        cache?: string;
        embedding?: boolean;
      }) => {
        if (o.labels !== 'human' && o.labels !== 'human+teacher') throw unknownName('label source', o.labels, ['human', 'human+teacher']);
        if (o.negatives !== undefined && !(Number.isInteger(o.negatives) && o.negatives >= 0)) {
          throw new DistilrankError('BAD_OPTION', `--negatives must be a whole number ≥ 0, got ${o.negatives}`, {
            field: 'negatives',
            hint: 'e.g. --negatives 20',
          });
        }
        if (!(o.teacherWeight > 0))
          throw new DistilrankError('BAD_OPTION', `--teacher-weight must be positive, got ${o.teacherWeight}`, {
            field: 'teacher-weight',
            hint: 'e.g. --teacher-weight 0.5',
          });
        const store = await storeWithDataset(g(), o.dataset);
        try {
          const dataset = store.dataset(o.dataset);
          const out = resolve(o.out ?? defaultStudentDir(store.path, o.dataset, o.labels));
          const teacher =
            o.labels === 'human+teacher' ? loadTeacherLabels(dataset, o.teacher, o.teacherWeight, o.teacherPairs, o.cache, o.labelSet) : undefined;
          if (teacher) note(g(), `distillation: ${teacher.labels.length} labels of teacher ${teacher.name} (${teacher.model}) at weight ${teacher.weight}`);
          const bar = createProgress('train student (epochs)', g().quiet);
          const t0 = performance.now();
          const trained = await trainStudent({
            dataset,
            labels: o.labels as 'human' | 'human+teacher',
            ...(teacher ? { teacher } : {}),
            ...(o.negatives !== undefined ? { negatives: { ...DEFAULT_NEGATIVES, perQuery: o.negatives } } : {}),
            ...(o.judgments ? { judgmentSet: o.judgments } : {}),
            ...(o.embedding ? { embedding: 'default' as const } : {}),
            config: { ...(o.epochs ? { epochs: o.epochs } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) },
            onStage: (stage) => note(g(), `train: ${stage}`),
            onEpoch: (e) => bar.update(e.epoch, o.epochs ?? STUDENT_MLP_CONFIG.epochs),
          });
          bar.stop();
          writeStudentArtifact(out, trained.onnx, trained.card);
          const c = trained.card;
          console.log(
            `trained student on ${o.dataset} (${c.labels} labels): ${c.split.train.pairs} train pairs / ${c.split.dev.pairs} dev pairs, ` +
              `${c.features.length} features${c.embedding ? ` (twotower_cosine from embeddings ${c.embedding.id})` : ''}, best epoch ${c.training.bestEpoch} of ${c.training.epochs}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
          );
          console.log(
            `dev: ${Object.entries(c.metrics)
              .map(([k, v]) => `${k.replace(/^dev /, '')} ${fmt(v)}`)
              .join(', ')}`,
          );
          console.log(`ONNX parity (max |Δp| on dev): ${c.onnxParityMaxAbsDiff.toExponential(2)}; artifact: ${out}`);
        } finally {
          store.close();
        }
      },
    );

  program
    .command('explain')
    .description("show which features pushed the student's score for one (query, item) pair up or down")
    .requiredOption('--dataset <name>', 'data set')
    .requiredOption('--query <text>', 'query text')
    .requiredOption('--item <id>', 'item id')
    .option('--model <name>', 'student or student:PATH', 'student')
    .option('--top <n>', 'features to show', positiveInt('top'), 8)
    .option('--json', 'print JSON')
    .action(async (o: { dataset: string; query: string; item: string; model: string; top: number; json?: boolean }) => {
      if (o.model !== 'student' && !o.model.startsWith('student:')) {
        throw new DistilrankError('BAD_OPTION', `only a student can explain its scores, not "${o.model}"`, {
          field: 'model',
          hint: 'use --model student or --model student:PATH',
        });
      }
      const store = await storeWithDataset(g(), o.dataset);
      try {
        const dataset = store.dataset(o.dataset);
        const model = await loadModel(o.model, dataset);
        try {
          const ex = await (model.ranker as StudentRanker).explain(o.query, o.item);
          if (o.json) return console.log(JSON.stringify(ex));
          const [item] = store.items(o.dataset, [o.item]);
          console.log(`query "${o.query}" · item ${o.item}: ${item?.title ?? ''}`);
          console.log(`expected level ${fmt(ex.expectedLevel, 2)}; P(L1…L5) = ${ex.probabilities.map((p) => fmt(p, 3)).join(' ')}`);
          console.log(
            table(
              ['feature', 'value', 'push'],
              ex.contributions.slice(0, o.top).map((c) => [c.feature, fmt(c.value, 3), `${c.contribution >= 0 ? '+' : ''}${fmt(c.contribution, 3)}`]),
            ),
          );
          console.log('push: change of the expected level caused by this feature, against its training mean');
        } finally {
          await model.close();
        }
      } finally {
        store.close();
      }
    });

  program
    .command('label')
    .description(
      'have a teacher label the unlabelled pool (top-K BM25 candidates of training or logged queries, never dev/test queries): cached, budgeted, resumable',
    )
    .requiredOption('--dataset <name>', 'data set')
    .option('--teacher <name>', `teacher: ${Object.keys(TEACHERS).join(', ')}`, 'llm')
    .option('--k <n>', 'candidates per query', positiveInt('k'), 20)
    .option('--queries <which>', 'pool queries: train, or logged (default: logged when the data set has logs)')
    .option('--concurrency <n>', 'calls in flight', positiveInt('concurrency'), DEFAULT_CONCURRENCY)
    .option('--max-calls <n>', 'budget: calls in this run', positiveInt('max-calls'))
    .option('--max-tokens <n>', 'budget: input + output tokens in this run', positiveInt('max-tokens'))
    .option('--max-usd <x>', 'budget: money in this run, at the configured prices', (v) => Number(v))
    .option('--cache <file>', 'label cache (default: labels.sqlite beside the store)')
    .option(
      '--representation <file>',
      'item text representation JSON (default: title, description, fields, attributes; see `distilrank represent`); its id joins the label cache key',
    )
    .option(
      '--export-batch <file>',
      'instead of calling the endpoint: write the uncached pairs as OpenAI batch JSONL (for vllm run-batch or a batch API), with a manifest beside it',
    )
    .option('--import-batch <file>', 'instead of calling the endpoint: read a batch output JSONL into the label cache (with --manifest)')
    .option('--manifest <file>', 'required with --import-batch: the manifest --export-batch wrote beside its file (REQUESTS.jsonl.manifest.json)')
    .action(
      async (o: {
        dataset: string;
        teacher: string;
        k: number;
        queries?: string;
        concurrency: number;
        maxCalls?: number;
        maxTokens?: number;
        maxUsd?: number;
        cache?: string;
        representation?: string;
        exportBatch?: string;
        importBatch?: string;
        manifest?: string;
      }) => {
        if (o.queries !== undefined && o.queries !== 'train' && o.queries !== 'logged') throw unknownName('pool', o.queries, ['train', 'logged']);
        if (o.maxUsd !== undefined && !(o.maxUsd > 0)) {
          throw new DistilrankError('BAD_OPTION', `--max-usd must be a positive number, got ${o.maxUsd}`, { field: 'max-usd', hint: 'e.g. --max-usd 5' });
        }
        const { store, dataset, teacher, cache } = await openTeacherJob(g(), o.dataset, o.teacher, o.cache);
        try {
          const representation = o.representation ? readRepresentation(resolve(o.representation)) : undefined;
          const pairs = buildPool(dataset, {
            k: o.k,
            ...(o.queries ? { queries: o.queries as 'train' | 'logged' } : {}),
            ...(representation
              ? {
                  representation: {
                    config: representation,
                    sources: fieldSources(
                      g(),
                      dataset,
                      representation.fields.map((f) => f.source),
                    ),
                  },
                }
              : {}),
          });
          note(g(), `teacher ${teacher.name} (${teacher.model}, prompt ${teacher.promptVersion}); pool: ${pairs.length} pairs; cache ${cache.path}`);
          if (o.exportBatch || o.importBatch) {
            if (!(teacher instanceof LlmTeacher)) {
              throw new DistilrankError('BAD_OPTION', `batch files are for the llm teacher, not "${teacher.name}"`, {
                field: 'teacher',
                hint: 'use --teacher llm',
              });
            }
            if (o.exportBatch) {
              const r = exportBatch({ cache, teacher, pairs, dataset: o.dataset, path: resolve(o.exportBatch) });
              console.log(
                `wrote ${r.written} requests to ${r.path} (${r.alreadyCached} pairs already labelled, ${r.duplicates} duplicates); manifest ${r.manifestPath}`,
              );
            } else {
              if (!o.manifest) {
                throw new DistilrankError('BAD_OPTION', '--import-batch needs the manifest of the export', {
                  field: 'manifest',
                  hint: 'pass --manifest REQUESTS.jsonl.manifest.json (written beside the file --export-batch wrote)',
                });
              }
              const r = await importBatch({ cache, teacher, path: resolve(o.importBatch!), manifest: resolve(o.manifest) });
              console.log(
                `imported ${r.imported} labels (${r.alreadyCached} already cached, ${r.failed} failed: exported again next time); cost $${r.cost.usd.toFixed(4)}`,
              );
            }
            return;
          }
          const bar = createProgress(`label ${o.dataset}`, g().quiet);
          const controller = new AbortController();
          const stop = () => controller.abort();
          process.once('SIGINT', stop);
          const summary = await runLabelJob({
            cache,
            teacher,
            pairs,
            dataset: o.dataset,
            concurrency: o.concurrency,
            budget: { ...(o.maxCalls ? { calls: o.maxCalls } : {}), ...(o.maxTokens ? { tokens: o.maxTokens } : {}), ...(o.maxUsd ? { usd: o.maxUsd } : {}) },
            signal: controller.signal,
            onProgress: (p) => bar.update(p.done, p.total),
          }).finally(() => {
            process.off('SIGINT', stop);
            bar.stop();
          });
          const c = summary.cost;
          console.log(
            `${o.dataset}: ${summary.pairs} pairs — ${summary.labelled} labelled now, ${summary.cached} already cached, ${summary.duplicates} duplicates, ` +
              `${summary.failed} failed, ${summary.remaining} remaining; stopped: ${summary.stoppedBy}`,
          );
          console.log(
            `cost of this run: ${c.calls} calls, ${c.inputTokens} input + ${c.outputTokens} output tokens, $${c.usd.toFixed(4)}, ${c.seconds.toFixed(1)} s of calls`,
          );
          const set = cache
            .labelSets(o.dataset)
            .find((s) => s.teacher === teacher.name && s.model === teacher.model && s.promptVersion === teacher.promptVersion);
          if (set)
            console.log(
              `label set ${set.id}: ${set.pairs} labelled pairs of ${o.dataset} (train reads it with --labels human+teacher --teacher ${teacher.name})`,
            );
          if (summary.stoppedBy === 'fatal') {
            throw new DistilrankError('TEACHER_FAILED', `the teacher stopped the job: ${summary.error?.message ?? 'unknown error'}`, {
              field: 'teacher',
              hint: 'fix the endpoint settings (DISTILRANK_LLM_*) and run the same command again: labels already paid for are kept',
            });
          }
        } finally {
          cache.close();
          store.close();
          await (teacher as Teacher).close?.();
        }
      },
    );

  const teacherCmd = program.command('teacher').description('train the local teacher, or measure a teacher against held-out human labels');

  teacherCmd
    .command('train')
    .description('train the local teacher (NOT an LLM: an ensemble over expensive features, trained on the human labels of the train split)')
    .requiredOption('--dataset <name>', 'data set')
    .option('--judgments <set>', "judgment set (default: the data set's default)")
    .option('--out <dir>', 'artifact folder (default: beside the store, models/DATASET/teacher-local)')
    .action(async (o: { dataset: string; judgments?: string; out?: string }) => {
      const store = await storeWithDataset(g(), o.dataset);
      try {
        const dataset = store.dataset(o.dataset);
        const t0 = performance.now();
        const trained = await trainLocalTeacher({
          dataset,
          ...(o.judgments ? { judgmentSet: o.judgments } : {}),
          ...(o.out ? { dir: resolve(o.out) } : {}),
          onStage: (stage) => note(g(), `teacher train: ${stage}`),
        });
        const m = trained.card.metrics as Record<string, number>;
        console.log(
          `trained the local teacher on ${o.dataset} in ${((performance.now() - t0) / 1000).toFixed(1)} s (not an LLM); artifact: ${trained.dir ?? '(not written)'}`,
        );
        console.log(
          `dev: ${Object.entries(m)
            .map(([k, v]) => `${k} ${fmt(v)}`)
            .join(', ')}`,
        );
      } finally {
        store.close();
      }
    });

  teacherCmd
    .command('eval')
    .description(
      'label the dev and test human-judged pairs with a teacher (through the label cache: paid once), calibrate on dev, report agreement on test; draws the confusion matrix',
    )
    .requiredOption('--dataset <name>', 'data set')
    .option('--teacher <name>', `teacher: ${Object.keys(TEACHERS).join(', ')}`, 'llm')
    .option('--judgments <set>', "judgment set (default: the data set's default)")
    .option('--concurrency <n>', 'calls in flight', positiveInt('concurrency'), DEFAULT_CONCURRENCY)
    .option('--max-calls <n>', 'budget: calls in this run', positiveInt('max-calls'))
    .option('--cache <file>', 'label cache (default: labels.sqlite beside the store)')
    .option('--svg <file>', 'write the calibrated confusion matrix as SVG')
    .option('--json', 'print the report as JSON')
    .action(
      async (o: {
        dataset: string;
        teacher: string;
        judgments?: string;
        concurrency: number;
        maxCalls?: number;
        cache?: string;
        svg?: string;
        json?: boolean;
      }) => {
        const { store, dataset, teacher, cache } = await openTeacherJob(g(), o.dataset, o.teacher, o.cache);
        try {
          // Rankings of the systems we have, to compare human and teacher qrels (Kendall τ).
          const systems = [];
          for (const name of ['random', 'bm25']) {
            const ranker = createRanker(name, dataset);
            systems.push({
              name,
              run: (await evaluate({ dataset, split: 'test', protocol: 'rerank', ranker, ...(o.judgments ? { judgmentSet: o.judgments } : {}) })).run,
            });
          }
          for (const name of ['student', 'student-distilled']) {
            try {
              const m = await loadModel(name, dataset);
              systems.push({
                name,
                run: (await evaluate({ dataset, split: 'test', protocol: 'rerank', ranker: m.ranker, ...(o.judgments ? { judgmentSet: o.judgments } : {}) }))
                  .run,
              });
              await m.close();
            } catch (e) {
              if (!isDistilrankError(e) || e.code !== 'FILE_NOT_FOUND') throw e;
            }
          }
          const bar = createProgress(`teacher eval ${o.teacher}`, g().quiet);
          const report = await evaluateTeacher({
            dataset,
            teacher,
            cache,
            concurrency: o.concurrency,
            ...(o.judgments ? { judgmentSet: o.judgments } : {}),
            ...(o.maxCalls ? { budget: { calls: o.maxCalls } } : {}),
            systems,
            onProgress: (_stage, p) => bar.update(p.done, p.total),
          });
          bar.stop();
          if (report.jobs.calibration.stoppedBy === 'fatal' || report.jobs.evaluation.stoppedBy === 'fatal') {
            const err = report.jobs.calibration.error ?? report.jobs.evaluation.error;
            throw new DistilrankError('TEACHER_FAILED', `the teacher stopped the job: ${err?.message ?? 'unknown error'}`, {
              field: 'teacher',
              hint: 'fix the endpoint settings and run the same command again: labels already paid for are kept',
            });
          }
          if (o.svg) {
            writeFileSync(
              resolve(o.svg),
              confusionSvg(report.calibrated.confusion, {
                title: `${o.dataset}: ${report.teacher} (${report.model}) vs human, test split, calibrated`,
                rowLabel: 'human level',
                colLabel: 'teacher level (argmax)',
                labels: ['L1', 'L2', 'L3', 'L4', 'L5'],
              }),
            );
            note(g(), `wrote ${o.svg}`);
          }
          if (o.json) return console.log(JSON.stringify(report));
          const cols = ['accuracy', 'macro_F1', 'kappa', 'kappa_quadratic', 'RMSE_expected_level', 'NLL'] as const;
          console.log(
            `${o.dataset}: teacher ${report.teacher} (${report.model}, prompt ${report.promptVersion}) vs human labels; calibrated on ${report.pairs.calibration} dev pairs (T=${fmt(report.calibration.temperature, 3)}), measured on ${report.pairs.evaluation} test pairs`,
          );
          console.log(
            table(
              ['', ...cols],
              [
                ['raw', ...cols.map((c) => fmt((report.raw.metrics as Record<string, number>)[c] ?? NaN))],
                ['calibrated', ...cols.map((c) => fmt((report.calibrated.metrics as Record<string, number>)[c] ?? NaN))],
              ],
            ),
          );
          console.log(
            `as a ranker of each test query's judged items (raw expected level): ${report.rerank.measure} ${fmt(report.rerank.value)} over ${report.rerank.queries} queries`,
          );
          console.log(`confusion (calibrated; rows: human L1…L5, columns: teacher L1…L5):`);
          for (const [i, row] of report.calibrated.confusion.entries()) console.log(`  L${i + 1}  ${row.map((x) => String(x).padStart(6)).join('')}`);
          if (report.systems) {
            console.log(
              `system rankings by ${report.systems.measure ?? 'nDCG@10'} with human vs teacher qrels: Kendall τ = ${fmt(report.systems.kendallTau, 3)}`,
            );
          }
          const c = report.cost.total;
          console.log(`cost of this run: ${c.calls} calls, ${c.inputTokens + c.outputTokens} tokens, $${c.usd.toFixed(4)} (cached labels are free)`);
          for (const n of report.notes) console.log(`note: ${n}`);
        } finally {
          cache.close();
          store.close();
          await teacher.close?.();
        }
      },
    );

  program
    .command('export-qrels')
    .description("write a split's judgments as TREC qrels, with the integer gains evaluation uses (L1=0 … L5=4)")
    .requiredOption('--dataset <name>', 'data set')
    .requiredOption('--out <file>', 'output qrels file')
    .option('--split <name>', 'train, dev or test', 'test')
    .option('--judgments <set>', "judgment set (default: the data set's default)")
    .action(async (o: { dataset: string; out: string; split: string; judgments?: string }) => {
      const split = parseSplit(o.split);
      const store = await storeWithDataset(g(), o.dataset);
      try {
        const dataset = store.dataset(o.dataset);
        const qrels = splitQrels(dataset, split, o.judgments);
        writeQrels(o.out, qrels);
        let n = 0;
        for (const m of qrels.values()) n += m.size;
        console.log(`wrote ${n} judgments for ${qrels.size} ${split} queries of ${o.dataset} to ${o.out}`);
      } finally {
        store.close();
      }
    });

  program
    .command('demo')
    .description(
      'the main job end to end on the Icecat/Chorus catalogue: ingest, baselines, train the student, evaluation table, teacher + distillation (scaling curve, ROI table), HTML report',
    )
    .option('--dataset <name>', 'data set to run the demo on', 'icecat-chorus')
    .option('--teacher <name>', `teacher for the distillation step: ${Object.keys(TEACHERS).join(', ')} (local: trained here, not an LLM)`, 'local')
    .option('--multiples <list>', 'teacher labels as multiples of the human-labelled training pairs', (v: string) => v.split(',').map(Number), [
      ...DEFAULT_MULTIPLES,
    ])
    .option('--serve', 'end by serving the catalogue on 127.0.0.1 (default on a terminal outside CI)')
    .option('--no-serve', 'do not serve at the end')
    .option('--port <n>', 'port of the service', (v) => (v === '0' ? 0 : positiveInt('port')(v)), 8787)
    .action(async (o: { dataset: string; teacher: string; multiples: number[]; serve?: boolean; port: number }) => {
      let exampleQuery = 'usb cable';
      const t0 = performance.now();
      const store = Store.open(storePath(g()), { create: true });
      try {
        console.log(`distilrank demo — ${o.dataset}`);
        console.log(`1. ingest: ${describeIngest(await ingestBuiltin(g(), store, o.dataset), (performance.now() - t0) / 1000)}`);
        const dataset = store.dataset(o.dataset);
        const info = dataset;
        console.log(
          `   scale ${info.scale.name} → 5 levels: ${info.scale.rows.map((r) => `${r.native}→${r.level === null ? '-' : `L${r.level}`}`).join(', ')}`,
        );
        const t1 = performance.now();
        const trained = await trainStudent({ dataset, labels: 'human', onStage: (stage) => note(g(), `train: ${stage}`) });
        const dir = defaultStudentDir(store.path, o.dataset, 'human');
        writeStudentArtifact(dir, trained.onnx, trained.card);
        const t2 = performance.now();
        const c = trained.card;
        console.log(
          `2. student: an MLP over ${c.features.length} query–item features, trained on ${c.split.train.pairs} human-labelled pairs ` +
            `(early stop at epoch ${c.training.bestEpoch} on ${c.split.dev.pairs} dev pairs) in ${((performance.now() - t1) / 1000).toFixed(1)} s → ONNX ${dir}`,
        );
        console.log(`   baselines: random (${RANKERS.random!.description}); bm25 (${RANKERS.bm25!.description}), calibrated to levels on train for κ`);
        const reports: EvalReport[] = [];
        for (const model of ['random', 'bm25', 'student']) {
          reports.push(...(await evaluateModel(g(), dataset, { model, split: 'test', protocols: ['rerank', 'retrieval'], labels: true })));
        }
        console.log(
          `3. evaluation on the test split (${reports[0]!.queries} queries, judgments: ${reports[0]!.judgmentSet}; gains L1=0 … L5=4; rel=3: L4 and up)`,
        );
        console.log(
          `   rerank: order each query's judged items · retrieval: whole catalogue, top 100, unjudged = not relevant (the student re-ranks BM25's top ${DEFAULT_CANDIDATES})`,
        );
        console.log(reportTable(reports));
        const studentRerank = reports.find((r) => r.model.startsWith('student') && r.protocol === 'rerank');
        const t4 = performance.now();
        console.log(
          `4. teacher (${o.teacher}${TEACHERS[o.teacher]?.isLLM ? '' : ': NOT an LLM, an ensemble over expensive features trained on the human labels'}) labels BM25 candidates of the training queries; the student distils them`,
        );
        const study = await runStudy(g(), store.dataset(o.dataset), {
          teacher: o.teacher,
          multiples: o.multiples,
          humanStudent: { dir, trainSeconds: (t2 - t1) / 1000 },
        });
        console.log(formatStudy(study));
        console.log(`   in ${((performance.now() - t4) / 1000).toFixed(1)} s; the best distilled student is now \`--model student-distilled\``);
        const htmlPath = resolve(dirname(store.path), 'demo-report.html');
        writeHtmlReport(htmlPath, {
          title: `distilrank demo — ${o.dataset}`,
          generatedAt: new Date().toISOString(),
          machine: `${cpus().length} cores, node ${process.version}`,
          sections: [
            evalTableSection(reports, DEFAULT_MEASURES, {
              heading: 'Evaluation on the test split',
              text: "rerank: order each query's judged items. retrieval: whole catalogue, top 100, unjudged items count as not relevant; the student re-ranks BM25's top 200. Gains L1=0 … L5=4.",
            }),
            ...(studentRerank?.levels
              ? [
                  confusionSection(`Student vs human levels (${studentRerank.levels.pairs} judged test pairs)`, studentRerank.levels.confusion, {
                    colLabel: 'student level (argmax)',
                  }),
                ]
              : []),
            ...studySections(study),
          ],
        });
        console.log(`report: ${htmlPath}`);
        console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s; store: ${store.path}`);
        exampleQuery = store.queries(o.dataset, 'test')[0]?.text ?? exampleQuery;
      } finally {
        store.close();
      }
      // The demo ends by serving its catalogue with the distilled student (on a terminal; --serve forces it).
      if (o.serve ?? (process.stdout.isTTY && !process.env.CI)) {
        console.log(`5. the search service: BM25 top ${DEFAULT_CANDIDATES} re-ranked by the distilled student`);
        const server = await startServer({
          artifacts: { store: storePath(g()), dataset: o.dataset, model: 'student-distilled', retriever: 'bm25', candidates: DEFAULT_CANDIDATES },
          port: o.port,
          handleSignals: true,
        });
        await announceAndWait(g(), server, o.dataset, exampleQuery);
      } else {
        console.log(`serve it: npx distilrank serve --dataset ${o.dataset} --model student-distilled`);
      }
    });

  for (const register of STAGE_COMMANDS) register(program, g);
  return program;
}

/** Run the CLI; returns the exit code (0 ok, 1 error, 2 usage). */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
    }
    if (isDistilrankError(e)) {
      process.stderr.write(`${e.format()}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\nplease report this with the command you ran\n`);
    return 70;
  }
}
