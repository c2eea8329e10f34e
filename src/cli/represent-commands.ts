/**
 * The item text representation on the command line: `represent` (show a representation and the
 * texts it builds), `simulate-logs` (synthetic search logs, marked simulated) and `ablate` (teacher
 * and student with fields added one at a time).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic, DistilrankError, fmt, table } from '../core/index.ts';
import {
  CaptionCache,
  ABLATION_ORDER,
  ACTION_SOURCES,
  DEFAULT_LONG_CLICK_MS,
  DEFAULT_REPRESENTATION,
  DEFAULT_SIMULATED_EVENTS,
  FIELD_SOURCE_NAMES,
  buildItemText,
  readRepresentation,
  representationId,
  simulateLogs,
  storedActions,
  type AggregatedActions,
  type FieldSource,
  type FieldSources,
} from '../enrich/index.ts';
import { parseIsoTime } from '../ingest/index.ts';
import { DEFAULT_ABLATION_SETTINGS, runAblation, type AblationModel, type AblationResult } from '../studies/index.ts';
import { parseSplit, type Dataset } from '../store/index.ts';
import { note, positiveInt, storeWithDataset, type GlobalOptions } from './common.ts';

function parseTime(v: string): number {
  const t = /^\d+$/.test(v.trim()) ? Number(v) : parseIsoTime(v);
  if (!Number.isFinite(t))
    throw new DistilrankError('BAD_OPTION', `--cutoff must be epoch milliseconds or an ISO-8601 time, got "${v}"`, {
      field: 'cutoff',
      hint: 'e.g. --cutoff 2025-06-01',
    });
  return t;
}

function parseFields(v: string, option: string): FieldSource[] {
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const f of list) {
    if (!(FIELD_SOURCE_NAMES as string[]).includes(f)) {
      throw new DistilrankError('BAD_OPTION', `--${option}: unknown field "${f}"`, { field: option, hint: `use: ${FIELD_SOURCE_NAMES.join(', ')}` });
    }
  }
  return list as FieldSource[];
}

interface ActionOptions {
  cutoff?: string;
  windowDays?: number;
  actions?: boolean;
}

/** The data set's logged actions before the cut-off (default: after the last event), evaluation queries excluded; undefined without logs. */
function loadActions(g: GlobalOptions, dataset: Dataset, o: ActionOptions): AggregatedActions | undefined {
  if (o.actions === false) return undefined;
  const counts = dataset.logEventCounts();
  if (!counts.events) return undefined;
  const cutoff = o.cutoff !== undefined ? parseTime(o.cutoff) : counts.maxTime! + 1;
  const t0 = performance.now();
  const actions = storedActions(dataset, { cutoff, ...(o.windowDays ? { windowMs: o.windowDays * 86_400_000 } : {}), longClickMs: DEFAULT_LONG_CLICK_MS });
  const s = actions.stats;
  note(
    g,
    `${s.simulated ? 'SIMULATED ' : ''}user actions: ${s.used} of ${s.events} events before ${new Date(cutoff).toISOString()} → text for ${s.items} items ` +
      `(${s.excludedQueries} events of evaluation queries and ${s.outsideWindow} outside the window left out) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return actions;
}

/**
 * The field sources a representation reads beyond the item itself: user-action text from the logs
 * (when it lists an action field) and captions from the caption cache beside the store (when it
 * lists `caption` and `enrich captions` has run).
 */
export function fieldSources(
  g: GlobalOptions,
  dataset: Dataset,
  fields: readonly FieldSource[],
  o: ActionOptions = {},
): FieldSources & { actions?: AggregatedActions } {
  const sources: FieldSources & { actions?: AggregatedActions } = {};
  const actions = fields.some((f) => ACTION_SOURCES.includes(f)) ? loadActions(g, dataset, o) : undefined;
  if (actions) sources.actions = actions;
  const captionsPath = CaptionCache.defaultPath(dataset.store.path);
  if (fields.includes('caption') && existsSync(captionsPath)) {
    const cache = CaptionCache.open(captionsPath, { readonly: true });
    try {
      sources.captions = cache.captionSource(dataset.name);
    } finally {
      cache.close();
    }
  }
  return sources;
}

export function ablationTable(r: AblationResult): string {
  return table(
    ['step', 'fields', 'model', 'protocol', 'queries', 'nDCG@10', 'kappa_quadratic', 'data'],
    r.rows.map((row) => [
      String(row.step),
      row.step === 1 ? row.fields.join(' + ') : `+${row.added}`,
      row.model,
      row.protocol === 'retrieval' && row.model !== 'bm25' ? `retrieval (bm25@${r.settings.candidates})` : row.protocol,
      String(row.queries),
      fmt(row['nDCG@10']),
      fmt(row.kappa_quadratic),
      row.simulated ? 'SIMULATED actions' : 'real',
    ]),
  );
}

export function ablationHeader(r: AblationResult): string {
  const s = r.settings;
  return (
    `ablation on ${r.dataset}, ${r.split} split (seeded 70/10/20), judgment set ${r.judgmentSet}; fields added in the order ${r.order.join(' → ')}` +
    `${r.skipped.length ? ` (no data, skipped: ${r.skipped.join(', ')})` : ''}\n` +
    `small training configs for the ablation: local teacher ${s.teacherSeeds.length} member(s), ≤${s.teacherEpochs} epochs; student ≤${s.studentEpochs} epochs; ` +
    `κ = quadratic-weighted Cohen's kappa of the argmax level on the judged pairs`
  );
}

