/**
 * User-action text from search logs: per item, the top tokens of the queries that led to engagement
 * (weighted by action type), the top tokens of the board titles it was saved to, and the text of the
 * linked page from long clicks. Read from the store's `log_events` table.
 *
 * Leakage: an aggregate used for evaluation may only see the past and never the evaluated queries.
 * `aggregateActions` therefore takes a strict cut-off (events at or after it are ignored) AND a set
 * of excluded query texts (by default every dev and test query of the data set, compared after
 * whitespace, NFKC and case folding, as the label pool does): an evaluation query's own clicks never
 * become its items' text, whenever they happened.
 */
import { normaliseQueryText } from '../../ingest/index.ts';
import { DistilrankError } from '../../core/index.ts';
import type { Dataset, StoredLogEvent } from '../../store/index.ts';
import { ENGLISH_STOPWORDS, tokenize } from '../../text/index.ts';
import type { ActionTextSource, ItemActionText } from './builder.ts';

/** A log event as the store keeps it (time in epoch ms). */
export type ActionEvent = StoredLogEvent;

/**
 * Weight of one event per action type in the engaged-query score: a click is weak evidence, a save
 * stronger (the user kept it), a long click strongest (the user stayed on it); a purchase counts as
 * a long click. Impressions and unknown actions count 0.
 */
export interface ActionWeights {
  click: number;
  save: number;
  long_click: number;
  purchase: number;
}
export const DEFAULT_ACTION_WEIGHTS: Readonly<ActionWeights> = Object.freeze({ click: 1, save: 2, long_click: 3, purchase: 3 });

/** A click counts as a long click from this dwell time (extra.dwell_ms) on. */
export const DEFAULT_LONG_CLICK_MS = 30_000;
/** Tokens kept per item and list. */
export const DEFAULT_TOP_TOKENS = 20;

/** Where `extra` carries what the aggregation reads. */
export const EXTRA_KEYS = Object.freeze({
  board: 'board',
  dwell: 'dwell_ms',
  linkTitle: 'link_title',
  linkDescription: 'link_description',
  simulated: 'simulated',
});

export interface AggregateOptions {
  /** Epoch ms: only events with time < cutoff are read (strict). */
  cutoff: number;
  /** Only events with time ≥ cutoff − windowMs (default: no lower bound). */
  windowMs?: number;
  weights?: Partial<ActionWeights>;
  /** Query texts whose events are never read (evaluation queries). */
  excludeQueries?: Iterable<string>;
  longClickMs?: number;
  topTokens?: number;
}

export interface AggregateStats {
  events: number;
  used: number;
  /** Ignored because at or after the cut-off, or before the window. */
  outsideWindow: number;
  /** Ignored because their query is an excluded (evaluation) query. */
  excludedQueries: number;
  items: number;
  /** True when any event read was simulated (figures from it must say so). */
  simulated: boolean;
}

/** Per-item action text, the ActionTextSource the representation builder reads. */
export class AggregatedActions implements ActionTextSource {
  constructor(
    private readonly byItem: ReadonlyMap<string, ItemActionText>,
    readonly stats: AggregateStats,
  ) {}
  actionsFor(itemId: string): ItemActionText | undefined {
    return this.byItem.get(itemId);
  }
  get size(): number {
    return this.byItem.size;
  }
}

/** How query texts are compared for exclusion (as the label pool compares them with evaluation queries). */
export const queryKey = (text: string): string => normaliseQueryText(text).normalize('NFKC').toLowerCase();

/** Content tokens (src/text tokenize, English stopwords and 1-character Latin tokens dropped), distinct, in order. */
function contentTokens(text: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const t of tokenize(text)) {
    if (ENGLISH_STOPWORDS.has(t) || (t.length < 2 && t.charCodeAt(0) < 0x80) || seen.has(t)) continue;
    seen.add(t);
    out.push(t);
  }
  return out;
}

/** Texts → token ids, cached (bounded): query, board and link texts repeat a lot in logs. */
class TokenTable {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();
  of(text: string): number[] {
    let ids = this.cache.get(text);
    if (ids === undefined) {
      ids = contentTokens(text).map((t) => {
        let id = this.ids.get(t);
        if (id === undefined) {
          id = this.names.length;
          this.ids.set(t, id);
          this.names.push(t);
        }
        return id;
      });
      if (this.cache.size >= 200_000) this.cache.clear();
      this.cache.set(text, ids);
    }
    return ids;
  }
}

/** Per item (by index) and list: token id → score. */
type Scores = Array<Map<number, number> | undefined>;

function add(scores: Scores, item: number, tokens: readonly number[], w: number): void {
  if (!tokens.length || w <= 0) return;
  let m = scores[item];
  if (!m) scores[item] = m = new Map();
  for (const t of tokens) m.set(t, (m.get(t) ?? 0) + w);
}

