/**
 * Retrieval encoders: SPLADE on BERT masked-LMs, echo sparse on decoder-only LMs, DupMAE
 * (dense [CLS] + bag of words), their loaders and batch helpers.
 */
export { type BatchOptions, encodeBatch } from "./batch";
export { type DenseProjection, DupMaeEncoder, type DupMaeOptions, type DupMaePositions, type DupMaeVector, dupmaeScore } from "./dupmae";
export { DEFAULT_ECHO_TEMPLATE, type EchoInput, type EchoOptions, EchoSparseEncoder } from "./echo";
export {
  type EncoderCheckpoint,
  type EncoderLayout,
  inspectEncoderCheckpoint,
  type LoadSpladeOptions,
  loadDupMaeEncoder,
  loadEchoSparseEncoder,
  loadSpladeEncoder,
} from "./load";
export { bagOfIds, type PruneOptions, reluMaxPool, type SpladePooling, sparseDot, sparseTerms, sparsify, spladePool } from "./sparse";
export { SpladeEncoder, type SpladeOptions, type SpladeQueryMode } from "./splade";
export { maxLengthFor, truncateWithSpecials } from "./truncate";
// SparseVector itself is exported by the index module
export type { EncoderTokenizer, PackedSparseVector, ProgressCallback, SparseTerm } from "./types";
