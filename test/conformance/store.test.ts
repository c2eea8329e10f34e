/**
 * The Store conformance suite (./store.case.ts) run against every store implementation: today the
 * one SQLite store of src/store.
 */
import { Store } from '../../src/store/index.ts';
import { storeConformance } from './store.case.ts';

storeConformance('SQLite store (src/store)', (path, opts) => Store.open(path, opts), {});
