/**
 * Calibrating a teacher's level distributions to the human scale: temperature and per-level bias on
 * log-probabilities,
 *
 *   p'_k ∝ exp(ℓ_k / T + b_k),   ℓ_k = max(log p_k, log 1e-6),   b_1 = 0 (L1 is the reference),
 *
 * fitted by minimising the negative log-likelihood of the human levels. In the inverse temperature
 * a = 1/T the logits a·ℓ_k + b_k are linear in the parameters, so the NLL is convex; it is minimised
 * by damped Newton steps (5 parameters, Armijo backtracking) in plain TypeScript: deterministic, no
 * random start. A small ridge term (λ/2)·((a − 1)² + Σ b_k²) keeps the optimum finite when a level
 * never occurs among the human labels or the teacher separates the levels perfectly; it is zero at the
 * identity, so the fitted NLL is never above the uncalibrated one on the fitting pairs. T is kept in
 * [1e-3, 1e3].
 */
import { DistilrankError } from '../../core/index.ts';

/** JSON-serialisable result of `fitCalibration` (NaN NLLs, for no pairs, serialise as null). */
export interface Calibration {
  method: 'temperature-bias';
  /** T: > 1 flattens the teacher's distributions, < 1 sharpens them. */
  temperature: number;
  /** b_1 … b_5 added to the scaled log-probabilities; b_1 is fixed at 0. */
  bias: number[];
  /** Pairs the calibration was fitted on. */
  pairs: number;
  /** Mean NLL (nats per pair) of the human levels on the fitting pairs, before and after calibration. */
  nllBefore: number;
  nllAfter: number;
  /** Newton iterations run (0 for the identity). */
  iterations: number;
  /** Why the calibration is the identity, when it is. */
  note?: string;
}

export interface CalibrationOptions {
  /** Fewer pairs than this give the identity calibration (default 20). */
  minPairs?: number;
  /** Ridge weight λ on the summed NLL (default 1e-2). */
  l2?: number;
  /** Newton iterations at most (default 100). */
  maxIterations?: number;
}

export const CALIBRATION_DEFAULTS = Object.freeze({ minPairs: 20, l2: 1e-2, maxIterations: 100 });

/** Log-probabilities below log(1e-6) are clamped there before calibration. */
export const LOG_P_FLOOR = Math.log(1e-6);

const K = 5;
const A_MIN = 1e-3;
const A_MAX = 1e3;

/** The identity calibration (T = 1, b = 0). */
export function identityCalibration(pairs = 0, note?: string): Calibration {
  return { method: 'temperature-bias', temperature: 1, bias: [0, 0, 0, 0, 0], pairs, nllBefore: NaN, nllAfter: NaN, iterations: 0, ...(note ? { note } : {}) };
}

function checkInputs(pred: ArrayLike<number>, truth: readonly number[]): void {
  if (pred.length !== truth.length * K) {
    throw new DistilrankError('BAD_INPUT', `calibration: ${pred.length} probabilities for ${truth.length} levels (need ${K} per level)`, {
      hint: 'pass one row of five probabilities (L1 … L5) per human level',
    });
  }
  for (let i = 0; i < truth.length; i++) {
    const y = truth[i]!;
    if (!Number.isInteger(y) || y < 1 || y > K) {
      throw new DistilrankError('BAD_INPUT', `calibration: human level ${y} at pair ${i} is not one of 1 … 5`, {
        hint: 'map judgments onto the five levels first',
      });
    }
  }
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i]!;
    if (!Number.isFinite(p) || p < 0) {
      throw new DistilrankError('BAD_INPUT', `calibration: probability ${p} at pair ${Math.floor(i / K)} is not a finite non-negative number`, {
        hint: 'pass level distributions (five non-negative numbers per pair)',
      });
    }
  }
}

/** Clamped log-probabilities, row-major n×5, in double precision. */
function logProbs(pred: ArrayLike<number>): Float64Array {
  const l = new Float64Array(pred.length);
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i]!;
    l[i] = p > 0 ? Math.max(Math.log(p), LOG_P_FLOOR) : LOG_P_FLOOR;
  }
  return l;
}

