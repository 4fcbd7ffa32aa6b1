/**
 * Sparse vectors to integer impacts, as Pyserini's impact indexes do: impact =
 * round(weight * 100) (Math.round: halves round up), clamped to 65535 so it fits the u16
 * the module stores. A weight that rounds to 0 contributes nothing and is dropped.
 * Scores are integer dot products of impacts, so score / 10^4 approximates the float dot
 * product of the weights.
 */
import { NonFiniteError, OutOfRangeError, ShapeError } from "@edgespec/runtime";
import type { SparseVector } from "./types";

export const IMPACT_SCALE = 100;
export const MAX_IMPACT = 65535;
/** Sparse index scores times this are on the scale of the weights' dot product. */
export const SPARSE_SCORE_SCALE = 1 / (IMPACT_SCALE * IMPACT_SCALE);

export function quantizeWeight(w: number): number {
  return Math.min(MAX_IMPACT, Math.round(w * IMPACT_SCALE));
}

/** Checks vectors against one vocabulary and writes their non-zero impacts. */
export class ImpactEncoder {
  // generation stamps: a term is "seen" in the current vector when its stamp is current
  private readonly stamp: Uint32Array;
  private gen = 0;

  constructor(readonly vocab: number) {
    this.stamp = new Uint32Array(vocab);
  }

  /** Validate `vec` (naming it `what` in errors); returns its length. */
  check(vec: SparseVector, what: string): number {
    if (vec === null || typeof vec !== "object" || vec.ids == null || vec.weights == null)
      throw new ShapeError(`${what}: expected a sparse vector { ids, weights }`);
    const { ids, weights } = vec;
    if (ids.length !== weights.length) throw new ShapeError(`${what}: ${ids.length} term ids but ${weights.length} weights`);
    if (++this.gen === 0xffffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
    const g = this.gen;
    for (let i = 0; i < ids.length; i++) {
      const t = ids[i];
      if (!Number.isInteger(t) || t < 0 || t >= this.vocab) throw new OutOfRangeError(`${what}: term id ${t} at position ${i} is outside [0, ${this.vocab})`);
      const w = weights[i];
      if (typeof w !== "number" || !Number.isFinite(w)) throw new NonFiniteError(`${what}: the weight of term ${t} is ${w}; weights must be finite`);
      if (w < 0) throw new OutOfRangeError(`${what}: the weight of term ${t} is ${w}; impact indexes need weights >= 0`);
      if (this.stamp[t] === g) throw new ShapeError(`${what}: term id ${t} appears twice`);
      this.stamp[t] = g;
    }
    return ids.length;
  }

  /** Write the checked vector's non-zero impacts at `at`; returns how many were written. */
  encode(vec: SparseVector, terms: Uint32Array, impacts: Uint16Array | Uint32Array, at: number): number {
    const { ids, weights } = vec;
    let n = at;
    for (let i = 0; i < ids.length; i++) {
      const q = quantizeWeight(weights[i]);
      if (q === 0) continue;
      terms[n] = ids[i];
      impacts[n] = q;
      n++;
    }
    return n - at;
  }

  /** Check and encode one vector into fresh arrays. */
  impacts(vec: SparseVector, what: string): { terms: Uint32Array; impacts: Uint32Array } {
    const n = this.check(vec, what);
    const terms = new Uint32Array(n);
    const impacts = new Uint32Array(n);
    const m = this.encode(vec, terms, impacts, 0);
    return { terms: terms.subarray(0, m), impacts: impacts.subarray(0, m) };
  }
}

/** Document ids are u32 except 0xFFFFFFFF, which the module's id map reserves. */
export const MAX_DOC_ID = 0xfffffffe;

export function checkDocId(id: number, what = "document id"): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_DOC_ID) throw new OutOfRangeError(`${what} ${id} must be an integer in [0, ${MAX_DOC_ID}]`);
}

export function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new OutOfRangeError(`k must be an integer >= 1, got ${k}`);
}
