/**
 * Enrichment benchmark: (1) the search-log aggregation's time per million events — generated
 * in-process (synthetic catalogue and queries, seeded), aggregated from memory and from a store
 * (SQLite cursor + JSON extras + aggregation); (2) the field ablation on icecat-chorus (test split):
 * real fields, then user-action fields from SIMULATED logs. Run: `npm run bench:enrich`
 * (`-- --skip-ablation` for the aggregation alone). Never part of `npm test`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { ablationHeader, ablationTable } from '../src/cli/represent-commands.ts';
import { fmt, table, mulberry32 } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { aggregateActions, simulateLogs, storedActions, type ActionEvent } from '../src/enrich/represent/index.ts';
import { runAblation } from '../src/studies/index.ts';
import { Store } from '../src/store/index.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const skipAblation = process.argv.includes('--skip-ablation');
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-enrich-'));
const cpu = cpus();

console.log(`distilrank enrichment benchmark — ${new Date().toISOString()}`);
console.log(
  `machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; one thread\n`,
);

/** 1M events over 50k items and 20k query texts of 1–4 words from a 5k-word vocabulary. */
function syntheticEvents(n: number, seed = 1): ActionEvent[] {
  const rand = mulberry32(seed);
  const vocab = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}x`);
  const word = () => vocab[Math.floor(Math.pow(rand(), 2) * vocab.length)]!; // skewed, as query words are
  const queries = Array.from({ length: 20_000 }, () => Array.from({ length: 1 + Math.floor(rand() * 4) }, word).join(' '));
  const events: ActionEvent[] = [];
  const start = Date.UTC(2024, 0, 1);
  for (let i = 0; i < n; i++) {
    const r = rand();
    const action = r < 0.6 ? 'click' : r < 0.8 ? 'long_click' : 'save';
    const extra: Record<string, string | number> =
      action === 'save'
        ? { board: `${word()} ${word()} ideas` }
        : action === 'long_click'
          ? { dwell_ms: 30_000 + Math.floor(rand() * 100_000), link_title: `${word()} ${word()}` }
          : { dwell_ms: Math.floor(rand() * 20_000) };
    events.push({
      queryText: queries[Math.floor(rand() * queries.length)]!,
      itemId: `item${Math.floor(rand() * 50_000)}`,
      action,
      position: 1 + Math.floor(rand() * 10),
      time: start + i * 30_000,
      extra,
    });
  }
  return events;
}

try {
  const N = 1_000_000;
  const events = syntheticEvents(N);
  const cutoff = events[Math.floor(N * 0.9)]!.time; // the last 10% are after the cut-off
  const excluded = Array.from(new Set(events.slice(0, 200).map((e) => e.queryText)));
  const rows: string[][] = [];
  for (let rep = 0; rep < 2; rep++) {
    const t0 = performance.now();
    const a = aggregateActions(events, { cutoff, excludeQueries: excluded });
    const s = (performance.now() - t0) / 1000;
    rows.push([`in memory (run ${rep + 1})`, String(N), String(a.stats.used), String(a.size), fmt(s, 2), fmt((s * 1e6) / N, 2), fmt(N / s / 1e6, 2)]);
  }
  const store = Store.open(join(work, 'logs.sqlite'), { create: true });
  store.ingest({
    name: 'bench-logs',
    description: 'synthetic items for the log aggregation benchmark',
    source: '/synthetic',
    mapping: { name: 'none', description: 'no judgments', rows: [], higherIsBetter: true, toLevel: () => null },
    defaultJudgmentSet: 'default',
    items: Array.from({ length: 50_000 }, (_, i) => ({ id: `item${i}`, title: `item ${i}` })),
    queries: [],
    judgments: [],
  });
  const logs = store.dataset('bench-logs');
  const ti = performance.now();
  logs.replaceSimulatedLogEvents(events);
  const insertSeconds = (performance.now() - ti) / 1000;
  const t1 = performance.now();
  const fromStore = storedActions(logs, { cutoff, excludeQueries: excluded });
  const s1 = (performance.now() - t1) / 1000;
  store.close();
  rows.push([
    'from the store (SQLite cursor)',
    String(N),
    String(fromStore.stats.used),
    String(fromStore.size),
    fmt(s1, 2),
    fmt((s1 * 1e6) / N, 2),
    fmt(N / s1 / 1e6, 2),
  ]);
  console.log('## Log aggregation (synthetic events generated in-process; 90% before the cut-off; 200 query texts excluded)');
  console.log(table(['source', 'events', 'used', 'items', 'seconds', 's per 1M events', 'M events/s'], rows));
  console.log(`(writing the 1M events into the store: ${fmt(insertSeconds, 1)} s, not counted)\n`);

  if (!skipAblation) {
    const name = 'icecat-chorus';
    const s = Store.open(join(work, 'icecat.sqlite'), { create: true });
    s.ingest(DATASETS[name]!.load(await resolveDatasetDir(name, { dataDir, download: false })));
    const dataset = s.dataset(name);
    const progress = (stage: string) => process.stderr.write(`  ${stage}\n`);
    console.log('## Ablation: real fields');
    const real = await runAblation({
      dataset,
      order: ['title', 'description', 'brand', 'attributes'],
      workDir: join(work, 'ablate-real'),
      onStage: progress,
    });
    console.log(ablationHeader(real));
    console.log(ablationTable(real));
    console.log(`(${real.seconds.toFixed(0)} s)\n`);

    const sim = simulateLogs(dataset, { events: 20_000, seed: 1 });
    dataset.replaceSimulatedLogEvents(sim.events);
    const actions = storedActions(dataset, { cutoff: sim.events.at(-1)!.time + 1 });
    console.log('## Ablation: + user-action fields from SIMULATED logs');
    console.log(
      `SIMULATED logs (simulate-logs, seed 1): ${sim.events.length} events from ${sim.sessions} sessions over ${sim.queries} training queries; ` +
        `action text for ${actions.size} items; evaluation queries excluded (${actions.stats.excludedQueries} events)`,
    );
    const simulated = await runAblation({
      dataset,
      order: ['title', 'description', 'brand', 'attributes', 'engaged_queries', 'board_titles', 'link_text'],
      from: 'attributes',
      sources: { actions },
      simulatedActions: true,
      workDir: join(work, 'ablate-sim'),
      onStage: progress,
    });
    console.log(ablationHeader(simulated));
    console.log(ablationTable(simulated));
    console.log(`(${simulated.seconds.toFixed(0)} s)`);
    s.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