/** Softmax of a·ℓ_row + b into `out`; returns log Σ exp (for the NLL). */
function rowSoftmax(l: Float64Array, row: number, a: number, b: ArrayLike<number>, out: Float64Array): number {
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    const z = a * l[row * K + k]! + b[k]!;
    out[k] = z;
    if (z > max) max = z;
  }
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const e = Math.exp(out[k]! - max);
    out[k] = e;
    sum += e;
  }
  for (let k = 0; k < K; k++) out[k] = out[k]! / sum;
  return max + Math.log(sum);
}

/** Summed NLL of the human levels under parameters (a, b). */
function totalNll(l: Float64Array, truth: readonly number[], a: number, b: ArrayLike<number>): number {
  const p = new Float64Array(K);
  let nll = 0;
  for (let i = 0; i < truth.length; i++) {
    const lse = rowSoftmax(l, i, a, b, p);
    const y = truth[i]! - 1;
    nll += lse - (a * l[i * K + y]! + b[y]!);
  }
  return nll;
}

/** Solve the symmetric positive definite system H x = g (Cholesky); null when H is not SPD. */
function solveSpd(h: number[][], g: readonly number[]): number[] | null {
  const n = g.length;
  const L = h.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = h[i]![j]!;
      for (let k = 0; k < j; k++) s -= L[i]![k]! * L[j]![k]!;
      if (i === j) {
        if (!(s > 0)) return null;
        L[i]![i] = Math.sqrt(s);
      } else L[i]![j] = s / L[j]![j]!;
    }
  }
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = g[i]!;
    for (let k = 0; k < i; k++) s -= L[i]![k]! * y[k]!;
    y[i] = s / L[i]![i]!;
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= L[k]![i]! * x[k]!;
    x[i] = s / L[i]![i]!;
  }
  return x;
}

/**
 * Fit temperature and bias on `pred` (n×5 teacher probabilities, row-major) against `truth` (human
 * levels 1 … 5). Fewer than `minPairs` pairs give the identity, with a note. BAD_INPUT when the
 * lengths disagree, a level is off the scale or a probability is negative or not finite.
 */
