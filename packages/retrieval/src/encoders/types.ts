/**
 * Shapes the encoders hand out. Their sparse vectors are the index module's `SparseVector`
 * (packages/retrieval/src/index/types.ts), so encoder output goes straight into an index.
 */
import type { SparseVector } from "../index/types";

export type { SparseVector };

/** What every encoder here returns: a SparseVector in typed arrays. */
export interface PackedSparseVector extends SparseVector {
  ids: Int32Array;
  weights: Float32Array;
}

/** One entry of the human-readable view of a sparse vector. */
export interface SparseTerm {
  /** the vocabulary entry as the tokenizer spells it ("retrieval", "##able", "Ġcat") */
  term: string;
  id: number;
  weight: number;
}

/** Called after each text of a batch: `done` of `total` texts are encoded. */
export type ProgressCallback = (done: number, total: number) => void;

/**
 * What the BERT-family encoders need from a tokenizer: HfTokenizer from @edgespec/models
 * (the tokenizer.json of the checkpoint) has all three.
 */
export interface EncoderTokenizer {
  /** [CLS] text [SEP]: the ids the model reads */
  encodeWithSpecialTokens(text: string): number[];
  /** the text's own tokens, no special tokens */
  encode(text: string): number[];
  /** the vocabulary entry of an id */
  token(id: number): string;
}
