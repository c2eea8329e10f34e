/**
 * Offline batch labelling through the OpenAI Batch JSONL format — what OpenAI's Batch API and
 * `vllm run-batch` read and write — instead of live calls:
 *
 *   exportBatch  → requests.jsonl (one line per pair still missing from the cache) and
 *                  requests.jsonl.manifest.json (custom_id → cache key and data set pairs)
 *   (the user runs the batch: `vllm run-batch -i requests.jsonl -o results.jsonl --model …`, or uploads
 *    the file to /v1/batches)
 *   importBatch  → every readable answer of results.jsonl, read by the teacher's own parser, saved in
 *                  the label cache under the manifest's key.
 *
 * Request line: `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}` where body is
 * exactly what LlmTeacher.judge() sends for the pair (LlmTeacher.batchRequestBody). Only single-call
 * modes can be batched: logprobs, and samples with n = k in one request (an endpoint that ignores n
 * answers fewer choices, which import counts as failed). 'auto' is refused (BAD_OPTION).
 *
 * custom_id: `dr-` + the first 32 hex digits of SHA-256 over the full cache key (teacher, model, prompt
 * version, query-text hash, item-text hash): the same pair always gets the same id, pairs with equal
 * texts share one request, and an answer can never be filed under another teacher configuration's
 * key. The manifest holds the full key and every data set pair (dataset, query id, item id) that the
 * request answers.
 *
 * Import validates the whole output file (JSON lines, every custom_id in the manifest) before it
 * writes anything. A line with an error, a non-200 status or a body the teacher cannot read is counted
 * as failed and not cached, so the next export includes its pair again. A label already in the cache
 * is kept (never overwritten) and counted. Cost per label: one call, the body's usage at the teacher's
 * configured prices (set batch prices when the provider discounts batches), 0 seconds.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { writeFileAtomic, DistilrankError, isRecord } from '../core/index.ts';
import type { LlmTeacher, TeacherJudgment, TeacherPair } from '../teacher/index.ts';
import { type CallCost, addCost, CallError, ZERO_COST } from '../jobs/index.ts';
import { keyString, pairKey, type LabelCache, type LabelKey, type LabelRef } from './cache.ts';

/** The request URL of every line (relative, as both OpenAI and vLLM expect). */
export const BATCH_URL = '/v1/chat/completions';
export const BATCH_MANIFEST_FORMAT = 'distilrank-batch-manifest';
export const BATCH_MANIFEST_VERSION = 1;
/** Failures listed in an import's result (all are counted). */
export const MAX_LISTED_FAILURES = 100;

/** Where exportBatch puts the manifest of a requests file. */
export function manifestPathFor(requestsPath: string): string {
  return `${requestsPath}.manifest.json`;
}

/** The custom_id of a cache key. */
export function batchCustomId(key: LabelKey): string {
  return `dr-${createHash('sha256').update(keyString(key), 'utf8').digest('hex').slice(0, 32)}`;
}

export interface BatchManifestRef {
  queryId: string;
  itemId: string;
  queryText: string;
}

export interface BatchManifestEntry {
  queryHash: string;
  itemHash: string;
  /** The data set pairs this request answers (more than one when texts repeat). */
  refs: BatchManifestRef[];
}

export interface BatchManifest {
  format: typeof BATCH_MANIFEST_FORMAT;
  version: typeof BATCH_MANIFEST_VERSION;
  createdAt: string;
  dataset: string;
  teacher: string;
  model: string;
  promptVersion: string;
  mode: 'logprobs' | 'samples';
  /** custom_id → what it labels. */
  entries: Record<string, BatchManifestEntry>;
}

export interface ExportBatchOptions {
  cache: LabelCache;
  teacher: LlmTeacher;
  pairs: readonly TeacherPair[];
  dataset: string;
  /** The requests JSONL file to write; the manifest goes to manifestPathFor(path). */
  path: string;
}

