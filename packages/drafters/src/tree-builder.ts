/**
 * Builds a draft tree under a node budget: nodes are appended parents first, a node's
 * children keep distinct tokens, and ids outside the vocabulary never enter.
 */
import type { DraftMode, DraftTree } from "@edgespec/decoding";

export class TreeBuilder {
  readonly tokens: number[] = [];
  readonly parents: number[] = [];
  private readonly index = new Map<number, number>();

  constructor(
    readonly vocabSize: number,
    readonly budget: number,
  ) {}

  get size(): number {
    return this.tokens.length;
  }

  get full(): boolean {
    return this.tokens.length >= this.budget;
  }

  /** The child of `parent` (-1: the pending token) holding `token`, or -1. */
  child(parent: number, token: number): number {
    return this.index.get((parent + 1) * this.vocabSize + token) ?? -1;
  }

  /** Appends `token` under `parent`; -1 when the budget is spent, the token is outside the vocabulary, or a sibling already holds it. */
  add(parent: number, token: number): number {
    if (this.tokens.length >= this.budget || !Number.isInteger(token) || token < 0 || token >= this.vocabSize) return -1;
    const key = (parent + 1) * this.vocabSize + token;
    if (this.index.has(key)) return -1;
    const i = this.tokens.length;
    this.tokens.push(token);
    this.parents.push(parent);
    this.index.set(key, i);
    return i;
  }

  build(mode: DraftMode = "deterministic", childDist?: (node: number) => Float32Array): DraftTree {
    return childDist ? { tokens: this.tokens, parents: this.parents, mode, childDist } : { tokens: this.tokens, parents: this.parents, mode };
  }
}

/** The empty draft (the engine then verifies the pending token alone). */
export function emptyTree(): DraftTree {
  return { tokens: [], parents: [], mode: "deterministic" };
}
