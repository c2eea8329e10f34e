import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCliReference } from '../src/cli/reference.ts';
import { renderFeatureReference } from '../src/features/index.ts';
import { REPO_ROOT } from './helpers.ts';

describe('docs/cli.md', () => {
  it('is the current --help of every command (run `npm run docs:generate` to refresh)', () => {
    const onDisk = readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
    expect(onDisk).toBe(renderCliReference());
  });

  it('documents the commands the README promises', () => {
    const ref = renderCliReference();
    for (const cmd of ['ingest', 'eval', 'demo', 'export-qrels', 'datasets']) expect(ref).toContain(`## distilrank ${cmd}`);
  });
});

describe('docs/features.md', () => {
  it('is the current feature registry (run `npm run docs:generate` to refresh)', () => {
    expect(readFileSync(join(REPO_ROOT, 'docs', 'features.md'), 'utf8')).toBe(renderFeatureReference());
  });
});
