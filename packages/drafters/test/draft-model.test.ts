/**
 * DraftModelDrafter: the chain is the draft model's own greedy continuation, the draft
 * cache follows the accepted context through rejections, sampled chains come with proper
 * child distributions and verify losslessly, a vocabulary mismatch is refused by name, and
 * freeing releases what the drafter derived.
 */
import { argmax, DecodingOptionsError, type DraftTree, seededRng } from "@edgespec/decoding";
import type { LlamaModel, LoadedModel } from "@edgespec/models";
import type { WasmBackend } from "@edgespec/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DraftModelDrafter, earlyExitDrafter } from "../src/index";
import { loadStories260K, loadTinyStories, losslessCheck, tinyRandomLlama } from "./draft-model-helpers";

/** greedy continuation of `context` by `model`, from an empty cache */
function greedy(model: LlamaModel, context: readonly number[], n: number): number[] {
  model.reset();
  let logits = model.prefill(context).logits;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = argmax(logits);
    out.push(t);
    if (i < n - 1) logits = model.step(t);
  }
  model.reset();
  return out;
}

/** what the engine would report after accepting `k` drafts and adding `bonus` */
function verified(context: readonly number[], tree: DraftTree, k: number, bonus: number) {
  const acceptedNodes: number[] = [];
  for (let i = 0; i < k; i++) acceptedNodes.push(i);
  return { context, tree, acceptedNodes, bonus, logits: new Float32Array(0), vocabSize: 2048 };
}