export interface ExportBatchResult {
  /** Request lines written (one per distinct cache key missing from the cache). */
  written: number;
  /** Distinct keys already in the cache (not written; their pairs are recorded as answered). */
  alreadyCached: number;
  /** Pairs with the same key as an earlier pair: answered by that pair's request or label. */
  duplicates: number;
  path: string;
  manifestPath: string;
}

/**
 * Write the batch requests for every pair whose label is not in the cache, and its manifest (both
 * atomically; the manifest first). Pairs already cached are recorded as answering their data set
 * pair (as runLabelJob does), so the cache must be writable. Nothing is sent anywhere.
 */
export function exportBatch(opts: ExportBatchOptions): ExportBatchResult {
  const { cache, teacher, pairs, dataset, path } = opts;
  const mode = teacher.batchMode(); // BAD_OPTION for auto, before anything is written
  const manifestPath = manifestPathFor(path);
  const entries: Record<string, BatchManifestEntry> = {};
  const pending = new Map<string, { id: string; pair: TeacherPair }>();
  const cachedRefs: Array<{ key: LabelKey; ref: LabelRef }> = [];
  const seen = new Map<string, { key: LabelKey; cached: boolean }>();
  let duplicates = 0;
  let alreadyCached = 0;
  for (const pair of pairs) {
    const key = pairKey(teacher, pair);
    const ks = keyString(key);
    let state = seen.get(ks);
    if (state) duplicates += 1;
    else {
      state = { key, cached: cache.has(key) };
      seen.set(ks, state);
      if (state.cached) alreadyCached += 1;
    }
    const ref = { queryId: pair.queryId, itemId: pair.itemId, queryText: pair.queryText };
    if (state.cached) {
      cachedRefs.push({ key, ref: { dataset, ...ref } });
      continue;
    }
    const id = batchCustomId(key);
    const entry = entries[id];
    if (entry) {
      if (entry.queryHash !== key.queryHash || entry.itemHash !== key.itemHash) throw new Error(`batch: custom_id collision on ${id}`);
      entry.refs.push(ref);
    } else {
      entries[id] = { queryHash: key.queryHash, itemHash: key.itemHash, refs: [ref] };
      pending.set(id, { id, pair });
    }
  }
  const manifest: BatchManifest = {
    format: BATCH_MANIFEST_FORMAT,
    version: BATCH_MANIFEST_VERSION,
    createdAt: new Date().toISOString(),
    dataset,
    teacher: teacher.name,
    model: teacher.model,
    promptVersion: teacher.promptVersion,
    mode,
    entries,
  };
  const lines = function* (): Generator<string> {
    for (const { id, pair } of pending.values()) {
      yield JSON.stringify({ custom_id: id, method: 'POST', url: BATCH_URL, body: teacher.batchRequestBody(pair) }) + '\n';
    }
  };
  writeFileAtomic(manifestPath, [JSON.stringify(manifest) + '\n']);
  writeFileAtomic(path, lines());
  cache.addRefs(cachedRefs);
  return { written: pending.size, alreadyCached, duplicates, path, manifestPath };
}

// ---------------------------------------------------------------------------------------------

const isString = (x: unknown): x is string => typeof x === 'string';

