/**
 * The artifact set a service instance serves from: one store file (opened read-only), one data set,
 * the retriever that proposes candidates, and the model that re-ranks them (a student artifact, or a
 * ranker calibrated to levels). All of it is immutable while served, which is what makes replicas
 * interchangeable and reloads safe.
 *
 * ArtifactHolder swaps sets atomically: the new set is loaded and warmed up completely, then one
 * reference is switched. Each request holds a lease on the set it started with; a retired set closes
 * only when its last lease is released, so in-flight requests finish on the set they began with.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadModel, createRanker, RANKERS, type RankerOptions } from '../models/index.ts';
import { DistilrankError } from '../core/index.ts';
import { Bm25Index, type LevelPredictor, type Ranker, type ScoredItem } from '../retrieve/index.ts';
import { Store, type Dataset, type StoredItem } from '../store/index.ts';
import { applyLabelShift, DEFAULT_CANDIDATES, StudentRanker, type Explanation } from '../student/index.ts';

export interface ArtifactSpec {
  /** Store file (SQLite) holding the catalogue. */
  store: string;
  dataset: string;
  /** Re-ranking model: student, student-distilled, student:PATH, or a retriever name (bm25 …). */
  model: string;
  /** Candidate retriever by RANKERS name (default bm25). */
  retriever: string;
  /** Candidates retrieved per query before re-ranking (default 200). */
  candidates: number;
}

export const DEFAULT_RETRIEVER = 'bm25';

export interface RankedResult {
  id: string;
  title: string;
  score: number;
  expectedGrade: number;
  levels: number[];
  explanation?: Array<{ feature: string; value: number; contribution: number }>;
}

export interface ModelInfo {
  /** The model's display name, e.g. student(human). */
  name: string;
  /** Identifies the artifact: the ONNX checksum prefix for a student, else the ranker's name. */
  version: string;
  dataset: string;
  retriever: string;
  candidates: number;
  loadedAt: string;
}

function expectation(probs: Float32Array, row: number): number {
  let e = 0;
  for (let k = 0; k < 5; k++) e += probs[row * 5 + k]! * (k + 1);
  return e;
}

export class ArtifactSet {
  private leases = 0;
  private retired = false;
  private closing: Promise<void> | null = null;
  private markClosed!: () => void;
  /** Settles once the set is closed (after its last lease when retired). */
  readonly closed: Promise<void> = new Promise((res) => (this.markClosed = res));

  private constructor(
    readonly spec: ArtifactSpec,
    readonly info: ModelInfo,
    readonly dataset: Dataset,
    readonly retriever: Ranker,
    private readonly ranker: Ranker,
    private readonly student: StudentRanker | null,
    private readonly levels: LevelPredictor,
    private readonly closeModel: () => Promise<void>,
  ) {}

  /** Load everything, then run one query through it: a set that cannot answer is never served. */
  static async load(spec: ArtifactSpec): Promise<ArtifactSet> {
    const path = resolve(spec.store);
    if (!existsSync(path)) {
      throw new DistilrankError('FILE_NOT_FOUND', `no store at ${path}`, {
        file: path,
        field: 'store',
        hint: 'pass the store file that holds the data set (distilrank ingest writes it)',
      });
    }
    const store = Store.open(path, { readonly: true });
    let closeModel: (() => Promise<void>) | undefined;
    let bm25Index: Bm25Index | undefined;
    try {
      const dataset = store.dataset(spec.dataset);
      // BM25 from an in-memory copy of the FTS5 index (same scores; FTS5's slow common-term queries
      // were the service's latency tail), built in slices so a reload does not stall requests.
      if (RANKERS[spec.retriever]?.usesBm25 || RANKERS[spec.model]?.usesBm25) bm25Index = await Bm25Index.buildSliced(dataset);
      const rankerOptions: RankerOptions = { bm25Index };
      const retriever = createRanker(spec.retriever, dataset, rankerOptions);
      const model = await loadModel(spec.model, dataset, { candidates: spec.candidates, rankerOptions });
      closeModel = model.close;
      const student = model.ranker instanceof StudentRanker ? model.ranker : null;
      const levels = await model.levels();
      const version = student ? student.card.onnxSha256.slice(0, 12) : model.ranker.name;
      const info: ModelInfo = {
        name: model.ranker.name,
        version,
        dataset: spec.dataset,
        retriever: retriever.name,
        candidates: spec.candidates,
        loadedAt: new Date().toISOString(),
      };
      const closeAll = async () => {
        await model.close();
        bm25Index?.close();
      };
      const set = new ArtifactSet({ ...spec, store: path }, info, dataset, retriever, model.ranker, student, levels, closeAll);
      await set.search('warm up', 1);
      return set;
    } catch (e) {
      await closeModel?.().catch(() => undefined);
      bm25Index?.close();
      store.close();
      throw e;
    }
  }

  get canRerankTexts(): boolean {
    return this.student !== null;
  }

