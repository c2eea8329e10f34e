/**
 * The Porter stemmer as SQLite's FTS5 `porter` tokenizer applies it, so features see the same terms
 * the store's BM25 index holds ("monitors" and "monitor" both become "monitor").
 *
 * FTS5 runs the classic Porter (1980) rules, with the later "bli → ble" and "logi → log" step-2
 * rules, on the bytes of each lower-cased token of 3 to 64 UTF-8 bytes; shorter and longer tokens pass
 * through. Letters other than a e i o u (and y after a consonant) count as consonants, so a word in
 * another script never matches an English suffix and comes back unchanged. This implementation works
 * on the same bytes with the same rule order, so its output equals FTS5's (a test checks a vocabulary
 * against FTS5's own index).
 */

type Cond = ((b: Uint8Array, n: number) => boolean) | null;
interface Rule {
  suffix: Uint8Array;
  cond: Cond;
  replacement: Uint8Array;
}

const MAX_TOKEN_BYTES = 64;
const A = 97,
  E = 101,
  I = 105,
  O = 111,
  U = 117,
  Y = 121,
  W = 119,
  X = 120,
  L = 108,
  S = 115,
  T = 116,
  Z = 122;
const enc = new TextEncoder();
const dec = new TextDecoder();
const buf = new Uint8Array(MAX_TOKEN_BYTES + 8);

function isVowel(c: number, yIsVowel: boolean): boolean {
  return c === A || c === E || c === I || c === O || c === U || (yIsVowel && c === Y);
}

/** Skip one vowel run then the consonant after it; the index just past that consonant, or 0. */
function gobbleVC(b: Uint8Array, start: number, end: number, prevCons: boolean): number {
  let cons = prevCons;
  let i = start;
  for (; i < end; i++) {
    cons = !isVowel(b[i]!, cons);
    if (!cons) break;
  }
  for (i++; i < end; i++) {
    cons = !isVowel(b[i]!, cons);
    if (cons) return i + 1;
  }
  return 0;
}

/** m > 0: the stem has at least one vowel-consonant sequence. */
const mGt0 = (b: Uint8Array, n: number): boolean => gobbleVC(b, 0, n, false) !== 0;
/** m > 1. */
const mGt1 = (b: Uint8Array, n: number): boolean => {
  const k = gobbleVC(b, 0, n, false);
  return k !== 0 && gobbleVC(b, k, n, true) !== 0;
};
/** m = 1. */
const mEq1 = (b: Uint8Array, n: number): boolean => {
  const k = gobbleVC(b, 0, n, false);
  return k !== 0 && gobbleVC(b, k, n, true) === 0;
};
/** *o: the stem ends consonant-vowel-consonant, the last not w, x or y. */
const oStar = (b: Uint8Array, n: number): boolean => {
  const last = b[n - 1];
  if (last === W || last === X || last === Y) return false;
  let mask = 0;
  let cons = false;
  for (let i = 0; i < n; i++) {
    cons = !isVowel(b[i]!, cons);
    mask = ((mask << 1) | (cons ? 1 : 0)) & 7;
  }
  return mask === 5;
};
/** m > 1 and the stem ends in s or t (for "-ion"). */
const mGt1st = (b: Uint8Array, n: number): boolean => (b[n - 1] === S || b[n - 1] === T) && mGt1(b, n);
/** *v*: the stem contains a vowel (y counts after the first letter). */
const hasVowel = (b: Uint8Array, n: number): boolean => {
  for (let i = 0; i < n; i++) if (isVowel(b[i]!, i > 0)) return true;
  return false;
};

function rules(cond: Cond, pairs: ReadonlyArray<readonly [string, string]>): Rule[] {
  return pairs.map(([suffix, replacement]) => ({ suffix: enc.encode(suffix), cond, replacement: enc.encode(replacement) }));
}

