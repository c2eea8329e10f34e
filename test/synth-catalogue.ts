/**
 * A tiny synthetic catalogue for the embedding and student tests (trains in seconds): 8 colours × 16
 * products titled "colour product", plus two Japanese titles; 64 queries "colour product" with four
 * judgments each, relevance by word overlap (exact item L5, same product L3, same colour L2, nothing
 * shared L1).
 */
import { mulberry32 } from '../src/core/random.ts';
import type { DatasetBundle } from '../src/ingest/index.ts';
import { SYNTH_SCALE } from './helpers.ts';

export const COLOURS = ['crimson', 'azure', 'olive', 'amber', 'violet', 'ivory', 'teal', 'maroon'];
export const PRODUCTS = ['kettle', 'teapot', 'blender', 'toaster', 'lantern', 'backpack', 'umbrella', 'notebook', 'hammock', 'pillow', 'skillet', 'thermos', 'scarf', 'wallet', 'easel', 'compass'];
export const itemId = (c: number, p: number) => `it-${c}-${p}`;

export function synth(name: string): DatasetBundle {
  const rand = mulberry32(11);
  const items: Array<DatasetBundle['items'][number]> = [];
  for (let c = 0; c < COLOURS.length; c++) for (let p = 0; p < PRODUCTS.length; p++) items.push({ id: itemId(c, p), title: `${COLOURS[c]} ${PRODUCTS[p]}`, fields: {} });
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
      judgments.push({ queryId: qid, itemId: itemId(c, p), grade: 5 }, { queryId: qid, itemId: itemId(oc, p), grade: 3 }, { queryId: qid, itemId: itemId(c, op), grade: 2 }, { queryId: qid, itemId: itemId(oc, op), grade: 1 });
    }
  }
  return { name, description: 'synthetic', source: '/synthetic', mapping: SYNTH_SCALE, defaultJudgmentSet: 'default', items, queries, judgments };
}
