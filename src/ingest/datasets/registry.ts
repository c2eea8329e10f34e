/**
 * The built-in data sets, by name. Each adapter reads a data set folder in its published layout and
 * returns a DatasetBundle for the store.
 */
import { unknownName } from '../../core/index.ts';
import type { DatasetBundle } from '../records.ts';
import { CRANFIELD_FILES, loadCranfield } from './adapters/cranfield.ts';
import { HOME_DEPOT_FILES, loadHomeDepot } from './adapters/home-depot.ts';
import { ICECAT_FILES, loadIcecatChorus } from './adapters/icecat-chorus.ts';

export interface DatasetAdapter {
  name: string;
  /** Files the folder must hold (relative paths). */
  files: readonly string[];
  load(dir: string): DatasetBundle;
}

export const DATASETS: Readonly<Record<string, DatasetAdapter>> = Object.freeze({
  'icecat-chorus': { name: 'icecat-chorus', files: ICECAT_FILES, load: loadIcecatChorus },
  'home-depot': { name: 'home-depot', files: HOME_DEPOT_FILES, load: loadHomeDepot },
  cranfield: { name: 'cranfield', files: CRANFIELD_FILES, load: loadCranfield },
});

export function datasetAdapter(name: string): DatasetAdapter {
  const a = DATASETS[name];
  if (!a) throw unknownName('data set', name, Object.keys(DATASETS));
  return a;
}
