/**
 * What the service tests share: a store with cranfield (1,400 abstracts, fast to ingest) and two tiny
 * students trained on it with different seeds (a few epochs: seconds), built once per test file.
 */
import { join } from 'node:path';
import { DATASETS, resolveDatasetDir } from '../src/ingest/datasets/index.ts';
import { Store } from '../src/store/index.ts';
import { trainStudent, writeStudentArtifact } from '../src/student/index.ts';
import { DATA_DIR, tempDir } from './helpers.ts';

export const SERVE_DS = 'cranfield';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface ServeFixture {
  dir: string;
  storePath: string;
  studentA: string;
  studentB: string;
  cleanup: () => void;
}

export async function buildServeFixture(): Promise<ServeFixture> {
  const t = tempDir('distilrank-serve-');
  const storePath = join(t.path, 'store.sqlite');
  const store = Store.open(storePath, { create: true });
  try {
    store.ingest(DATASETS[SERVE_DS]!.load(await resolveDatasetDir(SERVE_DS, { dataDir: DATA_DIR, download: false })));
    const dirs: string[] = [];
    for (const seed of [1, 2]) {
      const trained = await trainStudent({ dataset: store.dataset(SERVE_DS), config: { epochs: 3, seed } });
      const dir = join(t.path, `student-${seed}`);
      writeStudentArtifact(dir, trained.onnx, trained.card);
      dirs.push(dir);
    }
    return { dir: t.path, storePath, studentA: dirs[0]!, studentB: dirs[1]!, cleanup: t.cleanup };
  } finally {
    store.close();
  }
}