function top(scores: Map<number, number> | undefined, names: readonly string[], n: number): string[] {
  if (!scores) return [];
  return [...scores]
    .map(([id, score]) => [names[id]!, score] as const)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, n)
    .map(([t]) => t);
}

/**
 * Aggregate events (any iterable: a store cursor or an array) into per-item action text. Engaged
 * queries: each event adds its action weight to every content token of its query. Boards: a save's
 * `extra.board` tokens, one per save. Link text: `extra.link_title` / `extra.link_description` of
 * long clicks (action long_click, or a click with dwell_ms ≥ longClickMs; a long_click with a
 * shorter dwell_ms counts as a click). Ties in score are broken by token, so the result does not
 * depend on event order.
 */
export function aggregateActions(events: Iterable<ActionEvent>, opts: AggregateOptions): AggregatedActions {
  if (!Number.isFinite(opts.cutoff)) throw new DistilrankError('BAD_OPTION', `the cut-off must be a time, got ${String(opts.cutoff)}`, { field: 'cutoff' });
  const w: ActionWeights = { ...DEFAULT_ACTION_WEIGHTS, ...opts.weights };
  const from = opts.windowMs === undefined ? -Infinity : opts.cutoff - opts.windowMs;
  const longMs = opts.longClickMs ?? DEFAULT_LONG_CLICK_MS;
  const n = opts.topTokens ?? DEFAULT_TOP_TOKENS;
  const excluded = new Set([...(opts.excludeQueries ?? [])].map(queryKey));
  const isExcluded = new Map<string, boolean>();
  const tokens = new TokenTable();
  const itemIndex = new Map<string, number>();
  const itemIds: string[] = [];
  const queries: Scores = [];
  const boards: Scores = [];
  const links: Scores = [];
  const stats: AggregateStats = { events: 0, used: 0, outsideWindow: 0, excludedQueries: 0, items: 0, simulated: false };
  for (const e of events) {
    stats.events += 1;
    if (!(e.time < opts.cutoff) || e.time < from) {
      stats.outsideWindow += 1;
      continue;
    }
    let skip = isExcluded.get(e.queryText);
    if (skip === undefined) {
      skip = excluded.size > 0 && excluded.has(queryKey(e.queryText));
      isExcluded.set(e.queryText, skip);
    }
    if (skip) {
      stats.excludedQueries += 1;
      continue;
    }
    stats.used += 1;
    let item = itemIndex.get(e.itemId);
    if (item === undefined) {
      item = itemIds.length;
      itemIndex.set(e.itemId, item);
      itemIds.push(e.itemId);
    }
    const x = e.extra;
    if (x && String(x[EXTRA_KEYS.simulated]) === 'true') stats.simulated = true;
    const dwell = x ? Number(x[EXTRA_KEYS.dwell]) : NaN;
    let action = e.action;
    if (action === 'long_click' && Number.isFinite(dwell) && dwell < longMs) action = 'click';
    else if (action === 'click' && Number.isFinite(dwell) && dwell >= longMs) action = 'long_click';
    const weight = action === 'click' || action === 'save' || action === 'long_click' || action === 'purchase' ? w[action] : 0;
    add(queries, item, tokens.of(e.queryText), weight);
    if (action === 'save' && x && typeof x[EXTRA_KEYS.board] === 'string') add(boards, item, tokens.of(x[EXTRA_KEYS.board] as string), 1);
    if (action === 'long_click' && x) {
      const text = [x[EXTRA_KEYS.linkTitle], x[EXTRA_KEYS.linkDescription]].filter((v) => typeof v === 'string').join(' ');
      if (text) add(links, item, tokens.of(text), 1);
    }
  }
  const byItem = new Map<string, ItemActionText>();
  itemIds.forEach((id, i) => {
    const text = { engagedQueries: top(queries[i], tokens.names, n), boardTitles: top(boards[i], tokens.names, n), linkText: top(links[i], tokens.names, n) };
    if (text.engagedQueries.length || text.boardTitles.length || text.linkText.length) byItem.set(id, text);
  });
  stats.items = byItem.size;
  return new AggregatedActions(byItem, stats);
}

/** The dev and test query texts of a data set: excluded from action text by default. */
export function evaluationQueryTexts(dataset: Dataset): string[] {
  return dataset
    .storedQueries()
    .filter((q) => q.split !== 'train')
    .map((q) => q.text);
}

/** Aggregate a data set's stored events before `cutoff`, its evaluation queries excluded unless told otherwise. */
export function storedActions(dataset: Dataset, opts: Omit<AggregateOptions, 'excludeQueries'> & { excludeQueries?: Iterable<string> }): AggregatedActions {
  return aggregateActions(dataset.logEvents(opts.cutoff), { ...opts, excludeQueries: opts.excludeQueries ?? evaluationQueryTexts(dataset) });
}