/** Read and check a manifest file (FILE_NOT_FOUND, BAD_INPUT). */
export function readBatchManifest(path: string): BatchManifest {
  if (!existsSync(path)) {
    throw new DistilrankError('FILE_NOT_FOUND', `no batch manifest at ${path}`, {
      file: path,
      hint: 'pass the .manifest.json file that exportBatch wrote beside the requests file',
    });
  }
  const badManifest = (what: string, field?: string): DistilrankError =>
    new DistilrankError('BAD_INPUT', `not a distilrank batch manifest: ${what}`, {
      file: path,
      ...(field === undefined ? {} : { field }),
      hint: 'pass the .manifest.json file that exportBatch wrote beside the requests file',
    });
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw badManifest(`not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(m) || m.format !== BATCH_MANIFEST_FORMAT) throw badManifest(`"format" is not "${BATCH_MANIFEST_FORMAT}"`, 'format');
  if (m.version !== BATCH_MANIFEST_VERSION) {
    throw badManifest(`version ${JSON.stringify(m.version)}; this distilrank reads version ${BATCH_MANIFEST_VERSION}`, 'version');
  }
  for (const f of ['createdAt', 'dataset', 'teacher', 'model', 'promptVersion'] as const) {
    if (!isString(m[f])) throw badManifest(`"${f}" is not a string`, f);
  }
  if (m.mode !== 'logprobs' && m.mode !== 'samples') throw badManifest('"mode" is neither logprobs nor samples', 'mode');
  if (!isRecord(m.entries)) throw badManifest('"entries" is not an object', 'entries');
  for (const [id, e] of Object.entries(m.entries)) {
    const ok =
      isRecord(e) &&
      isString(e.queryHash) &&
      isString(e.itemHash) &&
      Array.isArray(e.refs) &&
      e.refs.every((r) => isRecord(r) && isString(r.queryId) && isString(r.itemId) && isString(r.queryText));
    if (!ok) throw badManifest(`entry "${id}" is malformed`, `entries.${id}`);
  }
  return m as unknown as BatchManifest;
}

export interface ImportBatchOptions {
  cache: LabelCache;
  teacher: LlmTeacher;
  /** The batch output JSONL file (vLLM run-batch's -o file, or an OpenAI batch's output file). */
  path: string;
  /** The manifest written with the requests (its path, or the manifest itself). */
  manifest: string | BatchManifest;
}

export interface BatchFailure {
  /** 1-based line in the output file. */
  line: number;
  customId: string;
  queryId: string;
  itemId: string;
  message: string;
}

export interface ImportBatchResult {
  /** Labels saved by this import. */
  imported: number;
  /** Answered lines whose label was already in the cache (kept as it was). */
  alreadyCached: number;
  /** Lines with an error, a non-200 status or an unreadable body (not cached: the next export includes them). */
  failed: number;
  /** What the imported labels cost (usage at the teacher's prices). */
  cost: CallCost;
  /** The first MAX_LISTED_FAILURES failures. */
  failures: BatchFailure[];
}

interface OutputLine {
  line: number;
  customId: string;
  value: Record<string, unknown>;
}

async function* outputLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const raw of rl) {
      line += 1;
      const text = raw.trim();
      if (text) yield { line, text };
    }
  } finally {
    rl.close();
  }
}

/** The parsed output line, or a BAD_INPUT naming file and line. */
function parseOutputLine(path: string, line: number, text: string, manifest: BatchManifest, manifestName: string): OutputLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new DistilrankError('BAD_INPUT', `not a JSON line (${(e as Error).message})`, {
      file: path,
      line,
      hint: 'pass the output file of the batch (one JSON object per line)',
    });
  }
  if (!isRecord(value) || !isString(value.custom_id)) {
    throw new DistilrankError('BAD_INPUT', 'a batch output line needs a string "custom_id"', {
      file: path,
      line,
      field: 'custom_id',
      hint: 'pass the output file of the batch, not its input',
    });
  }
  if (!Object.hasOwn(manifest.entries, value.custom_id)) {
    throw new DistilrankError('BAD_INPUT', `custom_id "${value.custom_id}" is not in the manifest ${manifestName}`, {
      file: path,
      line,
      field: 'custom_id',
      hint: 'pass the manifest written with the requests this output answers (nothing was imported)',
    });
  }
  return { line, customId: value.custom_id, value };
}

/** The chat-completion body of a successful line, or why the line failed. */
function successBody(v: Record<string, unknown>): { body: unknown } | { error: string } {
  const errorText = (e: unknown): string => {
    if (isString(e)) return e;
    if (isRecord(e)) {
      if (isString(e.message)) return isString(e.code) ? `${e.code}: ${e.message}` : e.message;
      if (isRecord(e.error)) return errorText(e.error);
    }
    return JSON.stringify(e);
  };
  if (v.error !== null && v.error !== undefined) return { error: errorText(v.error) };
  const r = v.response;
  if (!isRecord(r)) return { error: 'the line has no response' };
  const status = r.status_code;
  if (status !== 200) {
    const detail = isRecord(r.body) && r.body.error !== undefined ? `: ${errorText(r.body.error)}` : '';
    return { error: `HTTP ${JSON.stringify(status)}${detail}` };
  }
  return { body: r.body };
}

/**
 * Save the answers of a batch output file in the label cache under the manifest's keys. Refuses
 * (MODEL_MISMATCH) a manifest written for another teacher, model or prompt version; refuses
 * (BAD_INPUT, with file and line) an output line that is not JSON or whose custom_id the manifest
 * does not know — both before anything is written.
 */
export async function importBatch(opts: ImportBatchOptions): Promise<ImportBatchResult> {
  const { cache, teacher, path } = opts;
  const manifestName = isString(opts.manifest) ? opts.manifest : 'given';
  const manifest = isString(opts.manifest) ? readBatchManifest(opts.manifest) : opts.manifest;
  teacher.batchMode(); // BAD_OPTION for auto
  const mine = { teacher: teacher.name, model: teacher.model, promptVersion: teacher.promptVersion };
  for (const f of ['teacher', 'model', 'promptVersion'] as const) {
    if (manifest[f] !== mine[f]) {
      throw new DistilrankError(
        'MODEL_MISMATCH',
        `the batch was exported for ${f} "${manifest[f]}", but the teacher has ${f} "${mine[f]}": its labels would be filed under the wrong key`,
        {
          ...(isString(opts.manifest) ? { file: opts.manifest } : {}),
          field: f,
          hint: `import with the teacher configuration the batch was made with (model "${manifest.model}", prompt version "${manifest.promptVersion}")`,
        },
      );
    }
  }
  if (!existsSync(path)) {
    throw new DistilrankError('FILE_NOT_FOUND', `no batch output file at ${path}`, {
      file: path,
      hint: 'pass the output file the batch run wrote (vllm run-batch -o …, or the OpenAI batch output file)',
    });
  }

  // Pass 1: the whole file is well-formed and answers this manifest.
  for await (const { line, text } of outputLines(path)) parseOutputLine(path, line, text, manifest, manifestName);

  // Pass 2: save.
  const result: ImportBatchResult = { imported: 0, alreadyCached: 0, failed: 0, cost: { ...ZERO_COST }, failures: [] };
  for await (const { line, text } of outputLines(path)) {
    const { customId, value } = parseOutputLine(path, line, text, manifest, manifestName);
    const entry = manifest.entries[customId]!;
    const key: LabelKey = { ...mine, queryHash: entry.queryHash, itemHash: entry.itemHash };
    const refs = entry.refs.map((r): { key: LabelKey; ref: LabelRef } => ({ key, ref: { dataset: manifest.dataset, ...r } }));
    const fail = (message: string): void => {
      result.failed += 1;
      if (result.failures.length < MAX_LISTED_FAILURES) {
        const first = entry.refs[0];
        result.failures.push({ line, customId, queryId: first?.queryId ?? '', itemId: first?.itemId ?? '', message });
      }
    };
    const got = successBody(value);
    if ('error' in got) {
      fail(got.error);
      continue;
    }
    if (cache.has(key)) {
      result.alreadyCached += 1;
      cache.addRefs(refs);
      continue;
    }
    let judgment: TeacherJudgment;
    try {
      judgment = teacher.parseBatchResponse(got.body);
    } catch (e) {
      if (!(e instanceof CallError)) throw e;
      fail(e.message);
      continue;
    }
    const [first, ...rest] = refs;
    if (cache.put(key, judgment, first?.ref)) {
      result.imported += 1;
      result.cost = addCost(result.cost, judgment.cost);
    } else result.alreadyCached += 1;
    cache.addRefs(rest);
  }
  return result;
}
