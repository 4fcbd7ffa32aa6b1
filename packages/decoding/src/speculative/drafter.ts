/**
 * What a drafter gives the speculative engine, and what it gets back.
 *
 * Each step the engine holds a pending token (accepted, not yet in the KV cache). The
 * drafter proposes a tree of guesses that follow it; the engine verifies the pending token
 * plus the tree in one forward, accepts a root-to-leaf prefix (plus one token of its own),
 * commits it and tells the drafter what happened.
 *
 * Tree nodes are listed parents first. parents[i] = -1: node i follows the pending token.
 *
 * How the guesses were made decides how sampling verification stays lossless:
 *  - "deterministic": the children of a node are distinct tokens picked without randomness
 *    (n-gram lookups, argmax chains); the engine treats each as a one-hot draft.
 *  - "iid": the children of node n were drawn independently from childDist(n)
 *    (SpecInfer's recursive rejection sampling).
 *  - "without-replacement": the children of node n were drawn in order without replacement
 *    from childDist(n) (Gumbel-Top-k, stochastic beam search: the RSD rule).
 * Greedy verification needs none of this: it accepts while the argmax matches.
 */
import type { Rng } from "../rng";

export type DraftMode = "deterministic" | "iid" | "without-replacement";

export interface DraftTree {
  tokens: number[];
  parents: number[];
  mode: DraftMode;
  /**
   * For "iid" and "without-replacement": the draft distribution (probabilities over the
   * target's vocabulary, summing to 1) the children of `node` were drawn from; node -1 is
   * the pending token. Unused for "deterministic".
   */
  childDist?: (node: number) => Float32Array;
}

export interface DraftContext {
  /** every token so far: prompt, generated, and last the pending token */
  readonly tokens: readonly number[];
  /** most nodes the tree may have (the engine's budget for this step) */
  readonly budget: number;
  /** for drafters that sample */
  readonly rng: Rng;
  /** whether the target samples (temperature > 0); greedy drafters may ignore it */
  readonly sampling: boolean;
  /**
   * Under coupled verification: the seed of the target's keyed Gumbel noise. The target's
   * token at position t is argmax(logits + G(noiseSeed, t, ·)) (sampling.ts); a drafter that
   * draws its guess for position t with the same noise over its own distribution
   * (keyedUniform) guesses the target's token whenever the two distributions agree there.
   */
  readonly noiseSeed?: number;
}

export interface VerifiedStep {
  /** the tokens before this step's pending token, then the pending token */
  readonly context: readonly number[];
  readonly tree: DraftTree;
  /** tree node indices accepted, root first (a path) */
  readonly acceptedNodes: readonly number[];
  /** the token the engine added after the accepted path (the next pending token) */
  readonly bonus: number;
  /**
   * Target logits of every verified row: row 0 follows the pending token, row i + 1 follows
   * tree node i. [rows, vocab] row-major (raw, before processors).
   */
  readonly logits: Float32Array;
  readonly vocabSize: number;
}

export interface Drafter {
  readonly name: string;
  /** The target's vocabulary size this drafter proposes ids for (checked by the engine). */
  readonly vocabSize: number;
  /** A new generation: the prompt (the drafter may index it, reset caches). */
  begin(promptIds: readonly number[]): void;
  /** Guesses that follow ctx.tokens, at most ctx.budget nodes (an empty tree is allowed). */
  propose(ctx: DraftContext): DraftTree;
  /** What verification found (adjacency refreshes, n-gram updates, draft cache rollback). */
  observe(step: VerifiedStep): void;
  /** Release what the drafter holds (draft models' caches). */
  free?(): void;
}
