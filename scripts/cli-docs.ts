/**
 * Writes docs/cli.md from the CLI's own --help texts, so the reference cannot drift:
 * test/cli-docs.test.ts fails when the file is stale. Run: `npm run docs:cli`.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderCliReference } from '../src/cli/reference.ts';

const out = resolve(import.meta.dirname, '..', 'docs', 'cli.md');
writeFileSync(out, renderCliReference());
console.log(`wrote ${out}`);
