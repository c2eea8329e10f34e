/**
 * Models by name: one frozen registry of everything that can rank or be served (bm25, vector, hybrid,
 * random, student[:PATH][@RETRIEVER]). serve and the CLI load models by name through here; eval takes any
 * Ranker it is handed, and the studies build the rankers they compare themselves.
 */
export { MODEL_NAMES, RANKERS, checkModelName, createRanker, fusionWeightsOf, loadModel } from './registry.ts';
export type { RankerOptions } from './registry.ts';
