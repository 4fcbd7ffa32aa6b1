/**
 * Which child of a verified node to accept, so that the token sequence has exactly the
 * target's distribution (lossless speculative sampling).
 *
 * p is the target's distribution at the node (after the processors), normalised. Children
 * are tried in order; each rule accepts child x with some probability and otherwise turns p
 * into the residual the next child is tried against:
 *
 *  - one-hot drafts ("deterministic"): accept with p(x); residual = p without x, renormalised.
 *  - i.i.d. drafts from q ("iid", SpecInfer's recursive rejection sampling; one child is the
 *    Leviathan / Chen rule): accept with min(1, p(x)/q(x)); residual = norm(max(p − q, 0)).
 *  - drafts without replacement from q ("without-replacement", RSD): the i-th child was drawn
 *    from q_i = q without the earlier children, renormalised; accept with
 *    min(1, p(x)/q_i(x)); residual = norm(max(p − q_i, 0)).
 *
 * When every child is rejected, the next token is drawn from the final residual.
 */
import type { Rng } from "../rng";
import { sampleProbs } from "../sampling";
import type { DraftMode } from "./drafter";

export interface Acceptance {
  /** index into children of the accepted one, or -1 */
  accepted: number;
  /** when none was accepted: the token drawn from the residual */
  token: number;
}

export function acceptChild(p: Float64Array, children: readonly number[], mode: DraftMode, q: Float32Array | null, rng: Rng): Acceptance {
  const target = Float64Array.from(p);
  // q_i for draws without replacement: q with the earlier children removed
  const qi = mode === "without-replacement" && q ? Float64Array.from(q) : null;
  for (let c = 0; c < children.length; c++) {
    const x = children[c];
    if (mode === "deterministic" || !q) {
      if (rng() < target[x]) return { accepted: c, token: x };
      target[x] = 0;
      normalise(target, p);
      continue;
    }
    if (qi && c > 0) {
      qi[children[c - 1]] = 0;
      normalise(qi, null);
    }
    const draft = qi ?? q;
    const qx = draft[x];
    if (qx > 0 && rng() < Math.min(1, target[x] / qx)) return { accepted: c, token: x };
    // residual: the target's mass the draft under-covers
    const before = Float64Array.from(target);
    for (let v = 0; v < target.length; v++) target[v] = Math.max(target[v] - draft[v], 0);
    normalise(target, before);
  }
  return { accepted: -1, token: sampleProbs(target, rng) };
}

/** Scale w to sum 1; if nothing is left (rounding when p ≈ q), fall back to `fallback`. */
function normalise(w: Float64Array, fallback: Float64Array | null): void {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i];
  if (s > 0) {
    for (let i = 0; i < w.length; i++) w[i] /= s;
    return;
  }
  if (fallback) w.set(fallback);
}
