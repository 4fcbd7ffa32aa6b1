/**
 * DySpec: greedy trees are exactly the `budget` nodes of highest cumulative draft probability
 * (checked against enumerating every path), grown within the budget and depth; sampled trees
 * have proper child distributions and verify losslessly through the real engine.
 */
import { DecodingOptionsError, seededRng, softmax } from "@edgespec/decoding";
import type { LlamaModel, LoadedModel } from "@edgespec/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DySpecDrafter } from "../src/index";
import { checkTree, loadTinyStories, losslessCheck, tinyRandomLlama } from "./draft-model-helpers";

describe("DySpec on random 6-token models", () => {
  let target: LlamaModel;
  let draft: LlamaModel;
  const V = 6;
  beforeAll(async () => {
    target = await tinyRandomLlama({ vocab: V, seed: 21, scale: 1.2 });
    draft = await tinyRandomLlama({ vocab: V, seed: 5, scale: 1.2 });
  });
  afterAll(() => {
    draft.free();
    target.free();
  });

  it("greedy: the tree is the budget's worth of paths with the highest cumulative draft probability", () => {
    const context = [1, 2, 3, 4];
    // every path up to depth 3 and its probability under the draft
    const all: { path: number[]; p: number }[] = [];
    const walk = (path: number[], p: number) => {
      if (path.length === 3) return;
      draft.reset();
      const q = softmax(draft.prefill([...context, ...path]).logits);
      draft.reset();
      for (let t = 0; t < V; t++) {
        all.push({ path: [...path, t], p: p * q[t] });
        walk([...path, t], p * q[t]);
      }
    };
    walk([], 1);
    all.sort((a, b) => b.p - a.p);
    for (const budget of [1, 4, 10, 25]) {
      for (const evalBatch of [1, 4]) {
        const drafter = new DySpecDrafter({ model: draft, targetVocabSize: V, maxDepth: 3, evalBatch });
        const tree = drafter.propose({ tokens: context, budget, rng: seededRng(1), sampling: false });
        drafter.free();
        checkTree(tree, budget, V);
        expect(tree.tokens.length).toBe(budget);
        const pathOf = (i: number): number[] => (i < 0 ? [] : [...pathOf(tree.parents[i]), tree.tokens[i]]);
        const got = tree.tokens.map((_, i) => pathOf(i).join(",")).sort();
        const want = all
          .slice(0, budget)
          .map((x) => x.path.join(","))
          .sort();
        expect(got, `budget ${budget}, evalBatch ${evalBatch}`).toEqual(want);
      }
    }
  });

  it("sampled trees verify losslessly (RSD rule, real engine, chi-square on the next two tokens)", () => {
    const drafter = new DySpecDrafter({ model: draft, targetVocabSize: V, maxDepth: 3 });
    const r = losslessCheck(target, drafter, { n: 8000, budget: 6, seed: 31 });
    console.log(`dyspec: chi-square ${r.stat.toFixed(1)} on ${r.df} df, p = ${r.p.toFixed(3)}; accepted ${r.accepted}/${r.proposed}`);
    expect(r.p).toBeGreaterThan(0.001);
    expect(r.accepted).toBeGreaterThan(2000);
    drafter.free();
  });
});

describe("DySpec on TinyStories-656K (early-exit draft)", () => {
  let tiny: LoadedModel;
  beforeAll(async () => {
    tiny = await loadTinyStories();
  });
  afterAll(() => tiny.model.free());

  it("grows valid trees within the budget and depth, greedy and sampled; stops early with minValue", () => {
    const draft = tiny.model.derive({ layers: 1 });
    const drafter = new DySpecDrafter({ model: draft, targetVocabSize: 2048, maxDepth: 6 });
    const rng = seededRng(2);
    const context = [1, ...tiny.tokenizer.encode("Tom saw a big red")];
    for (const budget of [1, 7, 16, 48]) {
      for (const sampling of [false, true]) {
        const tree = drafter.propose({ tokens: context, budget, rng, sampling });
        expect(tree.mode).toBe(sampling ? "without-replacement" : "deterministic");
        const depth = checkTree(tree, budget, 2048);
        expect(tree.tokens.length).toBe(budget);
        expect(Math.max(...depth)).toBeLessThanOrEqual(6);
      }
    }
    drafter.free();
    const picky = new DySpecDrafter({ model: draft, targetVocabSize: 2048, minValue: 0.2 });
    const small = picky.propose({ tokens: context, budget: 48, rng, sampling: false });
    expect(small.tokens.length).toBeLessThan(48);
    picky.free();
    expect(() => new DySpecDrafter({ model: draft, targetVocabSize: 2048, minValue: 1 })).toThrow(DecodingOptionsError);
    expect(() => new DySpecDrafter({ model: draft, targetVocabSize: 2048, evalBatch: 0 })).toThrow(/evalBatch/);
    draft.free();
  });
});
