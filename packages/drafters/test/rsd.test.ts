/**
 * RSD trees (Gumbel-Top-k per node, Stochastic Beam Search): valid trees within the budget,
 * distinct siblings, proper child distributions; greedy RSD-S is beam search; the
 * Stochastic-Beam-Search perturbation is the Gumbel-Top-k draw; and sampled trees verify
 * losslessly through the real engine with the RSD rule.
 */
import { argmax, DecodingOptionsError, logSoftmax, seededRng } from "@edgespec/decoding";
import type { LlamaModel, LoadedModel } from "@edgespec/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { earlyExitDrafter, perturbedChildren, RsdDrafter } from "../src/index";
import { checkTree, chiSquarePValue, loadTinyStories, losslessCheck, tinyRandomLlama } from "./draft-model-helpers";

describe("RSD trees on TinyStories-656K (early-exit draft)", () => {
  let tiny: LoadedModel;
  beforeAll(async () => {
    tiny = await loadTinyStories();
  });
  afterAll(() => tiny.model.free());

  for (const method of ["gumbel-top-k", "stochastic-beam"] as const) {
    it(`${method}: valid trees within the budget, greedy and sampled`, () => {
      const draft = tiny.model.derive({ layers: 1 });
      const drafter = new RsdDrafter({ model: draft, targetVocabSize: 2048, method, branching: [3, 2, 2, 1, 1], beamWidth: 3, maxDepth: 5 });
      const rng = seededRng(4);
      const context = [1, ...tiny.tokenizer.encode("Once upon a time, there was a")];
      for (const budget of [1, 5, 12, 40]) {
        for (const sampling of [false, true]) {
          const tree = drafter.propose({ tokens: context, budget, rng, sampling });
          expect(tree.mode).toBe(sampling ? "without-replacement" : "deterministic");
          const depth = checkTree(tree, budget, 2048);
          expect(Math.max(...depth)).toBeLessThanOrEqual(5);
          if (method === "stochastic-beam") for (let d = 1; d <= 5; d++) expect(depth.filter((x) => x === d).length).toBeLessThanOrEqual(3);
          // the budget is used while there is depth left
          expect(tree.tokens.length).toBe(Math.min(budget, method === "gumbel-top-k" ? 3 + 6 + 12 + 12 + 12 : 15));
        }
      }
      // greedy RSD-C: the root's children are the draft's top 3, best first
      const tree = drafter.propose({ tokens: context, budget: 12, rng, sampling: false });
      draft.reset();
      const logits = draft.prefill(context).logits;
      draft.reset();
      const top = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, 3);
      expect(tree.tokens.filter((_, i) => tree.parents[i] === -1)).toEqual(method === "gumbel-top-k" ? top : top);
      drafter.free();
      draft.free();
    });
  }

  it("refuses bad options", () => {
    const m = tiny.model;
    expect(() => new RsdDrafter({ model: m, targetVocabSize: 2048, method: "beam" as never })).toThrow(DecodingOptionsError);
    expect(() => new RsdDrafter({ model: m, targetVocabSize: 2048, branching: [] })).toThrow(/branching/);
    expect(() => new RsdDrafter({ model: m, targetVocabSize: 2048, branching: [2, 0] })).toThrow(/branching factor/);
    expect(() => new RsdDrafter({ model: m, targetVocabSize: 2048, method: "stochastic-beam", beamWidth: 0 })).toThrow(/beamWidth/);
    expect(() => new RsdDrafter({ model: m, targetVocabSize: 1000 })).toThrow(/2048-token vocabulary but the target has 1000/);
  });

  it("works over an early-exit drafter's trimmed head: drafts stay inside the kept rows", () => {
    const rows = Array.from({ length: 700 }, (_, i) => i);
    const chain = earlyExitDrafter(tiny.model, 1, { vocabRows: rows });
    const draft = tiny.model.derive({ layers: 1, vocabRows: rows });
    const drafter = new RsdDrafter({ model: draft, targetVocabSize: 2048, vocabRows: rows, method: "stochastic-beam" });
    const rng = seededRng(8);
    const context = [1, ...tiny.tokenizer.encode("The dog was")];
    for (const sampling of [false, true]) {
      const tree = drafter.propose({ tokens: context, budget: 16, rng, sampling });
      checkTree(tree, 16, 2048);
      for (const t of tree.tokens) expect(t).toBeLessThan(700);
      if (sampling) {
        const q = (tree.childDist as (n: number) => Float32Array)(-1);
        for (let t = 700; t < 2048; t++) expect(q[t]).toBe(0);
      }
    }
    drafter.free();
    draft.free();
    chain.free();
  });
});

