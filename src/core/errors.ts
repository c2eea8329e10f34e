/**
 * The catalogue of errors distilrank reports to users. Every error a user can cause has a stable
 * code, a message that names the bad value (file, line, field) and a hint that says how to fix it.
 * The CLI prints `error[CODE]: message` + hint and exits nonzero; it never prints a stack trace for
 * these. docs/errors.md lists every code (a test checks that it does).
 */

export const ERROR_CODES = {
  BAD_INPUT: 'a row, field or value in an input file is malformed',
  BAD_ENCODING: 'an input file is not valid UTF-8',
  UNKNOWN_GRADE: 'a judgment grade is not on the data set’s declared scale',
  DUPLICATE_ID: 'the same id appears twice in one input',
  UNKNOWN_REFERENCE: 'a judgment or log event names an item or query that was not ingested',
  FILE_NOT_FOUND: 'an input file or data set folder does not exist',
  STORE_VERSION: 'the store file was written by another schema version',
  STORE_NOT_FOUND: 'the store has no such data set (ingest it first)',
  UNKNOWN_NAME: 'an unknown data set, model, protocol, split or metric name',
  BAD_OPTION: 'a command-line option has an invalid value',
  DOWNLOAD_FAILED: 'a data set could not be downloaded',
  CHECKSUM_MISMATCH: 'a downloaded file does not have the published checksum',
  TEACHER_FAILED: 'the teacher refused the labelling job (authentication, bad request, unknown model)',
  NOT_DOWNLOADABLE: 'a data set is absent and has no public download',
  CAPTIONER_FAILED: 'the vision-language model endpoint refused the captions job (authentication, bad request, unknown model)',
  TRAINING_FAILED: 'training a model diverged or produced no usable weights',
  MODEL_MISMATCH: 'a model artifact does not fit this distilrank, data set or feature set',
  MISSING_DEPENDENCY: 'an optional package a feature needs is not installed or cannot load',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetails {
  /** The file the bad input came from, when there is one. */
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  /** The field (column, JSON key, option) holding the bad value. */
  field?: string;
  /** What to do about it, in one sentence. */
  hint?: string;
}

export class DistilrankError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'DistilrankError';
    this.code = code;
    this.details = details;
  }

  /** `file:line: field "x": message` — the location first, as compilers print it. */
  get where(): string {
    const { file, line, field } = this.details;
    const parts: string[] = [];
    if (file !== undefined) parts.push(line !== undefined ? `${file}:${line}` : file);
    if (field !== undefined) parts.push(`field "${field}"`);
    return parts.join(': ');
  }

  /** The full text shown to a user: location, message, and the hint on its own line. */
  format(): string {
    const where = this.where;
    const head = `error[${this.code}]: ${where ? `${where}: ` : ''}${this.message}`;
    return this.details.hint ? `${head}\n  hint: ${this.details.hint}` : head;
  }
}

export function isDistilrankError(e: unknown): e is DistilrankError {
  return e instanceof DistilrankError;
}

/** Build the error for an unknown name in a registry, listing the valid ones. */
export function unknownName(kind: string, name: string, valid: readonly string[]): DistilrankError {
  return new DistilrankError('UNKNOWN_NAME', `unknown ${kind} "${name}"`, {
    hint: `use one of: ${valid.join(', ')}`,
  });
}
