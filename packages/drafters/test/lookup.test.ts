/** Prompt lookup: the continuation of the last n-gram's earlier occurrence, as a chain or a trie. */
import { DecodingOptionsError, seededRng } from "@edgespec/decoding";
import { describe, expect, it } from "vitest";
import { PromptLookupDrafter } from "../src/index";
import { assertValid, hashTarget, simulate } from "./helpers";

const rng = seededRng(1);
const ctx = (tokens: number[], budget = 16) => ({ tokens, budget, rng, sampling: false });

describe("PromptLookupDrafter", () => {
  it("drafts what followed the last n-gram's earlier occurrence, as a chain", () => {
    const d = new PromptLookupDrafter({ vocabSize: 50 });
    const tokens = [5, 6, 7, 8, 9, 1, 2, 5, 6, 7];
    const tree = d.propose(ctx(tokens));
    assertValid(tree, 16, 50);
    expect(tree.tokens).toEqual([8, 9, 1, 2, 5, 6, 7]);
    expect(tree.parents).toEqual([-1, 0, 1, 2, 3, 4, 5]);
    expect(tree.mode).toBe("deterministic");
  });

  it("prefers the longest matching n-gram over a more recent shorter one", () => {
    const d = new PromptLookupDrafter({ vocabSize: 50, maxDraft: 2 });
    // [3, 4, 5] occurred at the start (→ 10, 11); [5] alone occurred later (→ 20)
    const tree = d.propose(ctx([3, 4, 5, 10, 11, 5, 20, 3, 4, 5]));
    expect(tree.tokens).toEqual([10, 11]);
  });

  it("copies the most recent occurrence by default and the earliest with prefer: first", () => {
    const tokens = [1, 2, 30, 31, 1, 2, 40, 41, 1, 2];
    expect(new PromptLookupDrafter({ vocabSize: 50, maxDraft: 2 }).propose(ctx(tokens)).tokens).toEqual([40, 41]);
    expect(new PromptLookupDrafter({ vocabSize: 50, maxDraft: 2, prefer: "first" }).propose(ctx(tokens)).tokens).toEqual([30, 31]);
  });

  it("merges several matches into a trie with distinct siblings", () => {
    const d = new PromptLookupDrafter({ vocabSize: 50, maxDraft: 3, maxMatches: 3 });
    const tokens = [1, 2, 30, 31, 32, 1, 2, 30, 33, 9, 1, 2, 40, 41, 8, 1, 2];
    const tree = d.propose(ctx(tokens));
    assertValid(tree, 16, 50);
    // most recent first: 40 41 8, then 30 33 9, then 30 31 32 (30 shared)
    expect(tree.tokens).toEqual([40, 41, 8, 30, 33, 9, 31, 32]);
    expect(tree.parents).toEqual([-1, 0, 1, -1, 3, 4, 3, 6]);
  });

  it("respects the budget and maxDraft, and drafts nothing without a match", () => {
    const d = new PromptLookupDrafter({ vocabSize: 50 });
    const tokens = [5, 6, 7, 8, 9, 1, 2, 5, 6, 7];
    expect(d.propose(ctx(tokens, 3)).tokens).toEqual([8, 9, 1]);
    expect(d.propose(ctx(tokens, 0)).tokens).toEqual([]);
    expect(new PromptLookupDrafter({ vocabSize: 50, maxDraft: 2 }).propose(ctx(tokens)).tokens).toEqual([8, 9]);
    expect(d.propose(ctx([1, 2, 3, 4])).tokens).toEqual([]);
    expect(d.propose(ctx([4])).tokens).toEqual([]);
    expect(new PromptLookupDrafter({ vocabSize: 50, minNgram: 2 }).propose(ctx([1, 2, 3, 9, 3])).tokens).toEqual([]);
    expect(d.memoryBytes()).toBe(0);
  });

  it("gives valid trees on random contexts and budgets", () => {
    for (const vocab of [3, 20, 500]) {
      const d = new PromptLookupDrafter({ vocabSize: vocab, maxMatches: 5 });
      const r = simulate(d, [1, 2, 1, 2, 0], { steps: 150, budget: (s) => s % 23, target: hashTarget(vocab) });
      expect(r.steps).toBe(150);
    }
  });

  it("refuses bad options with DecodingOptionsError", () => {
    expect(() => new PromptLookupDrafter({ vocabSize: 0 })).toThrow(DecodingOptionsError);
    expect(() => new PromptLookupDrafter({} as never)).toThrow(/vocabSize/);
    expect(() => new PromptLookupDrafter({ vocabSize: 10, maxNgram: 0 })).toThrow(/maxNgram/);
    expect(() => new PromptLookupDrafter({ vocabSize: 10, maxNgram: 2, minNgram: 3 })).toThrow(/minNgram/);
    expect(() => new PromptLookupDrafter({ vocabSize: 10, maxDraft: 1.5 })).toThrow(/maxDraft/);
    expect(() => new PromptLookupDrafter({ vocabSize: 10, prefer: "oldest" as never })).toThrow(/prefer/);
  });
});
