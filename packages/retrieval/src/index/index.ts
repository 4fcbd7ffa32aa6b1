/**
 * Exact retrieval indexes in the Rust wasm module: an impact-scored inverted index for sparse
 * vectors (block-max MaxScore), a flat dense index, exact hybrid fusion, the save format,
 * and the brute-force scorers they are checked against.
 */
export { BruteForceDense, BruteForceSparse } from "./bruteforce";
export { DenseIndex, type DenseIndexOptions, type DenseIndexStats, type DenseVector, denseDot } from "./dense-index";
export { DuplicateDocumentError, IndexFormatError, type IndexFormatProblem } from "./errors";
export { FORMAT_VERSION } from "./format";
export { fuseScore, HybridIndex, type HybridQuery, type HybridResult, type HybridSearchOptions, type HybridWeights, hybridSearch } from "./hybrid";
export { IMPACT_SCALE, MAX_DOC_ID, MAX_IMPACT, quantizeWeight, SPARSE_SCORE_SCALE } from "./impacts";
export { DEFAULT_VOCAB, MAX_QUERY_TERMS, SparseIndex, type SparseIndexOptions, type SparseIndexStats } from "./sparse-index";
export { type SyntheticOptions, SyntheticSparse } from "./synthetic";
export type { SearchResult, SparseVector } from "./types";