export function registerRepresentCommands(program: Command, g: () => GlobalOptions): void {
  program
    .command('represent')
    .description('show an item text representation: its id (part of the teacher-label cache key) and the text it builds for some items')
    .requiredOption('--dataset <name>', 'data set')
    .option('--representation <file>', 'representation JSON (default: title, description, fields, attributes; see docs/design.md)')
    .option('--item <id...>', 'items to show (default: the first --limit items)')
    .option('--limit <n>', 'items to show without --item', positiveInt('limit'), 3)
    .option('--cutoff <time>', 'user-action text only from log events before this time (epoch ms or ISO-8601; default: all)')
    .option('--window-days <n>', 'user-action text only from the last N days before the cut-off', positiveInt('window-days'))
    .option('--no-actions', 'do not read search logs')
    .option('--json', 'print JSON')
    .action(async (o: { dataset: string; representation?: string; item?: string[]; limit: number; json?: boolean } & ActionOptions) => {
      const config = o.representation ? readRepresentation(resolve(o.representation)) : DEFAULT_REPRESENTATION;
      const store = await storeWithDataset(g(), o.dataset);
      try {
        const dataset = store.dataset(o.dataset);
        const sources = fieldSources(
          g(),
          dataset,
          config.fields.map((f) => f.source),
          o,
        );
        const actions = sources.actions;
        const ids = o.item ?? store.itemIds(o.dataset).slice(0, o.limit);
        const items = store.items(o.dataset, ids);
        const missing = ids.filter((id) => !items.some((it) => it.id === id));
        if (missing.length) throw new DistilrankError('UNKNOWN_REFERENCE', `no item "${missing[0]}" in ${o.dataset}`, { field: 'item' });
        const texts = items.map((it) => ({ id: it.id, text: buildItemText(it, config, sources) }));
        const id = representationId(config);
        if (o.json) {
          console.log(JSON.stringify({ representation: id, config, simulatedActions: actions?.stats.simulated ?? false, items: texts }, null, 2));
          return;
        }
        console.log(`representation ${id}${actions?.stats.simulated ? ' (user actions from SIMULATED logs)' : ''}`);
        console.log(
          `fields: ${config.fields.map((f) => `${f.source}${f.maxTokens ? `≤${f.maxTokens}` : ''}`).join(', ')}; at most ${config.maxChars} characters`,
        );
        for (const t of texts) console.log(`\n# ${t.id}\n${t.text}`);
      } finally {
        store.close();
      }
    });

  program
    .command('simulate-logs')
    .description(
      "write SIMULATED search logs for a data set (position-based click model, relevance from the training split's human labels only; see docs/design.md)",
    )
    .requiredOption('--dataset <name>', 'data set')
    .option('--events <n>', 'at least this many events (clicks, long clicks, saves)', positiveInt('events'), DEFAULT_SIMULATED_EVENTS)
    .option('--seed <n>', 'random seed', (v) => Number(v), 1)
    .option('--json', 'print the summary as JSON')
    .action(async (o: { dataset: string; events: number; seed: number; json?: boolean }) => {
      if (!Number.isFinite(o.seed)) throw new DistilrankError('BAD_OPTION', '--seed must be a number', { field: 'seed' });
      const store = await storeWithDataset(g(), o.dataset);
      try {
        const dataset = store.dataset(o.dataset);
        const t0 = performance.now();
        const sim = simulateLogs(dataset, { events: o.events, seed: o.seed });
        const removed = dataset.replaceSimulatedLogEvents(sim.events);
        const byAction: Record<string, number> = {};
        for (const e of sim.events) byAction[e.action] = (byAction[e.action] ?? 0) + 1;
        const summary = {
          dataset: o.dataset,
          simulated: true,
          events: sim.events.length,
          byAction,
          sessions: sim.sessions,
          queries: sim.queries,
          trainJudgments: sim.trainJudgments,
          replacedSimulatedEvents: removed,
          from: new Date(sim.events[0]?.time ?? 0).toISOString(),
          to: new Date(sim.events.at(-1)?.time ?? 0).toISOString(),
          seconds: (performance.now() - t0) / 1000,
        };
        if (o.json) {
          console.log(JSON.stringify(summary, null, 2));
          return;
        }
        console.log(
          `SIMULATED logs for ${o.dataset}: ${summary.events} events (${Object.entries(byAction)
            .map(([a, n]) => `${a} ${n}`)
            .join(', ')}) from ${summary.sessions} sessions over ${summary.queries} training queries, ` +
            `${summary.from.slice(0, 10)} … ${summary.to.slice(0, 10)}; click model read ${summary.trainJudgments} training judgments only` +
            `${removed ? `; replaced ${removed} earlier simulated events` : ''} (${summary.seconds.toFixed(1)} s)`,
        );
      } finally {
        store.close();
      }
    });

  program
    .command('ablate')
    .description('evaluate the local teacher and the student with item fields added one at a time (both protocols, nDCG@10 and quadratic κ)')
    .requiredOption('--dataset <name>', 'data set')
    .option('--order <fields>', `fields in the order they are added, comma-separated (${FIELD_SOURCE_NAMES.join(', ')})`, ABLATION_ORDER.join(','))
    .option('--from <field>', 'first row: all fields of the order up to this one (default: title alone)')
    .option('--split <split>', 'split to evaluate on', 'test')
    .option('--judgments <set>', "judgment set (default: the data set's default)")
    .option('--models <list>', 'models, comma-separated: bm25 (the baseline), teacher (local), student', 'bm25,teacher,student')
    .option('--teacher-epochs <n>', 'local teacher: maximum epochs', positiveInt('teacher-epochs'), DEFAULT_ABLATION_SETTINGS.teacherEpochs)
    .option('--student-epochs <n>', 'student: maximum epochs', positiveInt('student-epochs'), DEFAULT_ABLATION_SETTINGS.studentEpochs)
    .option('--candidates <n>', 'retrieval protocol: BM25 candidates re-ranked', positiveInt('candidates'), DEFAULT_ABLATION_SETTINGS.candidates)
    .option(
      '--cutoff <time>',
      'user-action fields only from log events before this time (epoch ms or ISO-8601; default: all); evaluation queries are always left out',
    )
    .option('--window-days <n>', 'user-action fields only from the last N days before the cut-off', positiveInt('window-days'))
    .option('--no-actions', 'do not read search logs (no user-action rows)')
    .option('--json <file>', 'also write the table as JSON')
    .action(
      async (
        o: {
          dataset: string;
          order: string;
          from?: string;
          split: string;
          judgments?: string;
          models: string;
          teacherEpochs: number;
          studentEpochs: number;
          candidates: number;
          json?: string;
        } & ActionOptions,
      ) => {
        const order = parseFields(o.order, 'order');
        const from = o.from !== undefined ? parseFields(o.from, 'from')[0] : undefined;
        const split = parseSplit(o.split);
        const models = o.models.split(',').map((m) => m.trim());
        for (const m of models) {
          if (m !== 'bm25' && m !== 'teacher' && m !== 'student')
            throw new DistilrankError('BAD_OPTION', `--models: unknown model "${m}"`, {
              field: 'models',
              hint: 'a comma-separated list of bm25, teacher, student',
            });
        }
        const store = await storeWithDataset(g(), o.dataset);
        try {
          const dataset = store.dataset(o.dataset);
          const sources = fieldSources(g(), dataset, order, o);
          const actions = sources.actions;
          const result = await runAblation({
            dataset,
            order,
            ...(from ? { from } : {}),
            sources,
            simulatedActions: actions?.stats.simulated ?? false,
            split,
            ...(o.judgments ? { judgmentSet: o.judgments } : {}),
            models: models as AblationModel[],
            settings: { teacherEpochs: o.teacherEpochs, studentEpochs: o.studentEpochs, candidates: o.candidates },
            workDir: join(tmpdir(), `distilrank-ablate-${process.pid}`),
            onStage: (s) => note(g(), `ablate: ${s}`),
          });
          console.log(ablationHeader(result));
          console.log(ablationTable(result));
          console.log(`(${result.seconds.toFixed(0)} s)`);
          if (o.json) {
            writeFileAtomic(resolve(o.json), `${JSON.stringify(result, null, 2)}\n`);
            note(g(), `wrote ${resolve(o.json)}`);
          }
        } finally {
          store.close();
        }
      },
    );
}
