/**
 * Where each public data set can be downloaded from: a frozen registry, one entry per data set.
 *
 * Every downloadable file is pinned to a commit of its public source and checked against the
 * SHA-256 of its final bytes (after post-processing), so a download either reproduces the exact
 * files the project was developed against or fails with CHECKSUM_MISMATCH. Nothing is ever used
 * unchecked.
 *
 * Mirrors (`baseUrl` / DISTILRANK_DOWNLOAD_MIRROR, see download.ts): a source is then fetched from
 * `${mirror}/${dataset}/${source.path}`, where `source.path` is the file's path inside its upstream
 * repository (e.g. `<mirror>/cranfield/cran.all.1400`,
 * `<mirror>/icecat-chorus/katas/Broad_Query_Set_rated.csv`). A mirror is a plain copy of the
 * upstream files under one folder per data set; checksums are checked exactly as for the origin.
 */

/** One file fetched from a public source. */
export interface SourceFile {
  /** The file's path inside its upstream repository; also its path under a mirror's data set folder. */
  readonly path: string;
  /** Public URLs pinned to a commit, tried in order (the next one only on a network/HTTP failure). */
  readonly urls: readonly string[];
  /** The size in bytes when published (the download stops as soon as more arrives), if known. */
  readonly bytes?: number;
}

/**
 * How the fetched source bytes become the file in the data set folder.
 * - `copy`: exactly one source, stored unchanged.
 * - `json-array-zips-to-jsonl`: every source is a ZIP archive whose members are each one JSON array;
 *   the elements of all arrays, in source order then member order then array order, are written one
 *   per line, formatted exactly as Python's `json.dumps(value, ensure_ascii=False)` writes them
 *   (`", "` and `": "` separators, key order kept, non-ASCII kept raw, floats in Python's repr).
 */
export type PostProcess = 'copy' | 'json-array-zips-to-jsonl';

/** A file of a data set that distilrank can download. */
export interface DownloadableFile {
  /** Path inside the data set folder, `/`-separated (e.g. `raw/cran.all.1400`). */
  readonly target: string;
  readonly sources: readonly SourceFile[];
  /** SHA-256 (lowercase hex) of the final file's bytes, i.e. after `postprocess`. */
  readonly sha256: string;
  /** Size of the final file in bytes, if known. */
  readonly bytes?: number;
  readonly postprocess: PostProcess;
}

/** A file of a data set that distilrank cannot download; the folder is usable without it when `optional`. */
export interface ManualFile {
  readonly target: string;
  readonly optional: boolean;
  /** Why it cannot be downloaded. */
  readonly reason: string;
}

export interface DatasetSource {
  readonly name: string;
  /** Where the data comes from, in one line (shown in errors and docs). */
  readonly origin: string;
  readonly license: string;
  /** False when a required file cannot be downloaded: the user must bring the folder. */
  readonly downloadable: boolean;
  readonly files: readonly DownloadableFile[];
  readonly manualFiles: readonly ManualFile[];
  /** How to get the data by hand (used as the hint of NOT_DOWNLOADABLE / DOWNLOAD_FAILED). */
  readonly manualHint: string;
}

const CRANFIELD_COMMIT = '4ea1b8e02da1db64b68b0364d50620b3c95528dc';
const CRANFIELD_RAW = `https://raw.githubusercontent.com/noramtboraas/information-retrieval/${CRANFIELD_COMMIT}`;
const CHORUS_COMMIT = '96edf8b536e521be06cab910e0f6a9b25e3016fc';
const CHORUS_RAW = `https://raw.githubusercontent.com/querqy/chorus/${CHORUS_COMMIT}`;

function copyOf(target: string, base: string, path: string, sha256: string, bytes: number): DownloadableFile {
  return { target, sources: [{ path, urls: [`${base}/${path}`], bytes }], sha256, bytes, postprocess: 'copy' };
}

