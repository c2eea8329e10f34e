/** Type guards for untrusted JSON (endpoint answers, batch files). */

/** A plain JSON object: not null, not an array. */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