describe("DraftModelDrafter on TinyStories-656K", () => {
  let tiny: LoadedModel;
  let copy: LoadedModel;
  beforeAll(async () => {
    tiny = await loadTinyStories();
    copy = await loadTinyStories();
  });
  afterAll(() => {
    copy.model.free();
    tiny.model.free();
  });

  it("the greedy chain is the draft model's own greedy continuation, cut to maxDepth and the budget", () => {
    const { model, tokenizer } = tiny;
    const drafter = new DraftModelDrafter({ model: copy.model, targetVocabSize: 2048, maxDepth: 6 });
    const rng = seededRng(1);
    for (const text of ["Once upon a time", "Tom and Sue went to", "The big dog"]) {
      const context = [1, ...tokenizer.encode(text)];
      const tree = drafter.propose({ tokens: context, budget: 16, rng, sampling: false });
      expect(tree.mode).toBe("deterministic");
      expect(tree.parents).toEqual([-1, 0, 1, 2, 3, 4]);
      expect(tree.tokens).toEqual(greedy(model, context, 6));
      const short = drafter.propose({ tokens: context, budget: 3, rng, sampling: false });
      expect(short.tokens).toEqual(tree.tokens.slice(0, 3));
      expect(drafter.propose({ tokens: context, budget: 0, rng, sampling: false }).tokens).toEqual([]);
    }
    drafter.free();
    // the drafter does not own a model it was given
    expect(copy.model.prefill([1, 2]).logits.length).toBe(2048);
    copy.model.reset();
  });

  it("keeps its cache in step with the context across observe() calls with rejections", () => {
    const { tokenizer } = tiny;
    const drafter = earlyExitDrafter(tiny.model, 1, { maxDepth: 5 });
    const pick = seededRng(77);
    const rng = seededRng(3);
    let context = [1, ...tokenizer.encode("Lily had a little cat")];
    drafter.begin(context.slice(0, -1));
    for (let round = 0; round < 25; round++) {
      const tree = drafter.propose({ tokens: context, budget: 8, rng, sampling: false });
      const fresh = earlyExitDrafter(tiny.model, 1, { maxDepth: 5 });
      expect(fresh.propose({ tokens: context, budget: 8, rng, sampling: false }).tokens, `round ${round}`).toEqual(tree.tokens);
      fresh.free();
      // the target accepts a random prefix, then adds a token of its own (never the next draft)
      const k = Math.floor(pick() * (tree.tokens.length + 1));
      let bonus = 3 + Math.floor(pick() * 2000);
      if (bonus === tree.tokens[k]) bonus++;
      drafter.observe(verified(context, tree, k, bonus));
      context = [...context, ...tree.tokens.slice(0, k), bonus];
    }
    // a new generation with another prompt, and a context that rewinds
    for (const ctx of [[1, ...tokenizer.encode("The sun")], context.slice(0, 12), context]) {
      const fresh = earlyExitDrafter(tiny.model, 1, { maxDepth: 5 });
      expect(drafter.propose({ tokens: ctx, budget: 8, rng, sampling: false }).tokens).toEqual(
        fresh.propose({ tokens: ctx, budget: 8, rng, sampling: false }).tokens,
      );
      fresh.free();
    }
    drafter.free();
  });

  it("sampling: an i.i.d. chain whose childDist sums to 1 and gives every drafted token mass", () => {
    const { tokenizer } = tiny;
    const drafter = earlyExitDrafter(tiny.model, 1, { maxDepth: 6, temperature: 0.8 });
    const rng = seededRng(11);
    const context = [1, ...tokenizer.encode("Once upon a time")];
    for (let r = 0; r < 5; r++) {
      const tree = drafter.propose({ tokens: context, budget: 16, rng, sampling: true });
      expect(tree.mode).toBe("iid");
      expect(tree.tokens.length).toBe(6);
      const dist = tree.childDist as (n: number) => Float32Array;
      for (let i = 0; i < tree.tokens.length; i++) {
        const q = dist(tree.parents[i]);
        expect(q.length).toBe(2048);
        let s = 0;
        for (const x of q) s += x;
        expect(s).toBeCloseTo(1, 4);
        expect(q[tree.tokens[i]]).toBeGreaterThan(0);
      }
      // the leaf drew no child
      expect(() => dist(tree.tokens.length - 1)).toThrow(RangeError);
    }
    drafter.free();
  });

  it("refuses a draft model whose vocabulary does not match the target's, naming both sizes", async () => {
    const { model: small } = await loadStories260K();
    expect(() => new DraftModelDrafter({ model: small, targetVocabSize: 2048 })).toThrow(DecodingOptionsError);
    expect(() => new DraftModelDrafter({ model: small, targetVocabSize: 2048 })).toThrow(/512-token vocabulary but the target has 2048/);
    expect(() => new DraftModelDrafter({ model: tiny.model, targetVocabSize: 512 })).toThrow(/2048-token vocabulary but the target has 512/);
    // a trimmed head needs vocabRows of the same length, inside the target's vocabulary
    const trimmed = small.derive({ vocabRows: [0, 1, 2, 3] });
    expect(() => new DraftModelDrafter({ model: trimmed, targetVocabSize: 512 })).toThrow(/head has 4 tokens but the target's vocabulary has 512/);
    expect(() => new DraftModelDrafter({ model: trimmed, targetVocabSize: 512, vocabRows: [0, 1, 2] })).toThrow(
      /vocabRows has 3 ids but the draft model's head has 4/,
    );
    expect(() => new DraftModelDrafter({ model: trimmed, targetVocabSize: 512, vocabRows: [0, 1, 2, 600] })).toThrow(/600 is outside the target's 512-token/);
    expect(() => new DraftModelDrafter({ model: trimmed, targetVocabSize: 512, vocabRows: [0, 1, 2, 2] })).toThrow(/appears twice/);
    expect(() => new DraftModelDrafter({ model: small, targetVocabSize: 512, maxDepth: 0 })).toThrow(/maxDepth/);
    expect(() => new DraftModelDrafter({ model: small, targetVocabSize: 512, temperature: 0 })).toThrow(/temperature/);
    trimmed.free();
    small.free();
  });

  it("frees the derived model it owns: the arena is back where it was", () => {
    const be = tiny.model.backend as WasmBackend;
    const before = be.memoryStats();
    const drafter = earlyExitDrafter(tiny.model, 1, { vocabRows: Array.from({ length: 300 }, (_, i) => i) });
    drafter.propose({ tokens: [1, 50, 60, 70], budget: 8, rng: seededRng(1), sampling: true });
    expect(be.memoryStats().allocations).toBeGreaterThan(before.allocations);
    drafter.free();
    drafter.free(); // twice is harmless
    const after = be.memoryStats();
    expect(after.allocations).toBe(before.allocations);
    expect(after.used).toBe(before.used);
    // a freed drafter proposes nothing, the target is intact
    expect(drafter.propose({ tokens: [1, 50], budget: 8, rng: seededRng(1), sampling: false }).tokens).toEqual([]);
    expect(tiny.model.prefill([1, 50]).logits.length).toBe(2048);
    tiny.model.reset();
  });
});

describe("sampled draft chains verify losslessly (real engine, random 6-token models)", () => {
  it("the next two tokens follow the target's distribution (chi-square)", async () => {
    const target = await tinyRandomLlama({ vocab: 6, seed: 21, scale: 1.2 });
    const draft = await tinyRandomLlama({ vocab: 6, seed: 5, scale: 1.2 });
    const drafter = new DraftModelDrafter({ model: draft, targetVocabSize: 6, maxDepth: 3 });
    const r = losslessCheck(target, drafter, { n: 8000, budget: 3, seed: 9 });
    console.log(`draft chain: chi-square ${r.stat.toFixed(1)} on ${r.df} df, p = ${r.p.toFixed(3)}; accepted ${r.accepted}/${r.proposed}`);
    expect(r.p).toBeGreaterThan(0.001);
    expect(r.accepted).toBeGreaterThan(1000);
    drafter.free();
    draft.free();
    target.free();
  });
});
