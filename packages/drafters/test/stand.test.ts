/** STAND: the logit-based n-gram store, Gumbel-Top-K drafting and the data-driven tree shape. */
import { DecodingOptionsError, type DraftTree, seededRng } from "@edgespec/decoding";
import { describe, expect, it } from "vitest";
import { gumbelTopK, StandDrafter } from "../src/index";
import { assertValid, hashTarget, probRow, row, simulate } from "./helpers";

const empty: DraftTree = { tokens: [], parents: [], mode: "deterministic" };
const V = 1000;
const BOB = 10;
const MARY = 11;
const TOM = 12;
const SUE = 13;

describe("StandDrafter", () => {
  it("merges observations of a context as a running mean and keeps the top k", () => {
    const d = new StandDrafter({ vocabSize: V, topK: 4, seedFromPrompt: false });
    // "I am" (tokens 1, 2) → Bob 0.7, Mary 0.2, Tom 0.05; then Bob 0.3, Mary 0.6, Sue 0.05
    d.observe({ context: [1, 2], tree: empty, acceptedNodes: [], bonus: BOB, logits: probRow(V, { [BOB]: 0.7, [MARY]: 0.2, [TOM]: 0.05 }), vocabSize: V });
    d.observe({ context: [1, 2], tree: empty, acceptedNodes: [], bonus: MARY, logits: probRow(V, { [BOB]: 0.3, [MARY]: 0.6, [SUE]: 0.05 }), vocabSize: V });
    // stored: Bob 0.5, Mary 0.4, Tom 0.025, Sue 0.025 (normalised over the kept four)
    const dist = d.distribution([1, 2]);
    expect(dist.map((x) => x.token).slice(0, 2)).toEqual([BOB, MARY]);
    expect(new Set(dist.map((x) => x.token).slice(2))).toEqual(new Set([TOM, SUE])); // tied at 0.025
    const want = [0.5, 0.4, 0.025, 0.025];
    for (const [i, x] of dist.entries()) expect(x.p).toBeCloseTo(want[i] / 0.95, 3);
    // the 1-token context "am" holds the same mean; an unknown context backs off to it
    expect(
      d
        .distribution([7, 2])
        .map((x) => x.token)
        .slice(0, 2),
    ).toEqual([BOB, MARY]);
    expect(d.distribution([7, 3])).toEqual([]);
  });

  it("looks up the longest stored context", () => {
    const d = new StandDrafter({ vocabSize: V, seedFromPrompt: false });
    d.observe({ context: [5, 6, 7], tree: empty, acceptedNodes: [], bonus: 20, logits: row(V, { 20: 10 }), vocabSize: V });
    d.observe({ context: [8, 9, 7], tree: empty, acceptedNodes: [], bonus: 30, logits: row(V, { 30: 10 }), vocabSize: V });
    expect(d.distribution([5, 6, 7])[0].token).toBe(20);
    expect(d.distribution([8, 9, 7])[0].token).toBe(30);
    // context "7" alone has seen both: the mean of the two
    const seven = d.distribution([4, 4, 7]);
    expect(seven.slice(0, 2).map((x) => x.token)).toEqual([20, 30]);
    expect(seven[0].p).toBeCloseTo(seven[1].p, 5);
  });

  it("Gumbel-Top-K draws without replacement: first draws follow p, second draws p_j / (1 - p_i)", () => {
    const dist = { tokens: Int32Array.from([0, 1, 2]), probs: Float64Array.from([0.5, 0.3, 0.2]) };
    const rng = seededRng(3);
    const n = 30000;
    const first = [0, 0, 0];
    const second = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const d = gumbelTopK(dist, 2, rng);
      expect(d.length).toBe(2);
      expect(d[0]).not.toBe(d[1]);
      first[d[0]]++;
      second[d[1]]++;
    }
    const p = [0.5, 0.3, 0.2];
    const p2 = p.map((pj, j) => p.reduce((s, pi, i) => (i === j ? s : s + (pi * pj) / (1 - pi)), 0));
    for (let j = 0; j < 3; j++) {
      expect(Math.abs(first[j] / n - p[j])).toBeLessThan(0.012);
      expect(Math.abs(second[j] / n - p2[j])).toBeLessThan(0.012);
    }
    expect(gumbelTopK(dist, 5, rng).length).toBe(3);
  });

  it("samples drafts without replacement when the target samples, and takes the top tokens when it is greedy", () => {
    const d = new StandDrafter({ vocabSize: V, seedFromPrompt: false });
    d.observe({ context: [1, 2], tree: empty, acceptedNodes: [], bonus: BOB, logits: probRow(V, { [BOB]: 0.5, [MARY]: 0.3, [TOM]: 0.15 }), vocabSize: V });
    d.observe({ context: [2, BOB], tree: empty, acceptedNodes: [], bonus: 40, logits: probRow(V, { 40: 0.6, 41: 0.3 }), vocabSize: V });
    const greedy = d.propose({ tokens: [1, 2], budget: 6, rng: seededRng(1), sampling: false });
    assertValid(greedy, 6, V);
    expect(greedy.mode).toBe("deterministic");
    expect(greedy.tokens.filter((_, i) => greedy.parents[i] === -1).slice(0, 3)).toEqual([BOB, MARY, TOM]);
    expect(greedy.tokens).toContain(40);
    const seen = new Set<string>();
    for (let s = 0; s < 40; s++) {
      const t = d.propose({ tokens: [1, 2], budget: 6, rng: seededRng(100 + s), sampling: true });
      assertValid(t, 6, V);
      expect(t.mode).toBe("without-replacement");
      const q = t.childDist!(-1);
      expect(q[BOB] + q[MARY] + q[TOM]).toBeGreaterThan(0.9);
      let sum = 0;
      for (const x of q) sum += x;
      expect(sum).toBeCloseTo(1, 5);
      seen.add(t.tokens.filter((_, i) => t.parents[i] === -1).join(","));
    }
    // the order of the root's children varies with the draws
    expect(seen.size).toBeGreaterThan(1);
  });

  it("shapes the tree by what gets accepted", () => {
    const d = new StandDrafter({ vocabSize: V, candidateNodes: 200, seedFromPrompt: false });
    const dist = probRow(V, { [BOB]: 0.5, [MARY]: 0.3, [TOM]: 0.15 });
    expect(d.shapePaths(2)).toEqual([[0], [0, 0]]);
    d.observe({ context: [1, 2], tree: empty, acceptedNodes: [], bonus: BOB, logits: dist, vocabSize: V });
    // the verifier keeps accepting the root's second draft (rank 1)
    for (let s = 0; s < 60; s++) {
      const tree = d.propose({ tokens: [1, 2], budget: 6, rng: seededRng(s), sampling: false });
      const second = tree.parents.indexOf(-1, tree.parents.indexOf(-1) + 1);
      expect(tree.tokens[second]).toBe(MARY);
      const logits = new Float32Array((tree.tokens.length + 1) * V);
      for (let r = 0; r <= tree.tokens.length; r++) logits.set(dist, r * V);
      d.observe({ context: [1, 2], tree, acceptedNodes: [second], bonus: TOM, logits, vocabSize: V });
    }
    // rank 1 moved up to right after its earlier sibling; the rank-0 chain fell back
    expect(d.shapePaths(3)).toEqual([[0], [1], [1, 0]]);
    const tree = d.propose({ tokens: [1, 2], budget: 2, rng: seededRng(1), sampling: false });
    expect(tree.tokens).toEqual([BOB, MARY]);
    expect(tree.parents).toEqual([-1, -1]);
    // a fixed shape never moves
    const fixed = new StandDrafter({ vocabSize: 40, shape: [[0], [1], [0, 0]] });
    simulate(fixed, [0], { steps: 20, budget: 3, target: hashTarget(40) });
    expect(fixed.shapePaths(3)).toEqual([[0], [0, 0], [1]]);
  });

  it("keeps its store bounded: topK per context, maxEntries contexts per length", () => {
    const d = new StandDrafter({ vocabSize: 500, maxEntries: 50, topK: 5 });
    simulate(d, [1, 2, 3], { steps: 300, budget: 20, target: hashTarget(500) });
    for (const n of d.storedContexts().slice(1)) expect(n).toBeLessThanOrEqual(50);
    expect(d.memoryBytes()).toBeLessThanOrEqual(d.memoryBound());
    expect(d.distribution([1, 2, 3]).length).toBeLessThanOrEqual(5);
    const big = new StandDrafter({ vocabSize: 32000 });
    console.log(`stand memory bound at the defaults (3 context lengths × 32768 contexts × top 10): ${big.memoryBound()} bytes`);
    // only accepted rows stored when asked
    const acc = new StandDrafter({ vocabSize: V, learnFromRejected: false, seedFromPrompt: false });
    const tree: DraftTree = { tokens: [50, 60], parents: [-1, -1], mode: "deterministic" };
    const logits = new Float32Array(3 * V);
    logits.set(row(V, { 60: 9 }), 0);
    logits.set(row(V, { 70: 9 }), V); // after 50, rejected
    logits.set(row(V, { 80: 9 }), 2 * V); // after 60, accepted
    acc.observe({ context: [4], tree, acceptedNodes: [1], bonus: 80, logits, vocabSize: V });
    expect(acc.distribution([4, 50])).toEqual([]);
    expect(acc.distribution([4, 60])[0].token).toBe(80);
  });

  it("gives valid trees (and draft distributions) on random contexts and budgets, greedy and sampling", () => {
    for (const vocab of [2, 13, 300]) {
      for (const sampling of [false, true]) {
        const d = new StandDrafter({ vocabSize: vocab, candidateNodes: 120 });
        const r = simulate(d, [0, 1, 0], { steps: 120, budget: (s) => (s * 11) % 75, target: hashTarget(vocab), sampling });
        expect(r.steps).toBe(120);
      }
    }
  });

  it("refuses bad options with DecodingOptionsError", () => {
    expect(() => new StandDrafter({ vocabSize: 0 })).toThrow(DecodingOptionsError);
    expect(() => new StandDrafter({ vocabSize: 10, topK: 0 })).toThrow(/topK/);
    expect(() => new StandDrafter({ vocabSize: 10, maxContext: 2, minContext: 3 })).toThrow(/minContext/);
    expect(() => new StandDrafter({ vocabSize: 10, temperature: 0 })).toThrow(/temperature/);
    expect(() => new StandDrafter({ vocabSize: 10, shape: [[1]] })).toThrow(/previous sibling/);
    expect(() => new StandDrafter({ vocabSize: 10, topK: 2, shape: [[0], [1], [2]] })).toThrow(/rank 2/);
    expect(() => new StandDrafter({ vocabSize: 10, maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new StandDrafter({ vocabSize: 10, rankPrior: [] })).toThrow(/rankPrior/);
  });
});
