/**
 * Shapes shared by the sparse, dense and hybrid indexes (and the encoders, which produce
 * `SparseVector`s).
 */

/** A sparse vector: term ids (< the vocabulary size, each at most once) and their weights. */
export interface SparseVector {
  ids: Int32Array | number[];
  weights: Float32Array | number[];
}

/** Search results, best first: score descending, ties broken by the lower document id. */
export interface SearchResult {
  ids: Uint32Array;
  scores: Float64Array;
}
