/**
 * The Store conformance suite (./store.case.ts) run against every store implementation: today the
 * one SQLite store of src/store.
 */
import { Store } from '../../src/store/index.ts';
import { storeConformance } from './store.case.ts';

storeConformance('SQLite store (src/store)', (path, opts) => Store.open(path, opts), {
  oneByteFile: {
    reason:
      'Store.open takes a 1-byte file for an existing SQLite database (size > 0), SQLite then treats it as empty, and ' +
      'checkOrInit writes a new store over it, even without create; fix in src/store/store.ts: refuse an existing ' +
      'file that does not start with the SQLite header (the same check is missing in src/core/sidecar-db.ts)',
  },
  readonlySideFiles: {
    reason:
      'opening a WAL-mode SQLite file (the label cache) readonly leaves -wal and -shm files beside it after the ' +
      'refusal; fix in src/store/store.ts: read application_id from the file header before opening a connection',
  },
});
