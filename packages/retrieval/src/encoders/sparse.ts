/**
 * From per-position logits to a sparse vocabulary vector: SPLADE's saturated pooling, DupMAE's
 * ReLU max pooling, and the pruning every encoder shares (special ids, minimum weight, top k).
 */
import type { PackedSparseVector, SparseTerm, SparseVector } from "./types";

export type SpladePooling = "max" | "sum";

/**
 * w_j = max_i log(1 + relu(logits[i, j])) ("max", SPLADE v2 / SPLADE++ / splade-v3) or
 * sum_i log(1 + relu(logits[i, j])) ("sum", SPLADE v1), over the given rows of a row-major
 * [rows, vocab] logits matrix (default: every row).
 */
export function spladePool(logits: Float32Array, vocab: number, pooling: SpladePooling, rows?: readonly number[]): Float32Array {
  const rowList = rows ?? allRows(logits.length / vocab);
  const out = new Float32Array(vocab);
  if (pooling === "max") {
    // log1p(relu(.)) is monotone, so pool the raw logits and saturate once per vocabulary entry
    const best = maxRows(logits, vocab, rowList);
    for (let j = 0; j < vocab; j++) out[j] = best[j] > 0 ? Math.log1p(best[j]) : 0;
    return out;
  }
  const acc = new Float64Array(vocab);
  for (const r of rowList) {
    const o = r * vocab;
    for (let j = 0; j < vocab; j++) {
      const x = logits[o + j];
      if (x > 0) acc[j] += Math.log1p(x);
    }
  }
  for (let j = 0; j < vocab; j++) out[j] = acc[j];
  return out;
}

/** DupMAE's bag-of-words vector: max_i relu(logits[i, j]) over the given rows. */
export function reluMaxPool(logits: Float32Array, vocab: number, rows: readonly number[]): Float32Array {
  const best = maxRows(logits, vocab, rows);
  for (let j = 0; j < vocab; j++) if (!(best[j] > 0)) best[j] = 0;
  return best;
}

function maxRows(logits: Float32Array, vocab: number, rows: readonly number[]): Float32Array {
  const best = new Float32Array(vocab).fill(Number.NEGATIVE_INFINITY);
  for (const r of rows) {
    const o = r * vocab;
    for (let j = 0; j < vocab; j++) {
      const x = logits[o + j];
      if (x > best[j]) best[j] = x;
    }
  }
  return best;
}

function allRows(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export interface PruneOptions {
  /** keep the k largest weights (ties: lower id first); default: all */
  topK?: number;
  /** drop weights below this; default 0 (only zeros are dropped) */
  minWeight?: number;
  /** ids whose weight is forced to 0 (OpenSearch's models zero their special tokens) */
  zeroIds?: Iterable<number>;
}

/** A dense [vocab] weight vector to a PackedSparseVector (ids ascending), pruned as asked. */
export function sparsify(dense: Float32Array, opts: PruneOptions = {}): PackedSparseVector {
  const { topK, minWeight = 0 } = opts;
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 0)) throw new RangeError(`topK must be a non-negative integer, got ${topK}`);
  if (!Number.isFinite(minWeight)) throw new RangeError(`minWeight must be a finite number, got ${minWeight}`);
  const zero = new Set(opts.zeroIds ?? []);
  let kept: number[] = [];
  for (let j = 0; j < dense.length; j++) {
    const w = dense[j];
    if (w > 0 && w >= minWeight && !zero.has(j)) kept.push(j);
  }
  if (topK !== undefined && kept.length > topK) {
    kept = kept.sort((a, b) => dense[b] - dense[a] || a - b).slice(0, topK);
    kept.sort((a, b) => a - b);
  }
  const ids = Int32Array.from(kept);
  const weights = new Float32Array(ids.length);
  for (let i = 0; i < ids.length; i++) weights[i] = dense[ids[i]];
  return { ids, weights };
}

/** Weight `weightOf(id)` for every distinct id (dropping zero weights), ids ascending. */
export function bagOfIds(ids: readonly number[], weightOf: (id: number) => number = () => 1): PackedSparseVector {
  const distinct = [...new Set(ids)].sort((a, b) => a - b).filter((id) => weightOf(id) > 0);
  return { ids: Int32Array.from(distinct), weights: Float32Array.from(distinct, weightOf) };
}

/** sum_j a_j b_j over the ids both vectors hold (each vector's ids ascending). */
export function sparseDot(a: SparseVector, b: SparseVector): number {
  let s = 0;
  let i = 0;
  let k = 0;
  while (i < a.ids.length && k < b.ids.length) {
    const x = a.ids[i];
    const y = b.ids[k];
    if (x === y) s += a.weights[i++] * b.weights[k++];
    else if (x < y) i++;
    else k++;
  }
  return s;
}

/** The vector as terms, heaviest first (ties: lower id first). */
export function sparseTerms(v: SparseVector, termOf: (id: number) => string): SparseTerm[] {
  const out: SparseTerm[] = [];
  for (let i = 0; i < v.ids.length; i++) out.push({ term: termOf(v.ids[i]), id: v.ids[i], weight: v.weights[i] });
  return out.sort((a, b) => b.weight - a.weight || a.id - b.id);
}
