/**
 * What decoding needs from a model. LlamaModel satisfies both interfaces; tests may bring
 * their own small models.
 *
 * A model on a backend that reads asynchronously only (WebGPU) says so with `syncRead: false`:
 * its sync methods throw, and it offers async twins (prefillAsync, stepAsync, verifyAsync),
 * which generate() then awaits. The searches that run synchronously (beam, first-finish,
 * momentum, exact-extract) refuse such a model by name.
 */
import { DecodingOptionsError } from "./errors";

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
  /** false: the sync methods cannot return logits (a WebGPU backend); use the async twins. Absent means true. */
  readonly syncRead?: boolean;
  /** prefill, the logits awaited */
  prefillAsync?(tokens: readonly number[], opts?: { allLogits?: boolean }): Promise<ForwardOutput>;
  /** step, the logits awaited */
  stepAsync?(token: number): Promise<Float32Array>;
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
  /** verify, the logits awaited */
  verifyAsync?(tokens: readonly number[], parents: readonly number[]): Promise<ForwardOutput>;
  /** Keep a root-to-leaf path of the last verified tree (node indices, root first). */
  commit(path: readonly number[]): void;
}

export function canVerifyTrees(model: CausalLM): model is TreeVerifyingLM {
  const m = model as Partial<TreeVerifyingLM>;
  return typeof m.verify === "function" && typeof m.commit === "function";
}

/** prefill / step / verify as promises, for code that must also run on async-only models. */
export interface Forwards {
  prefill(tokens: readonly number[]): Promise<ForwardOutput>;
  step(token: number): Promise<Float32Array>;
  verify(tokens: readonly number[], parents: readonly number[]): Promise<ForwardOutput>;
}

/**
 * The async twins where the model cannot read synchronously (syncRead false), else its sync
 * methods: a sync model keeps exactly the calls that wrappers and subclasses override.
 */
export function forwardsOf(model: CausalLM): Forwards {
  const m = model as CausalLM & Partial<TreeVerifyingLM>;
  const twins = m.syncRead === false;
  return {
    prefill: async (tokens) => (twins && m.prefillAsync ? m.prefillAsync(tokens) : m.prefill(tokens)),
    step: async (token) => (twins && m.stepAsync ? m.stepAsync(token) : m.step(token)),
    verify: async (tokens, parents) => {
      if (twins && m.verifyAsync) return m.verifyAsync(tokens, parents);
      if (!m.verify) throw new DecodingOptionsError("the model cannot verify trees");
      return m.verify(tokens, parents);
    },
  };
}

/**
 * Refuse a model whose logits can only be awaited, for the strategies that run
 * synchronously: a clear error before any forward, rather than one from deep inside.
 */
export function requireSyncRead(model: CausalLM, what: string): void {
  if (model.syncRead === false)
    throw new DecodingOptionsError(
      `${what} reads logits synchronously, and this model's backend can only read them asynchronously (WebGPU): use generate(), or load the model on the wasm backend`,
    );
}
