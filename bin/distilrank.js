#!/usr/bin/env node
// The `distilrank` command. Sources are TypeScript; tsx loads them in-process so there is no build step.
import { register } from 'tsx/esm/api';

register();
// Emscripten's glue in tfjs-backend-wasm installs process-wide handlers that rethrow any uncaught
// error with a dump of its minified source; distilrank reports its own errors, so drop them.
const before = {
  uncaughtException: process.listeners('uncaughtException'),
  unhandledRejection: process.listeners('unhandledRejection'),
};
const { main } = await import('../src/cli/main.ts');
for (const event of /** @type {const} */ (['uncaughtException', 'unhandledRejection'])) {
  for (const listener of process.listeners(event)) if (!before[event].includes(listener)) process.off(event, listener);
}
// A closed pipe (`distilrank … | head`) ends the command quietly, as Unix tools do.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
process.exitCode = await main(process.argv);
