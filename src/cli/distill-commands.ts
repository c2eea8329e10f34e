/**
 * `distilrank distill`: the distillation study on one data set — the scaling curve and the ROI table
 * (src/studies/distill), printed, written as JSON and as an HTML report with plots. `demo` runs the same
 * study through runStudy().
 */
import { cpSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { replaceDirAtomic, writeFileAtomic, DistilrankError } from '../core/index.ts';
import { DEFAULT_CPU_USD_PER_HOUR, DEFAULT_MULTIPLES, formatStudy, runDistillStudy, studySections, type DistillStudy } from '../studies/index.ts';
import { writeHtmlReport } from '../eval/index.ts';
import { DEFAULT_CONCURRENCY, LabelCache, type LabelBudget } from '../label/index.ts';
import type { Dataset } from '../store/index.ts';
import { DEFAULT_NEGATIVES, defaultStudentDir } from '../student/index.ts';
import { createTeacher, defaultLocalTeacherDir, TEACHERS, trainLocalTeacher, type Teacher } from '../teacher/index.ts';
import { note, positiveInt, storeWithDataset, type GlobalOptions } from './common.ts';
import { createProgress } from './progress.ts';

export interface StudyCliOptions {
  teacher: string;
  multiples: readonly number[];
  teacherWeight?: number;
  /** Sampled negatives per query in the distilled students (0: none). */
  negatives?: number;
  concurrency?: number;
  budget?: LabelBudget;
  cache?: string;
  cpuUsdPerHour?: number;
  /** A human-only student trained just before (evaluated, not retrained). */
  humanStudent?: { dir: string; trainSeconds: number };
}

function parseMultiples(v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || x <= 0)) {
    throw new DistilrankError('BAD_OPTION', `--multiples must be positive numbers separated by commas, got "${v}"`, {
      field: 'multiples',
      hint: 'e.g. --multiples 1,2,5,10',
    });
  }
  return xs;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new DistilrankError('BAD_OPTION', `--negatives must be a whole number ≥ 0, got "${v}"`, { field: 'negatives', hint: 'e.g. --negatives 20' });
  return n;
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n))
      throw new DistilrankError('BAD_OPTION', `--${name} must be a positive number, got "${v}"`, { field: name, hint: `e.g. --${name} 1` });
    return n;
  };
}

/**
 * Run the study with the CLI's conventions: artifacts beside the store (the human-only student is the
 * default `student`, the best distilled one the default `student-distilled`), labels in the default
 * cache, the local teacher trained first when it has no artifact yet.
 */
export async function runStudy(g: GlobalOptions, dataset: Dataset, o: StudyCliOptions): Promise<DistillStudy> {
  const { store } = dataset;
  const factory = Object.hasOwn(TEACHERS, o.teacher) ? TEACHERS[o.teacher] : undefined;
  if (o.teacher === 'local' && !existsSync(defaultLocalTeacherDir(store.path, dataset.name))) {
    note(g, 'training the local teacher first (not an LLM: an ensemble over expensive features, trained on the human train labels)');
    await trainLocalTeacher({ dataset, onStage: (s) => note(g, `teacher train: ${s}`) });
  }
  const teacher: Teacher = createTeacher(o.teacher, { dataset });
  const cache = LabelCache.open(resolve(o.cache ?? LabelCache.defaultPath(store.path)), { create: true });
  const bars = new Map<string, ReturnType<typeof createProgress>>();
  try {
    const study = await runDistillStudy({
      dataset,
      teacher,
      teacherIsPriced: factory?.isLLM ?? false,
      cache,
      outDir: dirname(defaultStudentDir(store.path, dataset.name, 'human')),
      multiples: o.multiples,
      ...(o.teacherWeight !== undefined ? { teacherWeight: o.teacherWeight } : {}),
      ...(o.negatives !== undefined ? { negatives: { ...DEFAULT_NEGATIVES, perQuery: o.negatives } } : {}),
      concurrency: o.concurrency ?? DEFAULT_CONCURRENCY,
      ...(o.budget ? { budget: o.budget } : {}),
      ...(o.cpuUsdPerHour !== undefined ? { cpuUsdPerHour: o.cpuUsdPerHour } : {}),
      ...(o.humanStudent ? { humanStudent: o.humanStudent } : {}),
      onStage: (s) => {
        for (const b of bars.values()) b.stop();
        bars.clear();
        note(g, `distill: ${s}`);
      },
      onProgress: (stage, p) => {
        let bar = bars.get(stage);
        if (!bar) bars.set(stage, (bar = createProgress(`label ${stage}`, g.quiet)));
        bar.update(p.done, p.total);
      },
    });
    for (const b of bars.values()) b.stop();
    // The best distilled student becomes the data set's default `student-distilled`.
    const target = defaultStudentDir(store.path, dataset.name, 'human+teacher');
    replaceDirAtomic(target, (tmp) => cpSync(study.best.artifact, tmp, { recursive: true }));
    return study;
  } finally {
    cache.close();
    await teacher.close?.();
  }
}