export function fitCalibration(pred: ArrayLike<number>, truth: readonly number[], opts: CalibrationOptions = {}): Calibration {
  checkInputs(pred, truth);
  const minPairs = opts.minPairs ?? CALIBRATION_DEFAULTS.minPairs;
  const lambda = opts.l2 ?? CALIBRATION_DEFAULTS.l2;
  const maxIterations = opts.maxIterations ?? CALIBRATION_DEFAULTS.maxIterations;
  const n = truth.length;
  const l = logProbs(pred);
  const zeroBias = [0, 0, 0, 0, 0];
  const nllIdentity = n ? totalNll(l, truth, 1, zeroBias) / n : NaN;
  if (n < minPairs) {
    return {
      ...identityCalibration(n, `${n} calibration pair${n === 1 ? '' : 's'}, fewer than ${minPairs}: identity calibration (T = 1, b = 0)`),
      nllBefore: nllIdentity,
      nllAfter: nllIdentity,
    };
  }

  // θ = (a, b_2, b_3, b_4, b_5); b_1 = 0.
  const P = K; // 1 + (K − 1) parameters
  let a = 1;
  const b = [0, 0, 0, 0, 0];
  const objective = (a_: number, b_: readonly number[]) => {
    let ridge = (a_ - 1) ** 2;
    for (let k = 1; k < K; k++) ridge += b_[k]! ** 2;
    return totalNll(l, truth, a_, b_) + 0.5 * lambda * ridge;
  };
  let f = objective(a, b);
  const p = new Float64Array(K);
  let iterations = 0;
  let done = false;
  while (!done && iterations < maxIterations) {
    // Gradient and Hessian of the summed NLL in θ: J = ∂z/∂θ, dz_k/da = ℓ_k, dz_k/db_j = δ_kj (j ≥ 2).
    const g = new Array<number>(P).fill(0);
    const h = Array.from({ length: P }, () => new Array<number>(P).fill(0));
    const jac = (k: number, t: number, row: number) => (t === 0 ? l[row * K + k]! : k === t ? 1 : 0);
    for (let i = 0; i < n; i++) {
      rowSoftmax(l, i, a, b, p);
      const y = truth[i]! - 1;
      // r_k = p_k − y_k; gradient Jᵀr; Hessian Jᵀ(diag p − p pᵀ)J.
      let pl = 0; // Σ p_k ℓ_k
      for (let k = 0; k < K; k++) pl += p[k]! * l[i * K + k]!;
      for (let t = 0; t < P; t++) {
        let gt = 0;
        for (let k = 0; k < K; k++) gt += (p[k]! - (k === y ? 1 : 0)) * jac(k, t, i);
        g[t] = g[t]! + gt;
        // (Jᵀ p)_t
        const jp_t = t === 0 ? pl : p[t]!;
        for (let u = 0; u <= t; u++) {
          const jp_u = u === 0 ? pl : p[u]!;
          let s = 0;
          for (let k = 0; k < K; k++) s += p[k]! * jac(k, t, i) * jac(k, u, i);
          h[t]![u] = h[t]![u]! + s - jp_t * jp_u;
        }
      }
    }
    g[0] = g[0]! + lambda * (a - 1);
    for (let t = 1; t < P; t++) g[t] = g[t]! + lambda * b[t]!;
    for (let t = 0; t < P; t++) {
      h[t]![t] = h[t]![t]! + lambda;
      for (let u = 0; u < t; u++) h[u]![t] = h[t]![u]!;
    }
    const gNorm = Math.max(...g.map(Math.abs));
    if (gNorm < 1e-9 * Math.max(1, n)) break;
    iterations += 1;
    let d = solveSpd(
      h,
      g.map((x) => -x),
    );
    if (!d || d.some((x) => !Number.isFinite(x))) d = g.map((x) => -x / Math.max(1, n)); // fall back to a gradient step
    const slope = d.reduce((s, x, t) => s + x * g[t]!, 0);
    let step = 1;
    let accepted = false;
    for (let halvings = 0; halvings < 60; halvings++, step /= 2) {
      const a2 = Math.min(A_MAX, Math.max(A_MIN, a + step * d[0]!));
      const b2 = [0, ...[1, 2, 3, 4].map((t) => b[t]! + step * d[t]!)];
      const f2 = objective(a2, b2);
      if (Number.isFinite(f2) && f2 <= f + 1e-4 * step * slope) {
        const decrease = f - f2;
        a = a2;
        for (let t = 1; t < K; t++) b[t] = b2[t]!;
        f = f2;
        accepted = true;
        done = decrease <= 1e-13 * Math.max(1, Math.abs(f));
        break;
      }
    }
    if (!accepted) done = true;
  }
  return {
    method: 'temperature-bias',
    temperature: 1 / a,
    bias: b.map((x) => x + 0), // +0 turns −0 into 0 for JSON
    pairs: n,
    nllBefore: nllIdentity,
    nllAfter: totalNll(l, truth, a, b) / n,
    iterations,
  };
}

function checkCalibration(cal: Calibration): void {
  if (!(cal.temperature > 0) || !Number.isFinite(cal.temperature) || cal.bias.length !== K || cal.bias.some((x) => !Number.isFinite(x))) {
    throw new DistilrankError('BAD_INPUT', `not a calibration: temperature ${cal.temperature}, bias [${cal.bias.join(', ')}]`, {
      hint: 'a calibration has a positive temperature and five finite biases (fitCalibration writes one)',
    });
  }
}

/** Calibrated distributions (n×5, row-major) for `probs` (n×5). */
export function applyCalibration(cal: Calibration, probs: ArrayLike<number>): Float32Array {
  checkCalibration(cal);
  if (probs.length % K !== 0) {
    throw new DistilrankError('BAD_INPUT', `calibration: ${probs.length} probabilities is not a whole number of rows of ${K}`, {
      hint: 'pass one row of five probabilities (L1 … L5) per pair',
    });
  }
  const l = logProbs(probs);
  const out = new Float32Array(probs.length);
  const p = new Float64Array(K);
  for (let i = 0; i < probs.length / K; i++) {
    rowSoftmax(l, i, 1 / cal.temperature, cal.bias, p);
    for (let k = 0; k < K; k++) out[i * K + k] = p[k]!;
  }
  return out;
}

/** Mean NLL (nats per pair) of `truth` (levels 1 … 5) under `probs` (n×5), log p clamped at log 1e-6 and rows renormalised. NaN for no pairs. */
export function meanNll(probs: ArrayLike<number>, truth: readonly number[]): number {
  checkInputs(probs, truth);
  if (!truth.length) return NaN;
  return totalNll(logProbs(probs), truth, 1, [0, 0, 0, 0, 0]) / truth.length;
}
