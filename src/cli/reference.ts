import { buildProgram } from './main.ts';

/** The CLI reference (docs/cli.md): every command's --help text, generated from the program itself. */
export function renderCliReference(): string {
  const program = buildProgram();
  program.configureOutput({ getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 });
  const parts = [
    '# distilrank CLI reference',
    '',
    'Generated from the commands themselves by `npm run docs:generate`; a test fails when this file is stale.',
    'Every option with an environment variable (e.g. `DISTILRANK_STORE`, `DISTILRANK_DATA_DIR`) can be set either way.',
    '',
    '## distilrank',
    '',
    '```text',
    program.helpInformation().trimEnd(),
    '```',
  ];
  for (const c of program.commands) {
    c.configureOutput({ getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 });
    parts.push('', `## distilrank ${c.name()}`, '', '```text', c.helpInformation().trimEnd(), '```');
  }
  return `${parts.join('\n')}\n`;
}