export function studyReport(path: string, title: string, studies: readonly DistillStudy[]): void {
  writeHtmlReport(path, {
    title,
    generatedAt: new Date().toISOString(),
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`,
    sections: studies.flatMap(studySections),
  });
}

export function registerDistillCommands(program: Command, g: () => GlobalOptions): void {
  program
    .command('distill')
    .description(
      'the distillation study: student on human labels vs + teacher labels at several multiples (scaling curve), and quality/latency/cost per model (ROI table)',
    )
    .requiredOption('--dataset <name>', 'data set')
    .option('--teacher <name>', `teacher: ${Object.keys(TEACHERS).join(', ')} (local is trained first when absent)`, 'local')
    .option('--multiples <list>', 'teacher labels as multiples of the human-labelled training pairs', parseMultiples, [...DEFAULT_MULTIPLES])
    .option('--teacher-weight <x>', 'loss weight of teacher rows (human rows weigh 1)', positiveNumber('teacher-weight'), 1)
    .option(
      '--negatives <n>',
      'sampled unjudged BM25 candidates per training query as L1 rows in the distilled students, as in the human-only one (0: none, only the teacher labels)',
      nonNegativeInt,
      DEFAULT_NEGATIVES.perQuery,
    )
    .option('--concurrency <n>', 'teacher calls in flight', positiveInt('concurrency'), DEFAULT_CONCURRENCY)
    .option('--max-calls <n>', 'budget: teacher calls in this run', positiveInt('max-calls'))
    .option('--max-usd <x>', 'budget: money in this run, at the configured prices', positiveNumber('max-usd'))
    .option('--cache <file>', 'label cache (default: labels.sqlite beside the store)')
    .option('--cpu-usd-per-hour <x>', 'price of one core-hour, for the cost of local models', positiveNumber('cpu-usd-per-hour'), DEFAULT_CPU_USD_PER_HOUR)
    .option('--report <file>', 'HTML report (default: distill-DATASET.html beside the store)')
    .option('--json <file>', 'also write the study as JSON')
    .action(
      async (o: {
        dataset: string;
        teacher: string;
        multiples: number[];
        teacherWeight: number;
        negatives: number;
        concurrency: number;
        maxCalls?: number;
        maxUsd?: number;
        cache?: string;
        cpuUsdPerHour: number;
        report?: string;
        json?: string;
      }) => {
        const store = await storeWithDataset(g(), o.dataset);
        try {
          const study = await runStudy(g(), store.dataset(o.dataset), {
            teacher: o.teacher,
            multiples: o.multiples,
            teacherWeight: o.teacherWeight,
            negatives: o.negatives,
            concurrency: o.concurrency,
            budget: { ...(o.maxCalls ? { calls: o.maxCalls } : {}), ...(o.maxUsd ? { usd: o.maxUsd } : {}) },
            ...(o.cache ? { cache: o.cache } : {}),
            cpuUsdPerHour: o.cpuUsdPerHour,
          });
          console.log(formatStudy(study));
          const html = resolve(o.report ?? join(dirname(store.path), `distill-${o.dataset}.html`));
          studyReport(html, `distilrank distillation study — ${o.dataset}`, [study]);
          console.log(`report: ${html}`);
          if (o.json) {
            writeFileAtomic(resolve(o.json), JSON.stringify(study, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
            console.log(`json: ${resolve(o.json)}`);
          }
        } finally {
          store.close();
        }
      },
    );
}