  /** Candidates from the retriever, filtered, re-ranked by the model: the top k with levels. */
  async search(query: string, k: number, opts: { filter?: (item: StoredItem) => boolean; explain?: boolean } = {}): Promise<RankedResult[]> {
    const retrieved = await this.retriever.retrieve(query, Math.max(k, this.spec.candidates));
    let candidates = retrieved.map((c) => c.itemId);
    let items: Map<string, StoredItem> | null = null;
    if (opts.filter) {
      const all = this.dataset.storedItems(candidates);
      items = new Map(all.map((it) => [it.id, it]));
      const keep = opts.filter;
      candidates = candidates.filter((id) => {
        const it = items!.get(id);
        return it !== undefined && keep(it);
      });
    }
    if (!candidates.length) return [];
    let top: Array<{ id: string; score: number; levels: number[] }>;
    if (this.student) {
      // One ONNX call: ranking by the model's own expected level, levels with the judged-pool shift.
      const probs = await this.student.rankingProbabilities(query, candidates);
      const order = candidates.map((id, i) => ({ id, i, score: expectation(probs, i) }));
      order.sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : -1));
      const chosen = order.slice(0, k);
      const picked = new Float32Array(chosen.length * 5);
      chosen.forEach((c, r) => picked.set(probs.subarray(c.i * 5, c.i * 5 + 5), r * 5));
      const shifted = applyLabelShift(picked, this.student.card.negatives.priorShift);
      top = chosen.map((c, r) => ({ id: c.id, score: c.score, levels: Array.from(shifted.subarray(r * 5, r * 5 + 5)) }));
    } else {
      // The retriever's own scores when the model is the retriever; otherwise the model scores them.
      const kept = new Set(candidates);
      const ranked: ScoredItem[] =
        this.ranker.name === this.retriever.name ? retrieved.filter((c) => kept.has(c.itemId)) : await this.ranker.score(query, candidates);
      ranked.sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? 1 : -1));
      const chosen = ranked.slice(0, k);
      const probs = await this.levels.predictLevels(
        query,
        chosen.map((c) => c.itemId),
      );
      top = chosen.map((c, r) => ({ id: c.itemId, score: c.score, levels: Array.from(probs.subarray(r * 5, r * 5 + 5)) }));
    }
    if (!items) items = new Map(this.dataset.storedItems(top.map((t) => t.id)).map((it) => [it.id, it]));
    const out: RankedResult[] = [];
    for (const t of top) {
      const r: RankedResult = {
        id: t.id,
        title: items.get(t.id)?.title ?? '',
        score: t.score,
        expectedGrade: t.levels.reduce((s, p, j) => s + p * (j + 1), 0),
        levels: t.levels,
      };
      if (opts.explain && this.student) {
        const ex: Explanation = await this.student.explain(query, t.id);
        r.explanation = ex.contributions;
      }
      out.push(r);
    }
    return out;
  }

  /** Relevance scores (expected level, 1–5) of free texts for a query; needs a student model. */
  async rerankTexts(query: string, docs: ReadonlyArray<{ title?: string; text: string }>): Promise<number[]> {
    if (!this.student) throw new Error('rerankTexts needs a student');
    const items: StoredItem[] = docs.map((d, i) => ({
      id: String(i),
      title: d.title ?? d.text,
      description: d.title !== undefined ? d.text : null,
      fields: {},
      attributes: {},
      imageUrl: null,
      language: null,
    }));
    const probs = await this.student.rankingProbabilitiesAdHoc(query, items);
    return items.map((_, i) => expectation(probs, i));
  }

  acquire(): this {
    this.leases += 1;
    return this;
  }

  release(): void {
    this.leases -= 1;
    if (this.retired && this.leases === 0) void this.close();
  }

  get inFlight(): number {
    return this.leases;
  }

  /** No new leases will be taken; close once the last one is released. */
  retire(): Promise<void> {
    this.retired = true;
    if (this.leases === 0) void this.close();
    return this.closed;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.closeModel().catch(() => undefined);
      this.dataset.store.close();
      this.markClosed();
    })();
    return this.closing;
  }
}

export const DEFAULT_SPEC_CANDIDATES = DEFAULT_CANDIDATES;

export class ArtifactHolder {
  private currentSet: ArtifactSet | null = null;
  private swapping: Promise<unknown> = Promise.resolve();
  private readonly retiring = new Set<Promise<void>>();

  get current(): ArtifactSet | null {
    return this.currentSet;
  }

  /** A lease on the current set; release it when the request is done. */
  acquire(): ArtifactSet | null {
    return this.currentSet?.acquire() ?? null;
  }

  /**
   * Load a new set and switch to it; the old set drains and closes in the background. A failed
   * load throws and leaves the current set serving. Swaps are serialised.
   */
  swap(load: () => Promise<ArtifactSet>): Promise<{ next: ArtifactSet; previous: ArtifactSet | null }> {
    const run = this.swapping.then(async () => {
      const next = await load();
      const previous = this.currentSet;
      this.currentSet = next;
      if (previous) {
        const p = previous.retire();
        this.retiring.add(p);
        void p.then(() => this.retiring.delete(p));
      }
      return { next, previous };
    });
    this.swapping = run.catch(() => undefined);
    return run;
  }

  /** Close everything (after the server stopped taking requests and drained). */
  async close(): Promise<void> {
    await this.swapping;
    const set = this.currentSet;
    this.currentSet = null;
    if (set) this.retiring.add(set.retire());
    await Promise.all([...this.retiring]);
  }
}
