/**
 * Prompt lookup decoding (Saxena 2023; Hugging Face `prompt_lookup_num_tokens`, llama.cpp
 * `lookup`): the last n tokens of the context (n from maxNgram down to minNgram) are
 * searched for earlier in the context (prompt and generated text); the tokens that followed
 * the match are the draft. The longest n-gram that matches wins; with maxMatches > 1 the
 * continuations of further matches are merged into a tree (a trie, so siblings stay
 * distinct). No store: memory is what the context already holds.
 */
import { DecodingOptionsError, type DraftContext, type Drafter, type DraftTree, type VerifiedStep } from "@edgespec/decoding";
import { TreeBuilder } from "./tree-builder";
import { intOption, vocabOption } from "./validate";

export interface PromptLookupOptions {
  /** The target's vocabulary size. */
  vocabSize: number;
  /** Longest n-gram matched (PLD's max_ngram_size). Default 3. */
  maxNgram?: number;
  /** Shortest n-gram tried before giving up. Default 1. */
  minNgram?: number;
  /** Tokens copied after a match (HF's prompt_lookup_num_tokens). Default 10. */
  maxDraft?: number;
  /** Continuations merged into the tree: 1 drafts a chain as HF and llama.cpp do. Default 1. */
  maxMatches?: number;
  /** Which occurrence is copied first: the most recent ("recent", default) or the earliest ("first", as HF). */
  prefer?: "recent" | "first";
}

const NAME = "prompt-lookup";

export class PromptLookupDrafter implements Drafter {
  readonly name = NAME;
  readonly vocabSize: number;
  readonly maxNgram: number;
  readonly minNgram: number;
  readonly maxDraft: number;
  readonly maxMatches: number;
  readonly prefer: "recent" | "first";

  constructor(options: PromptLookupOptions) {
    this.vocabSize = vocabOption(NAME, options);
    this.maxNgram = intOption(NAME, "maxNgram", options.maxNgram, 3, 1, 64);
    this.minNgram = intOption(NAME, "minNgram", options.minNgram, 1, 1, this.maxNgram);
    this.maxDraft = intOption(NAME, "maxDraft", options.maxDraft, 10, 1, 4096);
    this.maxMatches = intOption(NAME, "maxMatches", options.maxMatches, 1, 1, 4096);
    const prefer = options.prefer ?? "recent";
    if (prefer !== "recent" && prefer !== "first") throw new DecodingOptionsError(`${NAME}: prefer must be "recent" or "first", got ${String(prefer)}`);
    this.prefer = prefer;
  }

  begin(_promptIds: readonly number[]): void {}

  propose(ctx: DraftContext): DraftTree {
    const tokens = ctx.tokens;
    const L = tokens.length;
    const tree = new TreeBuilder(this.vocabSize, Math.max(0, Math.floor(ctx.budget)));
    let matches = 0;
    for (let n = Math.min(this.maxNgram, L - 1); n >= this.minNgram && matches < this.maxMatches && !tree.full; n--) {
      // a match ends at e (exclusive), e < L, so that at least one token follows it
      const recent = this.prefer === "recent";
      for (let e = recent ? L - 1 : n; recent ? e >= n : e <= L - 1; e += recent ? -1 : 1) {
        let j = 0;
        while (j < n && tokens[e - n + j] === tokens[L - n + j]) j++;
        if (j < n) continue;
        if (this.addContinuation(tree, tokens, e, L)) matches++;
        if (matches >= this.maxMatches || tree.full) break;
      }
    }
    return tree.build();
  }

  observe(_step: VerifiedStep): void {}

  /** No store: the context is the library. */
  memoryBytes(): number {
    return 0;
  }

  /** Merges tokens[start .. start + maxDraft) into the trie; true when it added a node. */
  private addContinuation(tree: TreeBuilder, tokens: readonly number[], start: number, L: number): boolean {
    let node = -1;
    let added = false;
    const end = Math.min(L, start + this.maxDraft);
    for (let i = start; i < end; i++) {
      const existing = tree.child(node, tokens[i]);
      if (existing >= 0) {
        node = existing;
        continue;
      }
      const next = tree.add(node, tokens[i]);
      if (next < 0) break;
      node = next;
      added = true;
    }
    return added;
  }
}
