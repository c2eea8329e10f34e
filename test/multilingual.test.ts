/**
 * A hand-written multilingual set (test/fixtures/multilingual: 12 items and 10 queries each in
 * Spanish, German, Japanese and Chinese; languages declared for half, detected for the rest) through
 * the whole pipeline: ingest (text byte-for-byte) → BM25 finds the right item for every query, CJK
 * included → features tell the relevant item from the others → a tiny student trains → the llm
 * teacher (fake OpenAI server) receives the text intact in its prompt → the labels are cached.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureExtractor, featureIndex } from '../src/features/index.ts';
import { LabelCache } from '../src/label/index.ts';
import { Bm25Ranker } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';
import { detectLanguage } from '../src/text/index.ts';
import { block, messagesOf } from './fake-openai.ts';
import { REPO_ROOT, runCliAsync, useFakeOpenAI, useTempDir } from './helpers.ts';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'multilingual');
const DS = 'multi';
const readJsonl = (f: string) =>
  readFileSync(join(FIX, f), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, string>);
const ITEMS = readJsonl('items.jsonl');
const QUERIES = readJsonl('queries.jsonl');
/** query id → the item graded 3 (the one it asks for). */
const TARGET = new Map(
  readFileSync(join(FIX, 'qrels.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(' 3'))
    .map((l) => l.split(' '))
    .map(([q, , item]) => [q!, item!]),
);
const langOf = (id: string) => id.slice(0, 2);

const tmp = useTempDir('distilrank-multilingual-');
const fake = useFakeOpenAI({ DISTILRANK_LLM_PRICE_INPUT: '0', DISTILRANK_LLM_PRICE_OUTPUT: '0' });
const { env } = fake;
let store: Store;

beforeAll(async () => {
  const r = await runCliAsync(
    [
      'ingest',
      '--name',
      DS,
      '--items',
      join(FIX, 'items.jsonl'),
      '--queries',
      join(FIX, 'queries.jsonl'),
      '--judgments',
      join(FIX, 'qrels.txt'),
      '--scale',
      'quepid-0-3',
    ],
    tmp.path,
    {},
  );
  expect(r.status, r.stderr).toBe(0);
  store = Store.open(join(tmp.path, '.distilrank', 'store.sqlite'));
}, 60_000);
afterAll(() => {
  store?.close();
});

describe('multilingual pipeline', () => {
  it('ingests every text byte-for-byte, with declared languages kept and the others detectable', () => {
    const stored = store.items(
      DS,
      ITEMS.map((i) => i.id!),
    );
    expect(stored).toHaveLength(ITEMS.length);
    for (const [i, it] of stored.entries()) {
      const src = ITEMS[i]!;
      expect(Buffer.from(it.title, 'utf8').equals(Buffer.from(src.title!, 'utf8'))).toBe(true);
      expect(it.description).toBe(src.description);
      expect(it.language).toBe(src.lang ?? null); // `lang` is read as the declared language
      expect(detectLanguage(`${it.title}\n${it.description}`), it.id).toBe(langOf(it.id));
    }
    const queries = new Map(store.queries(DS).map((q) => [q.id, q]));
    for (const q of QUERIES) {
      expect(queries.get(q.id!)!.text).toBe(q.text);
      expect(queries.get(q.id!)!.language).toBe(q.lang ?? null);
    }
    // Script decides CJK queries however short (Han alone reads as Chinese: 冷蔵庫 is Japanese, and
    // declaring the language is the way to say so); short Latin queries may give no evidence
    // (undefined), never a wrong guess.
    for (const q of QUERIES) {
      const guess = detectLanguage(q.text!);
      const hanOnly = /^[\p{Script=Han}\s]+$/u.test(q.text!);
      if (hanOnly) expect(guess, q.text).toBe('zh');
      else if (['ja', 'zh'].includes(langOf(q.id!))) expect(guess, q.text).toBe(langOf(q.id!));
      else expect([undefined, langOf(q.id!)], q.text).toContain(guess);
    }
  });

  it('BM25 puts the asked-for item first for every query, Japanese and Chinese included', () => {
    const bm25 = new Bm25Ranker(store.dataset(DS));
    const misses: string[] = [];
    for (const q of QUERIES) {
      const top = bm25.retrieve(q.text!, 5);
      if (top[0]?.itemId !== TARGET.get(q.id!)) misses.push(`${q.id} ${q.text} → ${top.map((t) => t.itemId).join(',')}`);
    }
    expect(misses).toEqual([]);
    // A CJK word inside a longer run is found (no spaces in the item title): 冷蔵庫 in 小型冷蔵庫, 台灯 in LED护眼台灯.
    expect(bm25.retrieve('冷蔵庫', 1)[0]!.itemId).toBe('ja-00');
    expect(bm25.retrieve('台灯', 1)[0]!.itemId).toBe('zh-08');
    // 办公椅 (office chair) shares 办公 with 办公室冰箱 (office fridge): the chair still wins on 公椅.
    expect(bm25.retrieve('办公椅', 2).map((r) => r.itemId)).toEqual(['zh-06', 'zh-00']);
  });

  it('features separate the asked-for item from unrelated ones in every language', () => {
    const fx = FeatureExtractor.fromStore(store.dataset(DS));
    // Word-level features carry Spanish and German; CJK words inside longer runs show in the
    // character-gram features (trigram Jaccard, CJK bigram phrase match).
    const match = ['bm25_title', 'coverage_all', 'trigram_jaccard_title', 'phrase_title'].map(featureIndex);
    const score = (row: Float32Array) => match.reduce((s, i) => s + row[i]!, 0);
    const dim = FeatureExtractor.dim;
    for (const q of QUERIES) {
      const target = TARGET.get(q.id!)!;
      const other = `${langOf(q.id!)}-${String((Number(target.slice(3)) + 3) % 12).padStart(2, '0')}`;
      const rows = fx.extract({ text: q.text! }, [target, other]);
      expect(rows.every(Number.isFinite), q.id).toBe(true);
      const t = rows.subarray(0, dim);
      const o = rows.subarray(dim, 2 * dim);
      expect(score(t), `${q.id} ${q.text}`).toBeGreaterThan(score(o));
    }
  });

  it('a tiny student trains on it', async () => {
    const r = await runCliAsync(['train', '--dataset', DS, '--epochs', '3', '--out', 'student'], tmp.path, {});
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(tmp.path, 'student', 'model.onnx'))).toBe(true);
  }, 120_000);

  it('the llm teacher receives query and item text intact (UTF-8, byte for byte) and the labels are cached', async () => {
    fake.requests.length = 0;
    const r = await runCliAsync(['label', '--dataset', DS, '--teacher', 'llm', '--k', '3', '--queries', 'train'], tmp.path, env);
    expect(r.status, r.stderr).toBe(0);
    expect(fake.requests.length).toBeGreaterThan(10);
    const queryTexts = new Set(QUERIES.map((q) => q.text!));
    const titles = new Set(ITEMS.map((i) => i.title!));
    const seenLangs = new Set<string>();
    for (const req of fake.requests) {
      const user = messagesOf(req).find((m) => m.role === 'user')!.content;
      const query = block(user, 'query').trim();
      expect(queryTexts.has(query), query).toBe(true);
      const title = /title: (.*)/.exec(block(user, 'item'))![1]!.trim();
      expect(titles.has(title), title).toBe(true);
      // On the wire: the raw request body carries the same UTF-8 bytes (no lossy escaping or folding).
      expect(Buffer.from(req.raw, 'utf8').includes(Buffer.from(query, 'utf8'))).toBe(true);
      seenLangs.add(QUERIES.find((q) => q.text === query)!.id!.slice(0, 2));
      // The prompt says any language may come.
      expect(messagesOf(req).find((m) => m.role === 'system')!.content).toContain('any language');
    }
    expect([...seenLangs].sort()).toEqual(['de', 'es', 'ja', 'zh']);
    const cache = LabelCache.open(join(tmp.path, '.distilrank', 'labels.sqlite'), { readonly: true });
    try {
      const rows = cache.labelsFor(DS, 'llm', 'fake-judge', cache.db.prepare('SELECT prompt_version FROM labels LIMIT 1').pluck().get() as string);
      expect(rows.length).toBe(fake.requests.length);
      for (const row of rows) expect(queryTexts.has(row.queryText!)).toBe(true);
    } finally {
      cache.close();
    }
  }, 120_000);
});
