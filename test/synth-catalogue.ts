/**
 * The synthetic catalogues of the tests, built here so that each test file need not build its own:
 *
 * - `synth`: a tiny catalogue for the embedding and student tests (trains in seconds): 8 colours × 16
 *   products titled "colour product", plus two Japanese titles; 64 queries "colour product" with four
 *   judgments each, relevance by word overlap (exact item L5, same product L3, same colour L2, nothing
 *   shared L1).
 * - `wordOverlapBundle`: the colour × product catalogue of the student, local-teacher and teacher-eval
 *   tests, queries drawn at random, ten judgments per query by word overlap.
 * - `shopBundle`: a small shop on the 0–3 test scale, one grade-3 judgment per query.
 */
import { mulberry32 } from '../src/core/random.ts';
import type { DatasetBundle } from '../src/ingest/index.ts';
import { SYNTH_SCALE, TEST_SCALE } from './helpers.ts';

export const COLOURS = ['crimson', 'azure', 'olive', 'amber', 'violet', 'ivory', 'teal', 'maroon'];
export const PRODUCTS = [
  'kettle',
  'teapot',
  'blender',
  'toaster',
  'lantern',
  'backpack',
  'umbrella',
  'notebook',
  'hammock',
  'pillow',
  'skillet',
  'thermos',
  'scarf',
  'wallet',
  'easel',
  'compass',
];
export const itemId = (c: number, p: number) => `it-${c}-${p}`;

export function synth(name: string): DatasetBundle {
  const rand = mulberry32(11);
  const items: Array<DatasetBundle['items'][number]> = [];
  for (let c = 0; c < COLOURS.length; c++)
    for (let p = 0; p < PRODUCTS.length; p++) items.push({ id: itemId(c, p), title: `${COLOURS[c]} ${PRODUCTS[p]}`, fields: {} });
  items.push({ id: 'ja-1', title: '赤いやかん', fields: {} }, { id: 'ja-2', title: '青い傘', fields: {} });
  const queries: Array<DatasetBundle['queries'][number]> = [];
  const judgments: Array<DatasetBundle['judgments'][number]> = [];
  let k = 0;
  for (let c = 0; c < COLOURS.length; c++) {
    for (let p = 0; p < PRODUCTS.length; p += 2) {
      const qid = `q${k++}`;
      queries.push({ id: qid, text: `${COLOURS[c]} ${PRODUCTS[p]}` });
      const pick = (n: number) => Math.floor(rand() * n);
      const oc = (c + 1 + pick(COLOURS.length - 1)) % COLOURS.length;
      const op = (p + 1 + pick(PRODUCTS.length - 1)) % PRODUCTS.length;
      judgments.push(
        { queryId: qid, itemId: itemId(c, p), grade: 5 },
        { queryId: qid, itemId: itemId(oc, p), grade: 3 },
        { queryId: qid, itemId: itemId(c, op), grade: 2 },
        { queryId: qid, itemId: itemId(oc, op), grade: 1 },
      );
    }
  }
  return { name, description: 'synthetic', source: '/synthetic', mapping: SYNTH_SCALE, defaultJudgmentSet: 'default', items, queries, judgments };
}

// ---------------------------------------------------------------------------------------------
// The word-overlap catalogue

/** Small deterministic PRNG for the data (independent of distilrank's own). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** A copy of `xs` in a random order (Fisher–Yates, drawing from `rand`). */
export function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** The ten colours and twenty products of the word-overlap catalogue (COLOURS and PRODUCTS above are their first 8 and 16). */
export const WIDE_COLOURS = [...COLOURS, 'ochre', 'slate'];
export const WIDE_PRODUCTS = [...PRODUCTS, 'bucket', 'ladder', 'stool', 'whistle'];
const BRANDS = ['Acme', 'Borealis', 'Corvid', 'Dunlin', 'Egret'];

export interface WordOverlapOptions {
  /** Colours and products (default WIDE_COLOURS × WIDE_PRODUCTS, 200 items). */
  colours?: readonly string[];
  products?: readonly string[];
  /** lcg seed of the query draw and the judged items (default 1). */
  seed?: number;
  /** Queries drawn (default 60). */
  queries?: number;
  /** Digits of the query ids q000… (default 3). */
  queryIdDigits?: number;
  /** Everything of the `i`th item (colour × product) beyond its id and title (default: itemExtras(true)). */
  item?: (colour: string, product: string, i: number) => Omit<DatasetBundle['items'][number], 'id' | 'title'>;
  /** Map every judgment's grade (e.g. all to 5 for a single class). */
  grade?: (natural: number) => number;
  /** Judgments kept per query (default all 10). */
  judgedPerQuery?: number;
  /** The data set's description (default "synthetic word-overlap catalogue NAME"). */
  description?: string;
}

