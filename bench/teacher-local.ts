/**
 * Local (non-LLM) teacher benchmark: per data set, train the local teacher and the default student on
 * the human labels, then compare them on the dev and test splits (accuracy, κ quadratic, RMSE of the
 * expected level — the label metrics of src/eval), with training time and the teacher's judging
 * throughput (pairs/s, judge one at a time and judgeMany by query). Optional `--holdout=query`.
 * Run: `npx tsx bench/teacher-local.ts [data sets…]`. Never part of `npm test`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fmt, table } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { evaluateLabels } from '../src/eval/index.ts';
import { Store, type Split } from '../src/store/index.ts';
import { StudentRanker, trainStudent, writeStudentArtifact } from '../src/student/index.ts';
import { trainLocalTeacher, type AssocHoldout, type TeacherPair } from '../src/teacher/index.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('-'));
const holdout = (args.find((a) => a.startsWith('--holdout='))?.split('=')[1] ?? 'pair') as AssocHoldout;
const skipStudent = args.includes('--no-student');
const names = only.length ? only : ['home-depot', 'icecat-chorus'];
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-teacher-local-'));
console.log(
  `distilrank local teacher benchmark — ${new Date().toISOString()}; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}; holdout ${holdout}`,
);

const quality: string[][] = [];
const timing: string[][] = [];
try {
  for (const name of names) {
    const store = Store.open(join(work, `${name}.sqlite`), { create: true });
    store.ingest(DATASETS[name]!.load(await resolveDatasetDir(name, { dataDir, download: false })));
    const dataset = store.dataset(name);
    let t0 = performance.now();
    const trained = await trainLocalTeacher({
      dataset,
      assocHoldout: holdout,
      onStage: (s) => console.log(`  ${name}: ${s} (${((performance.now() - t0) / 1000).toFixed(1)} s)`),
    });
    const teacherSeconds = (performance.now() - t0) / 1000;
    const teacher = trained.teacher;
    console.log(`  ${name}: teacher dev ${JSON.stringify(trained.card.metrics)}; members ${JSON.stringify(trained.card.training.members)}`);

    const rows: Array<[string, { predictLevels(q: string, ids: readonly string[]): Float32Array | Promise<Float32Array>; name: string }]> = [
      ['local teacher', { name: 'local', predictLevels: (q, ids) => teacher.predictLevels(q, ids) }],
    ];
    let studentSeconds = NaN;
    if (!skipStudent) {
      t0 = performance.now();
      const s = await trainStudent({ dataset });
      studentSeconds = (performance.now() - t0) / 1000;
      const dir = join(work, `${name}-student`);
      writeStudentArtifact(dir, s.onnx, s.card);
      rows.push(['student', await StudentRanker.load(dataset, dir)]);
    }
    for (const [label, predictor] of rows) {
      for (const split of ['dev', 'test'] as Split[]) {
        const r = await evaluateLabels({ dataset, split, predictor });
        quality.push([name, label, split, String(r.pairs), fmt(r.metrics.accuracy), fmt(r.metrics.kappa_quadratic), fmt(r.metrics.RMSE_expected_level)]);
      }
    }

    // Throughput on test pairs: one judge() per pair, then judgeMany over the same pairs.
    const texts = new Map(store.queries(name, 'test').map((q) => [q.id, q.text]));
    const pairs: TeacherPair[] = store
      .judgments(name, { split: 'test' })
      .slice(0, 3000)
      .map((j) => ({ queryId: j.queryId, queryText: texts.get(j.queryId)!, itemId: j.itemId, itemText: '' }));
    t0 = performance.now();
    for (const p of pairs) await teacher.judge(p);
    const oneRate = pairs.length / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    await teacher.judgeMany(pairs);
    const manyRate = pairs.length / ((performance.now() - t0) / 1000);
    timing.push([
      name,
      String(trained.card.split.train.pairs),
      fmt(trained.card.training.featureSeconds, 1),
      fmt(teacherSeconds, 1),
      trained.card.training.members.map((m) => `${m.bestEpoch}/${m.epochs}`).join(' '),
      fmt(studentSeconds, 1),
      fmt(oneRate, 0),
      fmt(manyRate, 0),
      `${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`,
    ]);
    store.close();
  }
  console.log('\nLabel agreement with the human judgments (label metrics of src/eval; argmax level, expected level)');
  console.log(table(['data set', 'model', 'split', 'pairs', 'accuracy', 'κ quadratic', 'RMSE E[level]'], quality));
  console.log('\nTraining and judging (one thread)');
  console.log(
    table(
      [
        'data set',
        'train pairs',
        'teacher features s',
        'teacher train s',
        'best/epochs per member',
        'student train s',
        'judge pairs/s',
        'judgeMany pairs/s',
        'rss',
      ],
      timing,
    ),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
