/**
 * Synthetic search logs for data sets without any, so the user-action machinery can be run and
 * measured. Every event is marked `extra.simulated = "true"`: figures computed from them must be
 * labelled simulated. The click model (documented in docs/design.md):
 *
 * - Queries: the TRAINING split's queries only (any whose text equals a dev/test query's is left
 *   out), drawn uniformly per search session.
 * - Result list: the query's BM25 top `depth` (10), the same list every session.
 * - Position-based examination: the result at rank r is examined with probability 1 / r^ETA.
 * - Attractiveness: an examined result is clicked with a probability set by its training-split human
 *   level (CLICK_BY_LEVEL); unjudged results use UNJUDGED. No other split's judgments are read.
 * - A click is a long click (action `long_click`, dwell ≥ 30 s) with LONG_BY_LEVEL, else a short
 *   `click` (dwell 2–25 s); a clicked result is then saved with SAVE_BY_LEVEL, to a board whose title
 *   is drawn from the item's own title tokens (no digits) plus one generic board word.
 * - Sessions are spread evenly over `spanDays` from `start`, so a cut-off splits them in time.
 * Seeded (mulberry32): the same store, options and seed give the same events.
 */
import { DistilrankError, mulberry32 } from '../../core/index.ts';
import { Bm25Ranker } from '../../retrieve/index.ts';
import type { Dataset } from '../../store/index.ts';
import { ENGLISH_STOPWORDS, tokenize } from '../../text/index.ts';
import { EXTRA_KEYS, queryKey, type ActionEvent } from './actions.ts';

/** Examination decay with rank: P(examine rank r) = r^-ETA. */
export const ETA = 1;
/** P(click | examined) by human level L1…L5. */
export const CLICK_BY_LEVEL = [0.02, 0.08, 0.25, 0.55, 0.8] as const;
/** P(long click | click) by level. */
export const LONG_BY_LEVEL = [0.05, 0.1, 0.3, 0.6, 0.8] as const;
/** P(save | click) by level. */
export const SAVE_BY_LEVEL = [0.01, 0.02, 0.1, 0.25, 0.4] as const;
/** Probabilities for results no training judgment covers. */
export const UNJUDGED = { click: 0.05, long: 0.1, save: 0.02 } as const;
const BOARD_WORDS = ['ideas', 'wishlist', 'favourites', 'setup', 'to buy', 'office', 'gear'];
export const DEFAULT_SIMULATED_EVENTS = 20_000;
export const DEFAULT_SIMULATION_START = Date.UTC(2025, 0, 1);

export interface SimulateOptions {
  /** Stop after at least this many events (clicks, long clicks, saves). */
  events?: number;
  seed?: number;
  depth?: number;
  judgmentSet?: string;
  /** Epoch ms of the first session (default 2025-01-01). */
  start?: number;
  spanDays?: number;
}

export interface Simulation {
  events: ActionEvent[];
  sessions: number;
  queries: number;
  /** The training judgments the click model read. */
  trainJudgments: number;
}

function boardTitle(title: string, rand: () => number): string {
  const words = [...new Set(tokenize(title).filter((t) => !ENGLISH_STOPWORDS.has(t) && !/\d/.test(t) && t.length > 2))];
  const picked: string[] = [];
  for (let k = 0; k < 2 && words.length; k++) picked.push(words.splice(Math.floor(rand() * words.length), 1)[0]!);
  picked.push(BOARD_WORDS[Math.floor(rand() * BOARD_WORDS.length)]!);
  return picked.join(' ');
}

export function simulateLogs(dataset: Dataset, opts: SimulateOptions = {}): Simulation {
  const target = opts.events ?? DEFAULT_SIMULATED_EVENTS;
  if (!Number.isInteger(target) || target < 1) throw new DistilrankError('BAD_OPTION', `events must be a positive integer, got ${target}`, { field: 'events' });
  const judgmentSet = opts.judgmentSet ?? dataset.defaultJudgmentSet;
  const depth = opts.depth ?? 10;
  const evaluation = new Set(
    dataset
      .storedQueries()
      .filter((q) => q.split !== 'train')
      .map((q) => queryKey(q.text)),
  );
  const queries = dataset.storedQueries('train').filter((q) => !evaluation.has(queryKey(q.text)));
  if (!queries.length) {
    throw new DistilrankError('BAD_INPUT', `the training split of ${dataset} has no queries to simulate searches for`, {
      field: 'split',
      hint: 'ingest queries (70% go to the training split)',
    });
  }
  const level = new Map<string, number>();
  const train = dataset.storedJudgments({ split: 'train', judgmentSet });
  for (const j of train) level.set(`${j.queryId}\0${j.itemId}`, j.level);
  const bm25 = new Bm25Ranker(dataset);
  const lists = new Map<string, string[]>();
  const titles = new Map<string, string>();
  const rand = mulberry32(opts.seed ?? 1);
  const start = opts.start ?? DEFAULT_SIMULATION_START;
  const spanMs = (opts.spanDays ?? 180) * 86_400_000;
  // Times are relative to the session start first; sessions are spread evenly over the span at the end.
  const events: ActionEvent[] = [];
  const sessionOf: number[] = [];
  let sessions = 0;
  const used = new Set<string>();
  while (events.length < target) {
    if (sessions > target * 200) break; // a catalogue where nothing is ever clicked
    const q = queries[Math.floor(rand() * queries.length)]!;
    let list = lists.get(q.id);
    if (!list) {
      list = bm25.retrieve(q.text, depth).map((c) => c.itemId);
      lists.set(q.id, list);
      for (const item of dataset.storedItems(list.filter((id) => !titles.has(id)))) titles.set(item.id, item.title);
    }
    const t0 = Math.floor(rand() * 60_000);
    const session = sessions;
    sessions += 1;
    used.add(q.id);
    list.forEach((itemId, i) => {
      if (rand() >= Math.pow(i + 1, -ETA)) return;
      const l = level.get(`${q.id}\0${itemId}`);
      const pClick = l === undefined ? UNJUDGED.click : CLICK_BY_LEVEL[l - 1]!;
      if (rand() >= pClick) return;
      const long = rand() < (l === undefined ? UNJUDGED.long : LONG_BY_LEVEL[l - 1]!);
      const dwell = long ? 30_000 + Math.floor(rand() * 150_000) : 2_000 + Math.floor(rand() * 23_000);
      const time = t0 + (i + 1) * 1_000;
      events.push({
        queryText: q.text,
        itemId,
        action: long ? 'long_click' : 'click',
        position: i + 1,
        time,
        extra: { [EXTRA_KEYS.dwell]: dwell, [EXTRA_KEYS.simulated]: 'true' },
      });
      sessionOf.push(session);
      if (rand() < (l === undefined ? UNJUDGED.save : SAVE_BY_LEVEL[l - 1]!)) {
        events.push({
          queryText: q.text,
          itemId,
          action: 'save',
          position: i + 1,
          time: time + dwell,
          extra: { [EXTRA_KEYS.board]: boardTitle(titles.get(itemId) ?? '', rand), [EXTRA_KEYS.simulated]: 'true' },
        });
        sessionOf.push(session);
      }
    });
  }
  events.forEach((e, k) => (e.time += start + Math.floor((sessionOf[k]! / sessions) * spanMs)));
  events.sort((a, b) => a.time - b.time);
  return { events, sessions, queries: used.size, trainJudgments: train.length };
}
