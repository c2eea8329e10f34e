/**
 * The source tree's layering, checked rather than described: src/layers.json lists the folders of src/
 * lowest first; a folder imports only folders below it, only through their index.ts, and the
 * folder-level import graph has no cycle (so nothing imports cli/). Each index.ts exports only names
 * that something outside its folder imports (src/, test/, bench/, scripts/), or that LIBRARY_API names.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import layersFile from '../src/layers.json' with { type: 'json' };
import { REPO_ROOT } from './helpers.ts';

const SRC = join(REPO_ROOT, 'src');
const LAYERS: readonly string[] = layersFile.layers;
const rank = new Map(LAYERS.map((l, i) => [l, i]));

/** Exported for library users though nothing in the repository imports them (the documented API). */
const LIBRARY_API: Readonly<Record<string, readonly string[]>> = {};

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

interface Edge {
  from: string;
  to: string;
  spec: string;
}

/** Relative imports and re-exports of a file (static, dynamic and type-only), resolved to paths. */
function importsOf(file: string): Edge[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.filter((r) => r.fileName.startsWith('.')).map((r) => ({ from: file, to: resolve(dirname(file), r.fileName), spec: r.fileName }));
}

const folderOf = (path: string): string | undefined => {
  const rel = relative(SRC, path);
  return rel.startsWith('..') ? undefined : rel.split(sep).length > 1 ? rel.split(sep)[0] : '';
};

const isUpward = (e: Edge): boolean => rank.get(folderOf(e.to)!)! >= rank.get(folderOf(e.from)!)!;
const isDeep = (e: Edge): boolean => relative(join(SRC, folderOf(e.to)!), e.to) !== 'index.ts';
const shown = (e: Edge): string => `${relative(REPO_ROOT, e.from)} -> ${e.spec}`;

/** The back edges a depth-first search finds in the folder-level graph of `cross` (independent of the declared order). */
function cyclesOf(cross: readonly Edge[]): string[] {
  const graph = new Map<string, Set<string>>();
  for (const e of cross) {
    const a = folderOf(e.from)!;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(folderOf(e.to)!);
  }
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (node: string, path: string[]): void => {
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path, node, next].join(' -> '));
      else if (!state.has(next)) visit(next, [...path, node]);
    }
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node, []);
  return cycles;
}

const srcFiles = tsFiles(SRC);
const edges = srcFiles.flatMap(importsOf);
const crossing = edges.filter((e) => folderOf(e.from) !== folderOf(e.to));

describe('layers', () => {
  it('every file of src/ sits in a declared layer folder', () => {
    const stray = srcFiles.filter((f) => !rank.has(folderOf(f) ?? '')).map((f) => relative(REPO_ROOT, f));
    expect(stray).toEqual([]);
    const folders = readdirSync(SRC).filter((f) => statSync(join(SRC, f)).isDirectory());
    expect([...folders].sort()).toEqual([...LAYERS].sort());
  });

  it('a folder imports only folders below it', () => {
    expect(crossing.filter(isUpward).map(shown)).toEqual([]);
  });

  it('another folder is entered only through its index.ts', () => {
    expect(crossing.filter(isDeep).map(shown)).toEqual([]);
  });

  it('the folder-level import graph has no cycle and nothing imports cli/', () => {
    expect(crossing.filter((e) => folderOf(e.to) === 'cli').map(shown)).toEqual([]);
    expect(cyclesOf(crossing)).toEqual([]);
  });

  it('the checks see planted violations (they can fail)', () => {
    const edge = (from: string, to: string): Edge => ({ from: join(SRC, from), to: join(SRC, to), spec: to });
    expect(isUpward(edge('core/errors.ts', 'cli/index.ts'))).toBe(true);
    expect(isUpward(edge('cli/main.ts', 'core/index.ts'))).toBe(false);
    expect(isDeep(edge('serve/app.ts', 'store/store.ts'))).toBe(true);
    expect(isDeep(edge('serve/app.ts', 'store/index.ts'))).toBe(false);
    expect(cyclesOf([edge('label/pool.ts', 'teacher/index.ts'), edge('teacher/local.ts', 'label/index.ts')])).toHaveLength(1);
    expect(edges.length).toBeGreaterThan(300);
  });
});

describe('doors', () => {
  const program = ts.createProgram(
    LAYERS.map((l) => join(SRC, l, 'index.ts')).filter((p) => statSync(p, { throwIfNoEntry: false })),
    {
      allowImportingTsExtensions: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      resolveJsonModule: true,
    },
  );
  const checker = program.getTypeChecker();
  const exportsOf = (door: string): string[] => {
    const sf = program.getSourceFile(door);
    const sym = sf && checker.getSymbolAtLocation(sf);
    return sym ? checker.getExportsOfModule(sym).map((s) => s.name) : [];
  };

  // Every name imported from a door by a file outside that door's folder.
  const consumers = [...srcFiles, ...['test', 'bench', 'scripts'].flatMap((d) => tsFiles(join(REPO_ROOT, d)))];
  const used = new Map<string, Set<string>>();
  for (const file of consumers) {
    const text = readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const note = (spec: string, names: Iterable<string>): void => {
      if (!spec.startsWith('.')) return;
      const target = resolve(dirname(file), spec);
      const folder = folderOf(target);
      if (!folder || folder === folderOf(file) || target !== join(SRC, folder, 'index.ts')) return;
      const set = used.get(folder) ?? new Set<string>();
      for (const n of names) set.add(n);
      used.set(folder, set);
    };
    const walk = (node: ts.Node): void => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        const names: string[] = [];
        const bindings = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : node.exportClause;
        if (bindings && (ts.isNamedImports(bindings) || ts.isNamedExports(bindings)))
          for (const el of bindings.elements) names.push((el.propertyName ?? el.name).text);
        note(node.moduleSpecifier.text, names);
      }
      // `const { a, b } = await import('…')` and `(await import('…')).a`
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
        let up: ts.Node = node.parent;
        while (ts.isAwaitExpression(up) || ts.isParenthesizedExpression(up)) up = up.parent;
        const names: string[] = [];
        if (ts.isVariableDeclaration(up) && ts.isObjectBindingPattern(up.name))
          for (const el of up.name.elements) names.push(((el.propertyName ?? el.name) as ts.Identifier).text);
        if (ts.isPropertyAccessExpression(up)) names.push(up.name.text);
        note(node.arguments[0].text, names);
      }
      ts.forEachChild(node, walk);
    };
    walk(sf);
  }

  for (const layer of LAYERS) {
    const door = join(SRC, layer, 'index.ts');
    if (layer === 'cli' || !statSync(door, { throwIfNoEntry: false })) continue;
    it(`${layer}/index.ts exports only what is used outside ${layer}/`, () => {
      const exported = exportsOf(door);
      expect(exported.length).toBeGreaterThan(0);
      const unused = exported.filter((n) => !used.get(layer)?.has(n) && !LIBRARY_API[layer]?.includes(n));
      if (process.env.DISTILRANK_UNUSED_EXPORTS) writeFileSync(join(process.env.DISTILRANK_UNUSED_EXPORTS, `${layer}.json`), JSON.stringify(unused));
      expect(unused).toEqual([]);
    });
  }
});
