#!/usr/bin/env node
// The `distilrank` command. Sources are TypeScript; tsx loads them in-process so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
