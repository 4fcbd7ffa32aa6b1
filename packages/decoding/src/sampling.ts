/**
 * Distributions over the vocabulary from logits. Computed in float64 with the max
 * subtracted; -Infinity logits (masked tokens) get probability 0.
 */
import { DecodingOptionsError } from "./errors";
import type { Rng } from "./rng";

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** log Σ exp(x) in float64, with the max subtracted: log softmax(x)[i] = x[i] − logSumExp(x). */
export function logSumExp(x: ArrayLike<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  if (max === Number.NEGATIVE_INFINITY) throw new DecodingOptionsError("every token is masked: no token can be sampled");
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  return max + Math.log(sum);
}

/** log softmax(x) in float64. */
export function logSoftmax(x: ArrayLike<number>): Float64Array {
  const lse = logSumExp(x);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] - lse;
  return out;
}

/** softmax(x) in float64. */
export function softmax(x: ArrayLike<number>): Float64Array {
  const p = logSoftmax(x);
  for (let i = 0; i < p.length; i++) p[i] = Math.exp(p[i]);
  return p;
}

/** Draw an index from softmax(x) with one uniform number from rng. */
export function sampleLogits(x: ArrayLike<number>, rng: Rng): number {
  return sampleProbs(softmax(x), rng);
}

/** Draw an index from probabilities p (need not be normalised; zeros are never drawn). */
export function sampleProbs(p: ArrayLike<number>, rng: Rng): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += p[i];
  let u = rng() * sum;
  let last = -1;
  for (let i = 0; i < p.length; i++) {
    if (p[i] <= 0) continue;
    last = i;
    u -= p[i];
    if (u < 0) return i;
  }
  // rounding left u a hair above 0: the last token with mass
  if (last < 0) throw new DecodingOptionsError("every token has probability 0: no token can be sampled");
  return last;
}
