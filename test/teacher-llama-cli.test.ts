/**
 * `distilrank label --teacher llama` and `teacher eval --teacher llama` end to end, as a user runs
 * them: a small catalogue ingested from files, a tiny GGUF model built here (test/tiny-llama.ts)
 * named by DISTILRANK_LLAMA_MODEL, the CLI as a separate process. Labels land in the label cache with
 * the distribution the model's weights give; a rerun requests nothing; the errors a user can meet
 * (no model set, a file that is not GGUF, node-llama-cpp not installed) exit 1 with a code and a
 * hint, never a stack trace.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelCache } from '../src/label/index.ts';
import { readGgufHeader } from '../src/teacher/index.ts';
import { type TeacherEvalReport } from '../src/studies/index.ts';
import { runCliAsync, tempDir, type CliResult } from './helpers.ts';
import { oracleDistribution, writeTinyLlama, type TinyLlama } from './tiny-llama.ts';

const STACK = /\n {4}at /;

const ITEMS = [
  ['i01', 'Red running shoes', 'Lightweight road running shoes in red, mesh upper, size 38 to 46.'],
  ['i02', 'Blue trail running shoes', 'Trail shoes with a grippy sole for mud and rock.'],
  ['i03', 'Leather office shoes', 'Black leather derby shoes for the office.'],
  ['i04', 'Burr coffee grinder', 'Electric conical burr grinder for espresso and filter coffee.'],
  ['i05', 'Manual coffee grinder', 'Hand grinder with ceramic burrs, compact for travel.'],
  ['i06', 'Espresso machine', '15 bar pump espresso machine with milk frother.'],
  ['i07', 'Wireless headphones', 'Over-ear Bluetooth headphones with active noise cancelling.'],
  ['i08', 'Wired earbuds', 'In-ear earbuds with a 3.5 mm jack and microphone.'],
  ['i09', 'Headphone stand', 'Aluminium stand for over-ear headphones.'],
  ['i10', 'Yoga mat', 'Non-slip yoga mat, 6 mm thick, purple.'],
  ['i11', 'Running socks', 'Cushioned running socks, pack of three.'],
  ['i12', 'Milk frother', 'Handheld milk frother for cappuccino and latte.'],
] as const;
const QUERIES = [
  'red running shoes',
  'trail shoes',
  'office shoes',
  'coffee grinder',
  'espresso grinder',
  'hand coffee grinder',
  'espresso machine',
  'noise cancelling headphones',
  'bluetooth headphones',
  'earbuds with microphone',
  'headphone stand',
  'yoga mat',
  'running socks',
  'milk frother',
  'latte frother',
  'shoes size 42',
  'travel coffee gear',
  'gym equipment',
  'wireless earbuds',
  'leather shoes',
];

/** An error as the CLI must print it: exit 1, `error[CODE]`, a hint line, no stack trace. */
function expectCliError(r: CliResult, code: string): void {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`error\\[${code}\\]`));
  expect(r.stderr).toMatch(/\n {2}hint: \S/);
  expect(r.stderr).not.toMatch(STACK);
}

function labelSummary(stdout: string): { pairs: number; labelled: number; cached: number; failed: number } {
  const m = /: (\d+) pairs — (\d+) labelled now, (\d+) already cached, \d+ duplicates, (\d+) failed/.exec(stdout);
  expect(m, `no label summary in:\n${stdout}`).not.toBeNull();
  return { pairs: Number(m![1]), labelled: Number(m![2]), cached: Number(m![3]), failed: Number(m![4]) };
}

