/**
 * Steering-vector decoding in logit space, after SVDecode (Hu, Han, Jiang, Tao, Fang, Dai,
 * Kwong, Fang 2025, "Distribution-Aligned Decoding for Efficient LLM Task Adaptation",
 * arXiv 2509.15888): shift each step's logits z by a steering vector δ with strength μ,
 *
 *   z' = z + μ·δ.
 *
 * The paper derives δ from the KL gradient between a warm-started (briefly fine-tuned) model
 * q and the pre-trained model p, projected into logit space. With the softmax Jacobian
 * J = diag(p) − p·pᵀ that projection is
 *
 *   δ = −Jᵀ ∇_p KL(q ‖ p) = J (q / p) = q − p  =  −∇_z KL(q ‖ softmax(z)),
 *
 * the steepest-descent direction of the KL to the target in logit space (and the expected
 * logit gradient of a maximum-likelihood step on data from q, hence "first-order equivalent
 * to fine-tuning").
 *
 * Strength. Along the line, f(μ) = KL(q ‖ softmax(z + μδ)) is convex:
 *   f'(μ) = δ·(r_μ − q),  f''(μ) = Var_{r_μ}(δ) ≥ 0,  r_μ = softmax(z + μδ).
 * One Gauss-Newton step from μ = 0 gives the closed form
 *   μ* = ‖δ‖² / Var_p(δ)        (δ = q − p, so −f'(0) = ‖δ‖²);
 * damped Newton steps converge to the exact (global) minimiser. The paper's own constant and its
 * confidence mask are not reproduced verbatim: `minProb` below is our version of the mask
 * (steer only tokens plausible under either model).
 */
import { DecodingOptionsError } from "./errors";
import type { LogitsProcessor } from "./processors";
import { softmax } from "./sampling";

function checkVector(v: ArrayLike<number>, name: string): void {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new DecodingOptionsError(`${name}[${i}] must be finite, got ${v[i]}`);
}

/**
 * z ← z + strength·vector. `vector` is logit-space and vocabulary-sized; a function gives a
 * per-step vector from the context (prompt + generated). With vocabSize the length is
 * checked now; it is always checked against the logits.
 */
export function steeringProcessor(
  vector: Float32Array | ((context: readonly number[]) => Float32Array),
  strength: number,
  vocabSize?: number,
): LogitsProcessor {
  if (!Number.isFinite(strength)) throw new DecodingOptionsError(`steering strength must be finite, got ${strength}`);
  if (typeof vector !== "function") {
    if (!(vector instanceof Float32Array)) throw new DecodingOptionsError("the steering vector must be a Float32Array");
    if (vocabSize !== undefined && vector.length !== vocabSize)
      throw new DecodingOptionsError(`the steering vector has ${vector.length} entries, the vocabulary ${vocabSize}`);
    checkVector(vector, "steering vector");
  }
  return (logits, context) => {
    if (strength === 0) return;
    const v = typeof vector === "function" ? vector(context) : vector;
    if (v.length !== logits.length) throw new DecodingOptionsError(`the steering vector has ${v.length} entries, the logits ${logits.length}`);
    // −∞ stays −∞: a masked token is not brought back by the shift
    for (let i = 0; i < logits.length; i++) logits[i] += strength * v[i];
  };
}

/**
 * δ = softmax(tuned) − softmax(base): the negative KL(q ‖ p) gradient in logit space.
 * Entries where both probabilities are below `minProb` are zeroed (default 0: none).
 */
export function steeringVectorFromDistributions(baseLogits: ArrayLike<number>, tunedLogits: ArrayLike<number>, opts: { minProb?: number } = {}): Float32Array {
  if (baseLogits.length !== tunedLogits.length)
    throw new DecodingOptionsError(`base and tuned logits differ in length: ${baseLogits.length} vs ${tunedLogits.length}`);
  const minProb = opts.minProb ?? 0;
  if (!(minProb >= 0 && minProb <= 1)) throw new DecodingOptionsError(`minProb must be in [0, 1], got ${minProb}`);
  const p = softmax(baseLogits);
  const q = softmax(tunedLogits);
  const d = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) d[i] = p[i] < minProb && q[i] < minProb ? 0 : q[i] - p[i];
  return d;
}

/** f(μ) = KL(q ‖ softmax(z + μδ)) with f'(μ) and f''(μ). */
function along(z: ArrayLike<number>, d: ArrayLike<number>, q: Float64Array, mu: number): { f: number; g: number; h: number } {
  const shifted = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) shifted[i] = z[i] + mu * d[i];
  const r = softmax(shifted);
  let f = 0;
  let g = 0;
  let mean = 0;
  let sq = 0;
  for (let i = 0; i < z.length; i++) {
    if (q[i] > 0) f += q[i] * Math.log(q[i] / r[i]);
    g += d[i] * (r[i] - q[i]);
    mean += r[i] * d[i];
    sq += r[i] * d[i] * d[i];
  }
  return { f, g, h: sq - mean * mean };
}

/**
 * The strength μ minimising KL(softmax(tuned) ‖ softmax(base + μ·vector)).
 *
 * "gauss-newton": the closed form μ = −f'(0) / f''(0) (= ‖δ‖² / Var_p(δ) for δ = q − p), one
 * Newton step from 0; it can overshoot when the target is far.
 * "exact" (default): Newton steps with backtracking (a step that does not lower f is
 * halved) until f' vanishes; f is convex in μ, so this is the global minimiser.
 * 0 when the vector cannot move the distribution.
 */
export function optimalSteeringStrength(
  baseLogits: ArrayLike<number>,
  vector: ArrayLike<number>,
  tunedLogits: ArrayLike<number>,
  opts: { method?: "exact" | "gauss-newton" } = {},
): number {
  const n = baseLogits.length;
  if (vector.length !== n || tunedLogits.length !== n)
    throw new DecodingOptionsError(`base logits, vector and tuned logits must have one length, got ${n}, ${vector.length}, ${tunedLogits.length}`);
  const method = opts.method ?? "exact";
  if (method !== "exact" && method !== "gauss-newton") throw new DecodingOptionsError(`method must be "exact" or "gauss-newton", got ${String(method)}`);
  checkVector(vector, "steering vector");
  const q = softmax(tunedLogits);
  let mu = 0;
  let cur = along(baseLogits, vector, q, mu);
  if (!(cur.h > 1e-300) || cur.g === 0) return 0;
  if (method === "gauss-newton") return -cur.g / cur.h;
  for (let s = 0; s < 100; s++) {
    if (!(cur.h > 1e-300) || cur.g === 0) break;
    let step = -cur.g / cur.h;
    let next = along(baseLogits, vector, q, mu + step);
    for (let k = 0; k < 60 && !(next.f <= cur.f); k++) {
      step /= 2;
      next = along(baseLogits, vector, q, mu + step);
    }
    if (!(next.f <= cur.f)) break;
    mu += step;
    const done = Math.abs(step) <= 1e-10 * Math.max(1, Math.abs(mu)) || cur.f - next.f <= 1e-15 * Math.max(1, cur.f);
    cur = next;
    if (done) break;
  }
  return mu;
}
