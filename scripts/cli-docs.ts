/**
 * Writes the generated references — docs/cli.md from the CLI's own --help texts, docs/features.md
 * from the feature registry — so they cannot drift: test/cli-docs.test.ts fails when either is
 * stale. Run: `npm run docs:generate`.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderCliReference } from '../src/cli/reference.ts';
import { renderFeatureReference } from '../src/features/index.ts';

for (const [file, render] of [
  ['cli.md', renderCliReference],
  ['features.md', renderFeatureReference],
] as const) {
  const out = resolve(import.meta.dirname, '..', 'docs', file);
  writeFileSync(out, render());
  console.log(`wrote ${out}`);
}