describe("RSD on random 6-token models", () => {
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

  it("greedy stochastic-beam is beam search: each level keeps the W most probable extensions of the last", () => {
    const W = 3;
    const drafter = new RsdDrafter({ model: draft, targetVocabSize: V, method: "stochastic-beam", beamWidth: W, maxDepth: 3 });
    const context = [1, 2, 3, 4];
    const tree = drafter.propose({ tokens: context, budget: 9, rng: seededRng(1), sampling: false });
    // reference beam search over draft log-probabilities
    const lp = (seq: number[]) => {
      draft.reset();
      const r = logSoftmax(draft.prefill([...context, ...seq]).logits);
      draft.reset();
      return r;
    };
    let beams: { seq: number[]; score: number }[] = [{ seq: [], score: 0 }];
    const want: number[][] = [];
    for (let d = 0; d < 3; d++) {
      const cands = beams.flatMap((b) => {
        const l = lp(b.seq);
        return [...l.keys()].map((t) => ({ seq: [...b.seq, t], score: b.score + l[t] }));
      });
      cands.sort((a, b) => b.score - a.score);
      beams = cands.slice(0, W);
      want.push(...beams.map((b) => b.seq));
    }
    const pathOf = (i: number): number[] => (i < 0 ? [] : [...pathOf(tree.parents[i]), tree.tokens[i]]);
    expect(tree.tokens.map((_, i) => pathOf(i))).toEqual(want);
    drafter.free();
  });

  it("Stochastic Beam Search's perturbation: the first child is a draw from q, and the best truncated score is the parent's", () => {
    const q = Float32Array.from([0.4, 0.3, 0.15, 0.1, 0.05, 0]);
    const rng = seededRng(99);
    const N = 20000;
    const first = new Float64Array(6);
    for (let i = 0; i < N; i++) {
      const kids = perturbedChildren(q, -1.5, -0.7, 3, rng);
      expect(kids.length).toBe(3);
      expect(kids.every((k) => k.j !== 5)).toBe(true);
      // sorted by score; the maximum is the parent's score (a Gumbel truncated at it)
      expect(kids[0].g).toBeCloseTo(-0.7, 9);
      expect(kids[1].g).toBeLessThanOrEqual(kids[0].g);
      expect(kids[2].g).toBeLessThanOrEqual(kids[1].g);
      expect(kids[0].phi).toBeCloseTo(-1.5 + Math.log(q[kids[0].j]), 9);
      first[kids[0].j]++;
    }
    let stat = 0;
    for (let t = 0; t < 5; t++) stat += (first[t] - N * q[t]) ** 2 / (N * q[t]);
    expect(chiSquarePValue(stat, 4)).toBeGreaterThan(0.001);
  });

  for (const method of ["gumbel-top-k", "stochastic-beam"] as const) {
    it(`${method} trees verify losslessly with the RSD rule (real engine, chi-square on the next two tokens)`, () => {
      const drafter = new RsdDrafter({ model: draft, targetVocabSize: V, method, branching: [3, 2, 1], beamWidth: 3, maxDepth: 3 });
      const r = losslessCheck(target, drafter, { n: 8000, budget: 7, seed: method.length });
      console.log(`rsd ${method}: chi-square ${r.stat.toFixed(1)} on ${r.df} df, p = ${r.p.toFixed(3)}; accepted ${r.accepted}/${r.proposed}`);
      expect(r.p).toBeGreaterThan(0.001);
      expect(r.accepted).toBeGreaterThan(2000);
      drafter.free();
    });
  }

  it("the greedy target accepts what the argmax of a perfect drafter proposes", () => {
    // the target as its own draft: its greedy tree's first-child chain is the target's greedy continuation
    const drafter = new RsdDrafter({ model: target, targetVocabSize: V, branching: [2, 2, 2] });
    const context = [1, 2, 3, 4];
    const tree = drafter.propose({ tokens: context, budget: 14, rng: seededRng(1), sampling: false });
    drafter.free();
    target.reset();
    let logits = target.prefill(context).logits;
    let node = -1;
    for (let d = 0; d < 3; d++) {
      const t = argmax(logits);
      const child = tree.tokens.findIndex((x, i) => tree.parents[i] === node && x === t);
      expect(child).toBeGreaterThanOrEqual(0);
      node = child;
      logits = target.step(t);
    }
    target.reset();
  });
});
