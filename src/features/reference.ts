import { FEATURES, FEATURE_SET_ID } from './registry.ts';

/** docs/features.md: the feature registry as a table, generated so the reference cannot drift. */
export function renderFeatureReference(): string {
  const rows = FEATURES.map((f, i) => `| ${i} | \`${f.name}\` | ${f.version} | ${f.group} | ${f.description.replace(/\|/g, '\\|')} |`);
  return [
    '# Student features',
    '',
    'Generated from `src/features/registry.ts` by `npm run docs:generate`; a test fails when this file is stale.',
    `Feature set id: \`${FEATURE_SET_ID}\` (a hash of the ordered names and versions; a model trained on`,
    'another set is refused). The column order below is the order of the feature vector.',
    '',
    '| # | name | version | group | what it measures |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
