/**
 * Models by name: one frozen registry of everything that can rank or be served (bm25, vector, hybrid,
 * random, student[:PATH][@RETRIEVER]). eval, serve, studies and the CLI load models through here.
 */
export { MODEL_NAMES, RANKERS, checkModelName, createRanker, fusionWeightsOf, loadModel } from './registry.ts';
export type { RankerOptions } from './registry.ts';
