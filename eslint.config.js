// Lint: the recommended JS + typescript-eslint rules, type-aware where it catches real bugs
// (floating promises, misused promises). CI runs `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import layersFile from './src/layers.json' with { type: 'json' };

// The layering of src/ (src/layers.json, lowest first): a folder imports only folders below it, and
// only through their index.ts. One block per folder and file depth, so relative specifiers can be read
// without resolving them; test/layers.test.ts checks the resolved graph as well.
const LAYERS = layersFile.layers;
const layerRules = LAYERS.flatMap((layer, rank) =>
  [0, 1, 2].map((depth) => {
    const up = '\\.\\./'.repeat(depth + 1);
    const higher = LAYERS.slice(rank + 1);
    const patterns = [
      { regex: `^${up}(${LAYERS.join('|')})/(?!index\\.ts$)`, message: 'enter another folder of src/ only through its index.ts' },
    ];
    if (higher.length) patterns.push({ regex: `^${up}(${higher.join('|')})/`, message: `${layer}/ may import only the layers below it (src/layers.json)` });
    return { files: [`src/${layer}/${'*/'.repeat(depth)}*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
  }),
);

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'smart'],
      'no-duplicate-imports': 'error',
      'no-console': 'off',
    },
  },
  ...layerRules,
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
