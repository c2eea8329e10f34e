/**
 * The item text representation (src/represent): the builder is deterministic and keeps its budgets,
 * the default reproduces the item-text format labels were keyed by before (so old caches stay valid),
 * bad configuration files are refused naming the field, and the representation id is part of the
 * teacher-label cache key: a label job after a configuration change requests new labels, the same
 * configuration requests none.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LabelCache, buildPool, itemText, labelKey, runLabelJob } from '../src/label/index.ts';
import { createHash } from 'node:crypto';
import {
  DEFAULT_REPRESENTATION,
  DEFAULT_REPRESENTATION_ID,
  buildItemText,
  projectItem,
  readRepresentation,
  representationId,
  representationOf,
  validateRepresentation,
  type FieldSources,
  type RepresentationConfig,
} from '../src/enrich/represent/index.ts';
import { discreteMapping, type LevelDistribution } from '../src/core/index.ts';
import { Store, type StoredItem } from '../src/store/index.ts';
import type { Teacher, TeacherJudgment, TeacherPair } from '../src/teacher/index.ts';
import { caught, runCli, useTempDir } from './helpers.ts';

const ITEM: StoredItem = {
  id: 'i1',
  title: '  Red   walrus mug ',
  description: 'A ceramic\nmug for tea and coffee, dishwasher safe and microwave safe.',
  fields: { brand: 'Acme', bullets: 'dishwasher safe' },
  attributes: { ml: 350, colour: 'red', tags: ['kitchen', 'gift'], nested: { a: 1 }, sale: true, brand: 'Acme Corp' },
  imageUrl: null,
  language: null,
};

const SOURCES: FieldSources = {
  captions: { captionFor: (id) => (id === 'i1' ? 'a red mug with a walrus drawn on it' : undefined) },
  actions: {
    actionsFor: (id) =>
      id === 'i1' ? { engagedQueries: ['walrus', 'mug', 'gift'], boardTitles: ['kitchen', 'ideas'], linkText: ['acme', 'shop'] } : undefined,
  },
};

const tmp = useTempDir('distilrank-represent-');

describe('buildItemText', () => {
  it('the default representation is item-text format 1: title, description, fields, ≤8 attributes, names sorted', () => {
    expect(buildItemText(ITEM)).toBe(
      [
        'title: Red walrus mug',
        'description: A ceramic mug for tea and coffee, dishwasher safe and microwave safe.',
        'brand: Acme',
        'bullets: dishwasher safe',
        'brand: Acme Corp',
        'colour: red',
        'ml: 350',
        'sale: yes',
        'tags: kitchen, gift',
      ].join('\n'),
    );
    expect(itemText(ITEM)).toBe(buildItemText(ITEM));
  });

  it('follows the configured order, labels and sources; brand listed alone leaves fields and attributes', () => {
    const config = validateRepresentation({
      fields: [
        { source: 'title' },
        { source: 'brand' },
        { source: 'caption' },
        { source: 'engaged_queries', label: 'searched for' },
        { source: 'board_titles' },
        { source: 'link_text' },
        { source: 'attributes', maxAttributes: 2 },
      ],
    });
    expect(buildItemText(ITEM, config, SOURCES)).toBe(
      [
        'title: Red walrus mug',
        'brand: Acme',
        'caption: a red mug with a walrus drawn on it',
        'searched for: walrus mug gift',
        'board_titles: kitchen ideas',
        'link_text: acme shop',
        'colour: red',
        'ml: 350',
      ].join('\n'),
    );
    // Without sources the source fields are empty lines, left out.
    expect(buildItemText(ITEM, config)).toBe(['title: Red walrus mug', 'brand: Acme', 'colour: red', 'ml: 350'].join('\n'));
  });

  it('is deterministic: key order of fields and attributes does not matter (property)', () => {
    const config = representationOf(['title', 'description', 'brand', 'attributes', 'caption', 'engaged_queries']);
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.oneof(fc.string(), fc.integer(), fc.boolean())), (attrs) => {
        const a: StoredItem = { ...ITEM, attributes: attrs };
        const b: StoredItem = { ...ITEM, attributes: Object.fromEntries(Object.entries(attrs).reverse()) };
        expect(buildItemText(a, config, SOURCES)).toBe(buildItemText(b, config, SOURCES));
      }),
      { numRuns: 100 },
    );
  });

  it('keeps each field within its token budget and the text within maxChars', () => {
    const long: StoredItem = { ...ITEM, description: Array.from({ length: 500 }, (_, i) => `w${i}`).join(' ') };
    const config = validateRepresentation({
      maxChars: 300,
      fields: [{ source: 'title' }, { source: 'description', maxTokens: 5 }, { source: 'caption', maxTokens: 3 }],
    });
    expect(buildItemText(long, config, SOURCES)).toBe(['title: Red walrus mug', 'description: w0 w1 w2 w3 w4…', 'caption: a red mug…'].join('\n'));
    const tight = { ...config, maxChars: 40, fields: [{ source: 'title' as const }, { source: 'description' as const }] };
    const text = buildItemText(long, tight);
    expect(text.length).toBeLessThanOrEqual(40);
    expect(text.endsWith('…')).toBe(true);
    expect(text.startsWith('title: Red walrus mug\n')).toBe(true);
  });

  it('projectItem shows the features exactly the listed fields', () => {
    const p = projectItem(ITEM, representationOf(['title', 'brand', 'attributes', 'engaged_queries']), SOURCES);
    expect(p.title).toBe('Red walrus mug');
    expect(p.description).toBeNull();
    expect(p.attributes).toEqual({});
    expect(p.fields).toEqual({ brand: 'Acme', attributes: 'colour red\nml 350\nsale yes\ntags kitchen, gift', engaged_queries: 'walrus mug gift' });
    expect(projectItem(ITEM, representationOf(['title']), SOURCES).fields).toEqual({});
  });
});

describe('configuration', () => {
  const cases: Array<[string, unknown, string]> = [
    ['not an object', [], '(root)'],
    ['unknown key', { fields: [{ source: 'title' }], colour: 1 }, 'colour'],
    ['no fields', { fields: [] }, 'fields'],
    ['unknown source', { fields: [{ source: 'title' }, { source: 'summary' }] }, 'fields[1].source'],
    ['duplicate source', { fields: [{ source: 'title' }, { source: 'caption' }, { source: 'caption' }] }, 'fields[2].source'],
    ['bad budget', { fields: [{ source: 'title' }, { source: 'caption', maxTokens: 0 }] }, 'fields[1].maxTokens'],
    ['maxAttributes elsewhere', { fields: [{ source: 'title' }, { source: 'caption', maxAttributes: 3 }] }, 'fields[1].maxAttributes'],
    ['title not first', { fields: [{ source: 'description' }, { source: 'title' }] }, 'fields[0].source'],
    ['bad maxChars', { maxChars: 3, fields: [{ source: 'title' }] }, 'maxChars'],
    ['bad label', { fields: [{ source: 'title', label: 'a\nb' }] }, 'fields[0].label'],
  ];
  for (const [name, raw, field] of cases) {
    it(`refuses ${name}, naming ${field}`, () => {
      const file = join(tmp.path, `${name.replace(/\W/g, '_')}.json`);
      writeFileSync(file, JSON.stringify(raw));
      const e = caught(() => readRepresentation(file));
      expect(e.code).toBe('BAD_INPUT');
      expect(e.details.field).toBe(field);
      expect(e.details.file).toBe(file);
    });
  }

  it('refuses a file that is not JSON, and prints the error from the CLI', () => {
    const file = join(tmp.path, 'broken.json');
    writeFileSync(file, '{"fields": [');
    expect(caught(() => readRepresentation(file)).code).toBe('BAD_INPUT');
    const bad = join(tmp.path, 'bad-source.json');
    writeFileSync(bad, JSON.stringify({ fields: [{ source: 'title' }, { source: 'summary' }] }));
    const r = runCli(['--store', join(tmp.path, 'cli.sqlite'), 'represent', '--dataset', 'icecat-chorus', '--representation', bad], { cwd: tmp.path });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[BAD_INPUT]');
    expect(r.stderr).toContain('fields[1].source');
    expect(r.stderr).not.toContain('    at ');
  });

  it('has a stable id that changes with any setting, and not with defaults spelt out', () => {
    const a = representationOf(['title', 'description', 'caption']);
    expect(representationId(a)).toBe(representationId(JSON.parse(JSON.stringify(a)) as RepresentationConfig));
    expect(representationId(a)).toMatch(/^rep-[0-9a-f]{12}$/);
    expect(representationId({ ...a, maxChars: 1000 })).not.toBe(representationId(a));
    expect(representationId(representationOf(['title', 'caption', 'description']))).not.toBe(representationId(a));
    const withBudget = { ...a, fields: a.fields.map((f) => (f.source === 'caption' ? { ...f, maxTokens: 7 } : f)) };
    expect(representationId(withBudget)).not.toBe(representationId(a));
    const spelt = validateRepresentation({
      version: 1,
      maxChars: 1500,
      fields: [{ source: 'title', label: 'title' }, { source: 'description' }, { source: 'fields' }, { source: 'attributes', maxAttributes: 8 }],
    });
    expect(representationId(spelt)).toBe(DEFAULT_REPRESENTATION_ID);
  });
});

// ---------------------------------------------------------------------------------------------
// The cache key

class CountingTeacher implements Teacher {
  readonly name = 'counting';
  readonly model = 'm';
  readonly promptVersion = 'p1';
  calls: TeacherPair[] = [];
  judge(pair: TeacherPair): Promise<TeacherJudgment> {
    this.calls.push(pair);
    const level = createHash('sha1').update(pair.itemText).digest()[0]! % 5;
    const d: LevelDistribution = [0.1, 0.1, 0.1, 0.1, 0.1];
    d[level] = 0.6;
    return Promise.resolve({ distribution: d, method: 'test', cost: { calls: 1, inputTokens: 1, outputTokens: 1, seconds: 0, usd: 0 } });
  }
}

const SCALE = discreteMapping(
  'one-five',
  'test scale',
  [1, 2, 3, 4, 5].map((g) => [g, g as 1 | 2 | 3 | 4 | 5, `${g}`] as [number, 1 | 2 | 3 | 4 | 5, string]),
);

describe('the representation keys teacher labels', () => {
  it('old keys stay valid for the default representation; other representations are separate keys', () => {
    const t = { name: 't', model: 'm', promptVersion: 'p' };
    const text = itemText(ITEM);
    const sha = createHash('sha256').update(text, 'utf8').digest('hex');
    expect(labelKey(t, 'q', text).itemHash).toBe(sha); // exactly the pre-representation key
    expect(labelKey(t, 'q', text, DEFAULT_REPRESENTATION_ID).itemHash).toBe(sha);
    const other = labelKey(t, 'q', text, 'rep-000000000000');
    expect(other.itemHash).not.toBe(sha);
    expect(other.representation).toBe('rep-000000000000');
  });

  it('a label job after a configuration change requests new labels; the same configuration requests none', async () => {
    const store = Store.open(join(tmp.path, 'key-store.sqlite'), { create: true });
    const items = ['red mug', 'blue mug', 'green kettle', 'red kettle', 'blue teapot', 'green teapot'].map((title, i) => ({
      id: `i${i}`,
      title,
      description: `a ${title} for the kitchen`,
      fields: { brand: i % 2 ? 'Acme' : 'Zenith' },
    }));
    const queries = ['red mug', 'blue teapot', 'kettle', 'mug', 'teapot', 'green', 'red', 'blue', 'acme mug', 'zenith kettle'].map((text, i) => ({
      id: `q${i}`,
      text,
    }));
    store.ingest({
      name: 'keys',
      description: 'keys',
      source: '/test',
      mapping: SCALE,
      defaultJudgmentSet: 'default',
      items,
      queries,
      judgments: queries.map((q) => ({ queryId: q.id, itemId: 'i0', grade: 3 })),
    });
    const cache = LabelCache.open(join(tmp.path, 'key-labels.sqlite'));
    const teacher = new CountingTeacher();
    const run = async (config: RepresentationConfig | undefined) => {
      const pairs = buildPool(store.dataset('keys'), { k: 3, queries: 'train', ...(config ? { representation: { config } } : {}) });
      const before = teacher.calls.length;
      const s = await runLabelJob({ cache, teacher, pairs, dataset: 'keys', concurrency: 2 });
      return { pairs: pairs.length, requested: teacher.calls.length - before, cached: s.cached };
    };
    const first = await run(undefined);
    expect(first.requested).toBeGreaterThan(0);
    // The default representation, spelt out, is the same key as the legacy pool: nothing new.
    expect((await run({ ...DEFAULT_REPRESENTATION })).requested).toBe(0);
    const a = representationOf(['title', 'brand']);
    const second = await run(a);
    expect(second.requested).toBe(second.pairs); // a new representation: every pair is asked again
    expect((await run(a)).requested).toBe(0); // same configuration: none
    // Same fields, another budget: a new id, hence new labels even where the texts are equal.
    const b = { ...a, maxChars: 900 };
    expect(buildPool(store.dataset('keys'), { k: 3, queries: 'train', representation: { config: b } }).map((p) => p.itemText)).toEqual(
      buildPool(store.dataset('keys'), { k: 3, queries: 'train', representation: { config: a } }).map((p) => p.itemText),
    );
    expect((await run(b)).requested).toBe(second.pairs);
    cache.close();
    store.close();
  });
});
