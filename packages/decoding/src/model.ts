/**
 * What decoding needs from a model. LlamaModel satisfies both interfaces; tests may bring
 * their own small models.
 */
export interface ForwardOutput {
  /** [rows, vocab] row-major */
  logits: Float32Array;
  rows: number;
}

/** One sequence with a KV cache: prefill, step, rollback. */
export interface CausalLM {
  readonly config: { readonly vocabSize: number; readonly eosTokenIds: readonly number[] };
  /** most positions the cache may hold */
  readonly contextLength: number;
  /** committed positions */
  readonly length: number;
  /** Append tokens after the committed positions; logits of the last (or every, with allLogits) token. */
  prefill(tokens: readonly number[], opts?: { allLogits?: boolean }): ForwardOutput;
  /** Append one token; its logits [vocab]. */
  step(token: number): Float32Array;
  /** Forget the last n committed positions. */
  rollback(n: number): void;
  /** Empty the cache. */
  reset(): void;
}

/** A KV-cache sequence of a model that decodes many sequences in one batched forward. */
export interface ModelSequence {
  readonly length: number;
  /** Make this sequence a copy of `other` (same model). */
  copyFrom(other: ModelSequence): void;
  /** Forget the last n positions. */
  rollback(n: number): void;
  free(): void;
}

/** A model that holds several sequences and advances them together (beams, parallel samples). */
export interface BatchedCausalLM extends CausalLM {
  newSequence(): ModelSequence;
  /** Append tokens[i] to seqs[i] for every i in one batched forward; logits [n, vocab]. */
  stepBatch(seqs: readonly ModelSequence[], tokens: readonly number[]): ForwardOutput;
  /** Append tokens to one sequence (its prompt); logits of the last token [vocab]. */
  prefillSequence(seq: ModelSequence, tokens: readonly number[]): Float32Array;
}

export function isBatched(model: CausalLM): model is BatchedCausalLM {
  const m = model as Partial<BatchedCausalLM>;
  return typeof m.newSequence === "function" && typeof m.stepBatch === "function" && typeof m.prefillSequence === "function";
}

/** A model that verifies a tree of candidate tokens in one forward (speculative decoding). */
export interface TreeVerifyingLM extends CausalLM {
  /**
   * Logits for every node of a tree after the committed positions: node i follows node
   * parents[i], or the last committed token when parents[i] is -1. Nothing is committed.
   */
  verify(tokens: readonly number[], parents: readonly number[]): ForwardOutput;
  /** Keep a root-to-leaf path of the last verified tree (node indices, root first). */
  commit(path: readonly number[]): void;
}

export function canVerifyTrees(model: CausalLM): model is TreeVerifyingLM {
  const m = model as Partial<TreeVerifyingLM>;
  return typeof m.verify === "function" && typeof m.commit === "function";
}
