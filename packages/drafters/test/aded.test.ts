/** ADED: the online tri-gram matrix (reinforcement, caps, bounded store) and the MCTS draft maker. */
import { DecodingOptionsError, type DraftTree, seededRng } from "@edgespec/decoding";
import { describe, expect, it } from "vitest";
import { AdedDrafter } from "../src/index";
import { assertValid, hashTarget, row, simulate } from "./helpers";

const rng = seededRng(1);
const ctx = (tokens: number[], budget: number) => ({ tokens, budget, rng, sampling: false });
const empty: DraftTree = { tokens: [], parents: [], mode: "deterministic" };

/** The first root-to-leaf chain of a tree (each node's first child). */
function firstChain(tree: DraftTree): number[] {
  const out: number[] = [];
  let node = -1;
  for (;;) {
    const next = tree.parents.indexOf(node);
    if (next < 0) return out;
    out.push(tree.tokens[next]);
    node = next;
  }
}

describe("AdedDrafter", () => {
  it("learns the prompt's tri-grams and reinforces the recent window, capped", () => {
    const d = new AdedDrafter({ vocabSize: 20, logitTopK: 0 });
    d.begin([1, 2, 3, 1, 2, 4, 1, 2, 3]);
    // (1, 2) → 3 twice, → 4 once
    expect(d.successorsOf(1, 2).map((s) => s.token)).toEqual([3, 4]);
    expect(d.successorsOf(1, 2)[0].p).toBeCloseTo(2 / 3, 5);
    // every update adds 0.04 per tri-gram of the last 16 tokens, up to 3
    for (let i = 0; i < 200; i++) d.observe({ context: [1, 2], tree: empty, acceptedNodes: [], bonus: 4, logits: new Float32Array(20), vocabSize: 20 });
    expect(d.successorsOf(1, 2).map((s) => s.token)).toEqual([4, 3]);
    expect(d.successorsOf(1, 2)[0].p).toBeCloseTo(3 / (3 + 0.08), 4);
    // unseen (a, b): the bigram backoff answers b → c
    expect(d.successorsOf(9, 2).map((s) => s.token)).toEqual([4, 3]);
    expect(new AdedDrafter({ vocabSize: 20, bigramBackoff: false }).successorsOf(9, 2)).toEqual([]);
  });

  it("drafts the continuation of a repeated pattern first, within the budget", () => {
    const d = new AdedDrafter({ vocabSize: 50, logitTopK: 0 });
    const prompt = [10, 11, 12, 13, 14, 10, 11, 12, 13, 14, 10, 11, 12, 13, 14, 10, 11];
    d.begin(prompt);
    for (const budget of [1, 4, 16]) {
      const tree = d.propose(ctx(prompt, budget));
      assertValid(tree, budget, 50);
      expect(tree.tokens.length).toBeGreaterThanOrEqual(Math.min(budget, 3));
      expect(firstChain(tree).slice(0, 3)).toEqual([12, 13, 14].slice(0, Math.min(3, budget)));
    }
    // same inputs, same tree: the rollouts use the drafter's own seeded generator
    const a = new AdedDrafter({ vocabSize: 50, logitTopK: 0 });
    const b = new AdedDrafter({ vocabSize: 50, logitTopK: 0 });
    a.begin(prompt);
    b.begin(prompt);
    expect(a.propose(ctx(prompt, 16))).toEqual(b.propose(ctx(prompt, 16)));
  });

  it("learns the verified rows' top tokens (logitTopK)", () => {
    const V = 30;
    const d = new AdedDrafter({ vocabSize: V, logitTopK: 2 });
    d.begin([]);
    d.observe({ context: [3, 4], tree: empty, acceptedNodes: [], bonus: 7, logits: row(V, { 7: 5, 8: 4 }), vocabSize: V });
    expect(d.successorsOf(3, 4).map((s) => s.token)).toEqual([7, 8]);
    const tree = d.propose(ctx([3, 4], 4));
    expect(tree.tokens.slice(0, 2)).toEqual([7, 8]);
  });

  it("keeps its store bounded: maxSuccessors per context, maxContexts contexts", () => {
    const d = new AdedDrafter({ vocabSize: 1000, maxContexts: 64, maxSuccessors: 4 });
    simulate(d, [1, 2, 3], { steps: 400, budget: 12, target: hashTarget(1000) });
    expect(d.trigrams.size).toBeLessThanOrEqual(64);
    expect(d.bigrams.size).toBeLessThanOrEqual(64);
    expect(d.memoryBytes()).toBeLessThanOrEqual(d.memoryBound());
    for (let a = 0; a < 1000; a += 37) for (let b = 0; b < 1000; b += 41) expect(d.successorsOf(a, b).length).toBeLessThanOrEqual(4);
    const big = new AdedDrafter({ vocabSize: 32000 });
    console.log(`aded memory bound at the defaults (32768 contexts × 12 successors, two tables): ${big.memoryBound()} bytes`);
    expect(big.memoryBytes()).toBeLessThan(1 << 20); // grows with use, not allocated up front
  });

  it("gives valid trees on random contexts and budgets", () => {
    for (const vocab of [2, 11, 400]) {
      const d = new AdedDrafter({ vocabSize: vocab, iterations: 60 });
      const r = simulate(d, [0, 1, 0, 1], { steps: 150, budget: (s) => (s * 5) % 70, target: hashTarget(vocab) });
      expect(r.steps).toBe(150);
    }
  });

  it("refuses bad options with DecodingOptionsError", () => {
    expect(() => new AdedDrafter({ vocabSize: 1.5 })).toThrow(DecodingOptionsError);
    expect(() => new AdedDrafter({ vocabSize: 10, iterations: 0 })).toThrow(/iterations/);
    expect(() => new AdedDrafter({ vocabSize: 10, depth: -1 })).toThrow(/depth/);
    expect(() => new AdedDrafter({ vocabSize: 10, increment: 0 })).toThrow(/increment/);
    expect(() => new AdedDrafter({ vocabSize: 10, maxWeight: 0.01 })).toThrow(/maxWeight/);
    expect(() => new AdedDrafter({ vocabSize: 10, c2: 0 })).toThrow(/c2/);
    expect(() => new AdedDrafter({ vocabSize: 10, window: 2 })).toThrow(/window/);
    expect(() => new AdedDrafter({ vocabSize: 10, bigramBackoff: "yes" as never })).toThrow(/bigramBackoff/);
  });
});