describe('distilrank with the llama teacher', () => {
  const dir = tempDir('distilrank-llama-cli-');
  const modelPath = join(dir.path, 'tiny-judge.gguf');
  let model: TinyLlama;
  let env: Record<string, string>;
  const run = (args: readonly string[], extra: Record<string, string> = {}): Promise<CliResult> => runCliAsync(args, dir.path, { ...env, ...extra });

  beforeAll(async () => {
    writeFileSync(join(dir.path, 'items.jsonl'), ITEMS.map(([id, title, description]) => JSON.stringify({ id, title, description })).join('\n') + '\n');
    writeFileSync(join(dir.path, 'queries.tsv'), `id\ttext\n${QUERIES.map((q, i) => `q${i + 1}\t${q}`).join('\n')}\n`);
    // Each query judged on three items, levels spread over 1–5 (deterministic).
    const qrels = QUERIES.flatMap((_, i) => [0, 1, 2].map((k) => `q${i + 1} 0 ${ITEMS[(i * 5 + k * 7) % ITEMS.length]![0]} ${((i + k * 2) % 5) + 1}`));
    writeFileSync(join(dir.path, 'judgments.qrels'), qrels.join('\n') + '\n');
    // The answer does not depend on the prompt: mostly 4, some 5 and 2.
    model = writeTinyLlama(modelPath, { logits: { '4': 5, '▁4': 4, '5': 4, '2': 3 } });
    env = { DISTILRANK_LLAMA_MODEL: modelPath, DISTILRANK_LLAMA_THREADS: '1', DISTILRANK_LLAMA_CONTEXT_SIZE: '4096' };
    const ingest = await run([
      'ingest',
      '--name',
      'shop',
      '--items',
      'items.jsonl',
      '--queries',
      'queries.tsv',
      '--judgments',
      'judgments.qrels',
      '--scale',
      'levels-1-5',
    ]);
    expect(ingest.status, ingest.stderr).toBe(0);
  });
  afterAll(() => dir.cleanup());

  it("labels the pool into the cache with the model's distribution, and a rerun requests nothing", async () => {
    const first = await run(['label', '--dataset', 'shop', '--teacher', 'llama', '--k', '3']);
    expect(first.stderr).not.toMatch(STACK);
    expect(first.status, first.stderr).toBe(0);
    const s = labelSummary(first.stdout);
    expect(s.pairs).toBeGreaterThan(20);
    expect(s).toMatchObject({ labelled: s.pairs, cached: 0, failed: 0 });
    expect(first.stdout).toMatch(new RegExp(`cost of this run: ${s.pairs} calls, [1-9]\\d* input \\+ 0 output tokens, \\$0\\.0000`));

    const promptVersion = /prompt (\S+)\)/.exec(first.stderr + first.stdout)?.[1] ?? '';
    expect(promptVersion).toContain(readGgufHeader(modelPath).identity.slice(0, 16));
    const cache = LabelCache.open(join(dir.path, '.distilrank', 'labels.sqlite'), { readonly: true });
    try {
      const labels = cache.labelsFor('shop', 'llama', 'tiny-judge.gguf', promptVersion);
      expect(labels.length).toBe(s.pairs);
      // This model's answer is the same after any prompt: the oracle needs only the last token.
      const expected = oracleDistribution(model, [0]);
      for (const l of labels) l.distribution.forEach((p, k) => expect(p).toBeCloseTo(expected[k]!, 6));
    } finally {
      cache.close();
    }

    const again = await run(['label', '--dataset', 'shop', '--teacher', 'llama', '--k', '3']);
    expect(again.status, again.stderr).toBe(0);
    expect(labelSummary(again.stdout)).toMatchObject({ labelled: 0, cached: s.pairs });
    expect(again.stdout).toMatch(/cost of this run: 0 calls/);
  });

  it('teacher eval measures it against the human labels of dev and test', async () => {
    const r = await run(['teacher', 'eval', '--dataset', 'shop', '--teacher', 'llama', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as TeacherEvalReport;
    expect(report).toMatchObject({ teacher: 'llama', model: 'tiny-judge.gguf' });
    expect(report.pairs.evaluation).toBeGreaterThan(0);
    // The model answers 4 to everything: raw accuracy is the share of test pairs humans put at 4.
    expect(report.raw.confusion.every((row) => row.every((n, col) => col === 3 || n === 0))).toBe(true);
  });

  it('no model set, or a file that is not GGUF: BAD_OPTION / MODEL_MISMATCH naming the variable and the file', async () => {
    const unset = await run(['label', '--dataset', 'shop', '--teacher', 'llama'], { DISTILRANK_LLAMA_MODEL: '' });
    expectCliError(unset, 'BAD_OPTION');
    expect(unset.stderr).toMatch(/DISTILRANK_LLAMA_MODEL is not set/);
    writeFileSync(join(dir.path, 'notes.txt'), 'not a model\n');
    const notGguf = await run(['label', '--dataset', 'shop', '--teacher', 'llama'], { DISTILRANK_LLAMA_MODEL: 'notes.txt' });
    expectCliError(notGguf, 'MODEL_MISMATCH');
    expect(notGguf.stderr).toMatch(/notes\.txt: not a GGUF model file/);
  });

  it('without node-llama-cpp distilrank still runs, and the llama teacher says how to install it', async () => {
    // A module hook that makes node-llama-cpp unresolvable, as on an install without optional dependencies.
    const hook = join(dir.path, 'hide-node-llama-cpp.mjs');
    const resolver =
      "export async function resolve(specifier, context, next) { if (specifier === 'node-llama-cpp' || specifier.startsWith('node-llama-cpp/')) " +
      "{ const e = new Error(`Cannot find package 'node-llama-cpp' imported from ${context.parentURL}`); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; } return next(specifier, context); }";
    writeFileSync(hook, `import { register } from 'node:module';\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(resolver)}`)});\n`);
    const hidden = { NODE_OPTIONS: `--import ${pathToFileURL(hook).href}` };
    const help = await run(['label', '--help'], hidden);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/llama/);
    // A fresh label cache: with every label cached, the teacher is never loaded (and needs no node-llama-cpp).
    const r = await run(['label', '--dataset', 'shop', '--teacher', 'llama', '--k', '1', '--cache', 'fresh-labels.sqlite'], {
      ...hidden,
      DISTILRANK_LLAMA_MODEL: modelPath,
    });
    expectCliError(r, 'MISSING_DEPENDENCY');
    expect(r.stderr).toMatch(/needs node-llama-cpp, which is not installed/);
    expect(r.stderr).toMatch(/npm install node-llama-cpp@3\.21\.1/);
  });
});