/** Every other item described ("a sturdy PRODUCT for everyday use"); with `brands`, a brand field on each. */
export function itemExtras(brands: boolean): NonNullable<WordOverlapOptions['item']> {
  return (_colour, product, i) => ({
    ...(i % 2 === 0 ? { description: `a sturdy ${product} for everyday use` } : {}),
    ...(brands ? { fields: { brand: BRANDS[i % BRANDS.length]! } } : {}),
  });
}

/**
 * Items "colour product" for every colour × product (ids it-C-P). A query is one (colour, product)
 * pair, drawn at random; its judged items are the exact item (L5), three of the same product in
 * another colour (L3), three of the same colour but another product (L2) and three sharing no word
 * (L1). Relevance is word overlap, so a model over lexical features can learn it.
 */
export function wordOverlapBundle(name: string, o: WordOverlapOptions = {}): DatasetBundle {
  const colours = o.colours ?? WIDE_COLOURS;
  const products = o.products ?? WIDE_PRODUCTS;
  const extras = o.item ?? itemExtras(true);
  const rand = lcg(o.seed ?? 1);
  const items: Array<DatasetBundle['items'][number]> = [];
  for (let c = 0; c < colours.length; c++) {
    for (let p = 0; p < products.length; p++) {
      items.push({ id: itemId(c, p), title: `${colours[c]} ${products[p]}`, ...extras(colours[c]!, products[p]!, c * products.length + p) });
    }
  }
  const combos: Array<[number, number]> = [];
  for (let c = 0; c < colours.length; c++) for (let p = 0; p < products.length; p++) combos.push([c, p]);
  const picked = shuffled(combos, rand).slice(0, o.queries ?? 60);
  const queries = picked.map(([c, p], k) => ({ id: `q${String(k).padStart(o.queryIdDigits ?? 3, '0')}`, text: `${colours[c]} ${products[p]}` }));
  const judgments: Array<DatasetBundle['judgments'][number]> = [];
  for (const [k, [c, p]] of picked.entries()) {
    const qid = queries[k]!.id;
    const otherColours = shuffled(
      colours.map((_, i) => i).filter((i) => i !== c),
      rand,
    );
    const otherProducts = shuffled(
      products.map((_, i) => i).filter((i) => i !== p),
      rand,
    );
    const pairs: Array<[string, number]> = [[itemId(c, p), 5]];
    for (let i = 0; i < 3; i++) pairs.push([itemId(otherColours[i]!, p), 3]);
    for (let i = 0; i < 3; i++) pairs.push([itemId(c, otherProducts[i]!), 2]);
    for (let i = 0; i < 3; i++) pairs.push([itemId(otherColours[3 + i]!, otherProducts[3 + i]!), 1]);
    for (const [iid, g] of pairs.slice(0, o.judgedPerQuery ?? pairs.length)) {
      judgments.push({ queryId: qid, itemId: iid, grade: o.grade ? o.grade(g) : g });
    }
  }
  return {
    name,
    description: o.description ?? `synthetic word-overlap catalogue ${name}`,
    source: '/synthetic',
    mapping: SYNTH_SCALE,
    defaultJudgmentSet: 'default',
    items,
    queries,
    judgments,
  };
}

// ---------------------------------------------------------------------------------------------
// The small shop

export interface ShopOptions {
  name: string;
  description: string;
  colours: readonly string[];
  things: readonly string[];
  /** The log events, given the queries (default none). */
  logEvents?: (queries: DatasetBundle['queries']) => NonNullable<DatasetBundle['logEvents']>;
}

/**
 * A small shop on TEST_SCALE: an item "colour thing" (id iCT, described, brand by thing) and a query
 * "colour thing" (id qCT) for every colour × thing, each query judged grade 3 on its own item.
 */
export function shopBundle(o: ShopOptions): DatasetBundle {
  const items = o.colours.flatMap((c, ci) =>
    o.things.map((t, ti) => ({ id: `i${ci}${ti}`, title: `${c} ${t}`, description: `a ${c} ${t} for the home`, fields: { brand: `brand${ti}` } })),
  );
  const queries = o.colours.flatMap((c, ci) => o.things.map((t, ti) => ({ id: `q${ci}${ti}`, text: `${c} ${t}` })));
  return {
    name: o.name,
    description: o.description,
    source: '/mem',
    mapping: TEST_SCALE,
    defaultJudgmentSet: 'default',
    items,
    queries,
    judgments: queries.map((q) => ({ queryId: q.id, itemId: `i${q.id.slice(1)}`, grade: 3 })),
    logEvents: o.logEvents ? o.logEvents(queries) : [],
  };
}
