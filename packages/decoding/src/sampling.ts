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

/**
 * A uniform number in (0, 1) fixed by (seed, position, token): a counter-based hash (integer
 * arithmetic, the same in every host), so the noise of a position does not depend on how
 * many random numbers were drawn before it.
 */
export function keyedUniform(seed: number, position: number, token: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(position + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ Math.imul(token + 0x27d4eb2f, 0x165667b1);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h ^= h >>> 16;
  return ((h >>> 0) + 0.5) / 4294967296;
}

/** Gumbel noise is at most -log(-log(1 - 2^-33)) ≈ 23.6 and at least -log(-log(2^-33)) ≈ -3.2. */
const GUMBEL_SPAN = 23.6 + 3.2;

/**
 * A draw from softmax(x) by the Gumbel-max trick with noise keyed by (seed, position): the
 * token is argmax_i x[i] + G(seed, position, i). Plain sampling and speculative verification
 * both draw this way, so a seed gives the same text with or without a drafter, whatever the
 * draft trees were (the verifier accepts a child exactly when it is this token). Tokens more
 * than the noise's span below the max can never win and get no noise.
 */
export function gumbelSample(x: ArrayLike<number>, seed: number, position: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  if (max === Number.NEGATIVE_INFINITY || Number.isNaN(max)) throw new DecodingOptionsError("every token is masked: no token can be sampled");
  const floor = max - GUMBEL_SPAN;
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) {
    if (!(x[i] >= floor)) continue;
    const score = x[i] - Math.log(-Math.log(keyedUniform(seed, position, i)));
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return best;
}