// Within a step, the first rule whose suffix matches decides (its condition may still fail).
const STEP1B: Rule[] = [
  ...rules(mGt0, [['eed', 'ee']]),
  ...rules(hasVowel, [
    ['ed', ''],
    ['ing', ''],
  ]),
];
const STEP1B2: Rule[] = rules(null, [
  ['at', 'ate'],
  ['bl', 'ble'],
  ['iz', 'ize'],
]);
const STEP2: Rule[] = rules(mGt0, [
  ['ational', 'ate'],
  ['tional', 'tion'],
  ['enci', 'ence'],
  ['anci', 'ance'],
  ['izer', 'ize'],
  ['logi', 'log'],
  ['bli', 'ble'],
  ['alli', 'al'],
  ['entli', 'ent'],
  ['eli', 'e'],
  ['ousli', 'ous'],
  ['ization', 'ize'],
  ['ation', 'ate'],
  ['ator', 'ate'],
  ['alism', 'al'],
  ['iveness', 'ive'],
  ['fulness', 'ful'],
  ['ousness', 'ous'],
  ['aliti', 'al'],
  ['iviti', 'ive'],
  ['biliti', 'ble'],
]);
const STEP3: Rule[] = rules(mGt0, [
  ['ical', 'ic'],
  ['ness', ''],
  ['icate', 'ic'],
  ['iciti', 'ic'],
  ['ful', ''],
  ['ative', ''],
  ['alize', 'al'],
]);
const STEP4: Rule[] = [
  ...rules(mGt1, [
    ['al', ''],
    ['ance', ''],
    ['ence', ''],
    ['er', ''],
    ['ic', ''],
    ['able', ''],
    ['ible', ''],
    ['ant', ''],
    ['ement', ''],
    ['ment', ''],
    ['ent', ''],
  ]),
  ...rules(mGt1st, [['ion', '']]),
  ...rules(mGt1, [
    ['ou', ''],
    ['ism', ''],
    ['ate', ''],
    ['iti', ''],
    ['ous', ''],
    ['ive', ''],
    ['ize', ''],
  ]),
];

function endsWith(b: Uint8Array, n: number, suffix: Uint8Array): boolean {
  const k = suffix.length;
  if (n <= k) return false; // FTS5 needs at least one byte of stem
  for (let i = 0; i < k; i++) if (b[n - k + i] !== suffix[i]) return false;
  return true;
}

/** Index of the rule `applyStep` last rewrote with, or -1. */
let applied = -1;

/** Apply the first rule whose suffix matches (if its condition holds); returns the new length. */
function applyStep(b: Uint8Array, n: number, step: readonly Rule[]): number {
  applied = -1;
  for (let k = 0; k < step.length; k++) {
    const r = step[k]!;
    if (!endsWith(b, n, r.suffix)) continue;
    const stem = n - r.suffix.length;
    if (r.cond && !r.cond(b, stem)) return n;
    b.set(r.replacement, stem);
    applied = k;
    return stem + r.replacement.length;
  }
  return n;
}

/** The Porter stem of one lower-cased token, exactly as FTS5's porter tokenizer produces it. */
export function porterStem(token: string): string {
  let ascii = token.length <= MAX_TOKEN_BYTES;
  if (ascii) {
    for (let i = 0; i < token.length; i++) {
      if (token.charCodeAt(i) > 127) {
        ascii = false;
        break;
      }
    }
  }
  let n: number;
  if (ascii) {
    n = token.length;
    if (n < 3) return token;
    for (let i = 0; i < n; i++) buf[i] = token.charCodeAt(i);
  } else {
    const bytes = enc.encode(token);
    n = bytes.length;
    if (n < 3 || n > MAX_TOKEN_BYTES) return token;
    buf.set(bytes);
  }
  const b = buf;

  // Step 1a: plurals.
  if (b[n - 1] === S) {
    if (b[n - 2] === E) {
      if ((n > 4 && b[n - 4] === S && b[n - 3] === S) || (n > 3 && b[n - 3] === I)) n -= 2;
      else n -= 1;
    } else if (b[n - 2] !== S) {
      n -= 1;
    }
  }
  // Step 1b: -eed, -ed, -ing, and the clean-up after removing -ed/-ing.
  n = applyStep(b, n, STEP1B);
  if (applied > 0) {
    // -ed or -ing was removed (rule 0, -eed → -ee, needs no clean-up)
    n = applyStep(b, n, STEP1B2);
    if (applied < 0) {
      const c = b[n - 1]!;
      if (!isVowel(c, false) && c !== L && c !== S && c !== Z && n >= 2 && c === b[n - 2]) n -= 1;
      else if (mEq1(b, n) && oStar(b, n)) b[n++] = E;
    }
  }
  // Step 1c: y → i after a vowel somewhere in the stem.
  if (b[n - 1] === Y && hasVowel(b, n - 1)) b[n - 1] = I;
  // Steps 2–4: derivational suffixes.
  n = applyStep(b, n, STEP2);
  n = applyStep(b, n, STEP3);
  n = applyStep(b, n, STEP4);
  // Step 5a: final e.
  if (b[n - 1] === E && (mGt1(b, n - 1) || (mEq1(b, n - 1) && !oStar(b, n - 1)))) n -= 1;
  // Step 5b: -ll → -l.
  if (n > 1 && b[n - 1] === L && b[n - 2] === L && mGt1(b, n - 1)) n -= 1;

  if (ascii) {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  return dec.decode(b.subarray(0, n));
}
