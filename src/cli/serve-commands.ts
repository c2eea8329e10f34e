/**
 * `distilrank serve`: the search service over a data set of the store (ingested first when it is a
 * built-in one), on 127.0.0.1 by default. Prints the URL (and the admin token when it generated
 * one); SIGTERM or Ctrl-C stops accepting, drains in-flight requests, closes the artifacts, exit 0.
 */
import { Option, type Command } from 'commander';
import { DistilrankError } from '../core/index.ts';
import { RANKERS, checkModelName, MODEL_NAMES } from '../models/index.ts';
import { DEFAULT_BODY_LIMIT, DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, DEFAULT_RATE_LIMIT, startServer, type RunningServer } from '../serve/index.ts';
import { DEFAULT_CANDIDATES } from '../student/index.ts';
import { note, positiveInt, storeWithDataset, type GlobalOptions } from './common.ts';

function nonNegative(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0)
      throw new DistilrankError('BAD_OPTION', `--${name} must be a number ≥ 0, got "${v}"`, { field: name, hint: `e.g. --${name} 100` });
    return n;
  };
}

export interface ServeCommandOptions {
  dataset: string;
  port: number;
  host: string;
  model: string;
  retriever: string;
  candidates: number;
  rateLimit: number;
  rateBurst: number;
  bodyLimit: number;
  maxQueryChars: number;
  teacher: string;
  log?: boolean;
}

export function registerServeCommands(program: Command, g: () => GlobalOptions): void {
  program
    .command('serve')
    .description('serve search, rerank and judge over HTTP (127.0.0.1 by default): candidates from a retriever, re-ranked by the student')
    .requiredOption('--dataset <name>', 'data set')
    .option('--port <n>', 'port (0: any free port)', (v) => (v === '0' ? 0 : positiveInt('port')(v)), DEFAULT_PORT)
    .option('--host <addr>', 'address to bind (keep 127.0.0.1 unless a proxy in front handles TLS and access)', DEFAULT_HOST)
    .option('--model <name>', `re-ranking model: ${MODEL_NAMES.join(', ')}`, 'student')
    .option('--retriever <name>', `candidate retriever: ${Object.keys(RANKERS).join(', ')}`, 'bm25')
    .option('--candidates <n>', 'candidates retrieved per query and re-ranked', positiveInt('candidates'), DEFAULT_CANDIDATES)
    .option('--rate-limit <n>', 'requests per second per client IP (0: no limit)', nonNegative('rate-limit'), DEFAULT_RATE_LIMIT.perSecond)
    .option('--rate-burst <n>', 'requests a client may send at once', positiveInt('rate-burst'), DEFAULT_RATE_LIMIT.burst)
    .option('--body-limit <bytes>', 'largest request body', positiveInt('body-limit'), DEFAULT_BODY_LIMIT)
    .option('--max-query-chars <n>', 'longest query text', positiveInt('max-query-chars'), DEFAULT_LIMITS.maxQueryChars)
    .option('--teacher <name>', 'teacher of POST /v1/judge (llm reads DISTILRANK_LLM_*)', 'llm')
    .addOption(new Option('--log', 'log every request as a JSON line on stdout'))
    .action(async (o: ServeCommandOptions) => {
      checkModelName(o.model);
      if (!RANKERS[o.retriever])
        throw new DistilrankError('UNKNOWN_NAME', `unknown retriever "${o.retriever}"`, {
          field: 'retriever',
          hint: `use one of: ${Object.keys(RANKERS).join(', ')}`,
        });
      // Ingest a built-in data set on first use, then serve the store read-only.
      const store = await storeWithDataset(g(), o.dataset);
      const path = store.path;
      store.close();
      note(g(), `loading ${o.model} over ${o.retriever} (${o.candidates} candidates) for ${o.dataset}`);
      const server = await startServer({
        artifacts: { store: path, dataset: o.dataset, model: o.model, retriever: o.retriever, candidates: o.candidates },
        host: o.host,
        port: o.port,
        rateLimit: { perSecond: o.rateLimit, burst: o.rateBurst },
        bodyLimit: o.bodyLimit,
        limits: { maxQueryChars: o.maxQueryChars },
        judge: { teacher: o.teacher },
        logger: Boolean(o.log),
        handleSignals: true,
      });
      await announceAndWait(g(), server, o.dataset);
    });
}

/** Print where the service is and how to query it, then wait until it closes (SIGTERM / SIGINT). */
export async function announceAndWait(g: GlobalOptions, server: RunningServer, dataset: string, exampleQuery = '…'): Promise<void> {
  const m = server.app.artifacts.current!.info;
  console.log(`serving ${dataset} with ${m.name}@${m.version} (retriever ${m.retriever}, ${m.candidates} candidates) at ${server.url}`);
  if (server.generatedToken) console.log(`admin token (generated for this process; set DISTILRANK_ADMIN_TOKEN to choose one): ${server.adminToken}`);
  console.log(`try: curl -s ${server.url}/v1/search -H 'content-type: application/json' -d '${JSON.stringify({ query: exampleQuery, k: 5 })}'`);
  console.log('(Ctrl-C stops it)');
  await server.closed;
  note(g, 'drained in-flight requests and closed the artifacts; bye');
}