function chorusProductZip(n: number): SourceFile {
  const path = `data-encoder/ecommerce/vectors/data/${n}.json.zip`;
  return { path, urls: [`${CHORUS_RAW}/${path}`] };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

export const DATASET_SOURCES: Readonly<Record<string, DatasetSource>> = deepFreeze({
  cranfield: {
    name: 'cranfield',
    origin: `GitHub noramtboraas/information-retrieval at commit ${CRANFIELD_COMMIT} (SMART-format Cranfield II copy)`,
    license: 'no licence attached; freely distributed research test collection (Glasgow IR group / SMART)',
    downloadable: true,
    files: [
      copyOf('raw/cran.all.1400', CRANFIELD_RAW, 'cran.all.1400', 'fbb8935a93263ab6c9fadefb507fd7cd5e101e7fbeb31c12e6bff6dd501315e8', 1_684_117),
      copyOf('raw/cran.qry', CRANFIELD_RAW, 'cran.qry', '99578ceb88941ef89c14faf7c63c23776a376d8fba319b990f01d0c601d8b03f', 28_957),
      copyOf('raw/cranqrel', CRANFIELD_RAW, 'cranqrel', 'a90f56082cd44db70bf2c21ebca39a1a34e37c82ccb5ddf1bcc64f18795234c7', 21_377),
      copyOf('raw/cranqrel.readme', CRANFIELD_RAW, 'cranqrel.readme', '5d5b5e72a4799df3e4ea98476ed803b2caac01d90c859a91771ac794971a1ad3', 1_487),
    ],
    manualFiles: [],
    manualHint:
      `download cran.all.1400, cran.qry, cranqrel and cranqrel.readme from ${CRANFIELD_RAW}/<file> ` +
      'into <data-dir>/cranfield/raw/ and pass --data-dir <data-dir>',
  },

  'icecat-chorus': {
    name: 'icecat-chorus',
    origin: `GitHub querqy/chorus at commit ${CHORUS_COMMIT} (Icecat products, Supahands and Broad Query Set judgments)`,
    license: 'products: Icecat Open Content Licence; Chorus judgments: Apache-2.0',
    downloadable: true,
    files: [
      copyOf(
        'supahands_individual_ratings.csv',
        CHORUS_RAW,
        'katas/Broad_Query_Set_individual_ratings.csv',
        'cdaaa60503c87450730ad86b614fcd0026cdd6069ac1b7a5189b1b44ca785e30',
        182_092,
      ),
      copyOf(
        'broad_query_set_rated.csv',
        CHORUS_RAW,
        'katas/Broad_Query_Set_rated.csv',
        '065b79c6c19b9ea8fa2dc2b0b8dae3f40c6389454a1f26aac3d3f8a7d43731b2',
        75_875,
      ),
      // DERIVED. Chorus's own loaders (e.g. finetuner/*/prepare_*.py) read every member of these
      // zips with Python's `json.load` as one array of product objects. The reference copy was made by
      // writing each product as `json.dumps(product, ensure_ascii=False)` + "\n" (checked offline: all
      // 19,406 lines of the local copy are byte-identical to that re-serialisation). download.ts
      // reproduces it from the values, whatever the zips' own whitespace/escaping, so the result does
      // not depend on the zips' formatting. NOT verified offline: the zips' bytes themselves (no network
      // here, their hashes are unknown). Hence the check below is on the DERIVED file and is never
      // skipped: if the upstream zips hold anything else, the download fails with CHECKSUM_MISMATCH.
      {
        target: 'products.jsonl',
        sources: [chorusProductZip(1), chorusProductZip(2), chorusProductZip(3), chorusProductZip(4)],
        sha256: '30010155f95c1c6a37723f053f642ebad645d00bcdc4bd49321135812499a02b',
        bytes: 28_576_556,
        postprocess: 'json-array-zips-to-jsonl',
      },
    ],
    manualFiles: [
      {
        target: 'haystack_rating_party.jsonl',
        optional: true,
        reason:
          'derived from the Quepid book db/sample_data/haystack_rating_party_book.json.zip (o19s/quepid ' +
          'f80322f3acb12cde69493b6bd9fda1ac08eb0d60) with rater e-mail addresses replaced by pseudonyms; ' +
          'distilrank does not download or process personal e-mail addresses, so this file must be ' +
          'brought by hand (the adapter works without it)',
      },
    ],
    manualHint:
      `download katas/Broad_Query_Set_individual_ratings.csv, katas/Broad_Query_Set_rated.csv and ` +
      `data-encoder/ecommerce/vectors/data/{1,2,3,4}.json.zip from ${CHORUS_RAW}/, ` +
      'save the CSVs as <data-dir>/icecat-chorus/supahands_individual_ratings.csv and broad_query_set_rated.csv, ' +
      'unzip the four zips and write their products one JSON object per line to ' +
      '<data-dir>/icecat-chorus/products.jsonl, then pass --data-dir <data-dir>',
  },

  'home-depot': {
    name: 'home-depot',
    origin: 'Kaggle competition "Home Depot Product Search Relevance" (2016)',
    license: 'Kaggle competition rules (research/evaluation use; not redistributable)',
    downloadable: false,
    files: [],
    manualFiles: [
      {
        target: 'train.csv',
        optional: false,
        reason: 'Kaggle competition data: downloading it requires a Kaggle login and accepting the competition rules',
      },
    ],
    manualHint:
      'sign in at https://www.kaggle.com/c/home-depot-product-search-relevance/data, accept the ' +
      'competition rules, download train.csv.zip and unzip it; the Kaggle file is ISO-8859-1, so convert ' +
      'it to UTF-8 with `iconv -f latin1 -t utf-8 train.csv > <data-dir>/home-depot/train.csv`, ' +
      'then pass --data-dir <data-dir> (or set DISTILRANK_DATA_DIR)',
  },
} satisfies Record<string, DatasetSource>);

/** Names of the data sets in the registry. */
export function datasetSourceNames(): string[] {
  return Object.keys(DATASET_SOURCES);
}
