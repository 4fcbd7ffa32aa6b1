/** Token Recycling: the adjacency matrix (memory, refresh rule) and the static tree template. */
import { DecodingOptionsError, type DraftTree, seededRng } from "@edgespec/decoding";
import { describe, expect, it } from "vitest";
import { compileTemplate, TOKEN_RECYCLING_TREE, TokenRecyclingDrafter } from "../src/index";
import { assertValid, hashTarget, row, simulate } from "./helpers";

const rng = seededRng(1);
const ctx = (tokens: number[], budget: number) => ({ tokens, budget, rng, sampling: false });
const empty: DraftTree = { tokens: [], parents: [], mode: "deterministic" };

/** A row whose top 8 are `top` in order. */
function topRow(vocab: number, top: number[]): Float32Array {
  return row(vocab, Object.fromEntries(top.map((t, i) => [t, 10 - i])));
}

/** The rank path of every node (the index of its token in its parent's candidate list). */
function rankPaths(d: TokenRecyclingDrafter, tree: DraftTree, root: number): string[] {
  return tree.tokens.map((_, i) => {
    const path: number[] = [];
    for (let n = i; n >= 0; n = tree.parents[n]) {
      const parentToken = tree.parents[n] >= 0 ? tree.tokens[tree.parents[n]] : root;
      path.unshift(d.candidates(parentToken).indexOf(tree.tokens[n]));
    }
    return path.join(",");
  });
}

describe("TokenRecyclingDrafter", () => {
  it("holds a 32000 × 8 matrix in under 2 MB", () => {
    const d = new TokenRecyclingDrafter({ vocabSize: 32000 });
    const bytes = d.memoryBytes();
    console.log(`token-recycling memory at vocab 32000, k = 8: ${bytes} bytes (${(bytes / 2 ** 20).toFixed(3)} MiB)`);
    expect(bytes).toBeLessThan(2 * 2 ** 20);
    // ids past 65535 need 32-bit cells: still 1 MB at k = 8 for 32768 tokens
    expect(new TokenRecyclingDrafter({ vocabSize: 32768 }).memoryBytes()).toBeLessThan(2 * 2 ** 20);
    expect(new TokenRecyclingDrafter({ vocabSize: 60000 }).memoryBytes()).toBeLessThan(2 * 2 ** 20);
  });

  it("after observe() proposes the recorded top-k, filling the template", () => {
    const V = 100;
    const d = new TokenRecyclingDrafter({ vocabSize: V });
    d.begin([]);
    // verified: the pending token 5 is followed by 10..17 (best first)
    d.observe({ context: [3, 5], tree: empty, acceptedNodes: [], bonus: 10, logits: topRow(V, [10, 11, 12, 13, 14, 15, 16, 17]), vocabSize: V });
    expect(d.candidates(5)).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
    const tree = d.propose(ctx([3, 5], 80));
    assertValid(tree, 80, V);
    // only the pending token's row is known: its 8 candidates, in rank order
    expect(tree.tokens).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
    expect(tree.parents).toEqual(Array(8).fill(-1));
  });

  it("with every row known, the tree is the paper's 80-node template", () => {
    const V = 64;
    const d = new TokenRecyclingDrafter({ vocabSize: V });
    // token t's candidates: (t + 1 + j) mod V, j = 0..7
    for (let t = 0; t < V; t++) {
      const top = Array.from({ length: 8 }, (_, j) => (t + 1 + j) % V);
      d.observe({ context: [t], tree: empty, acceptedNodes: [], bonus: top[0], logits: topRow(V, top), vocabSize: V });
    }
    const tree = d.propose(ctx([0], 80));
    assertValid(tree, 80, V);
    expect(tree.tokens.length).toBe(80);
    for (let i = 0; i < 80; i++) {
      const parentToken = tree.parents[i] >= 0 ? tree.tokens[tree.parents[i]] : 0;
      expect(d.candidates(parentToken)).toContain(tree.tokens[i]);
    }
    expect(new Set(rankPaths(d, tree, 0))).toEqual(new Set(TOKEN_RECYCLING_TREE.map((p) => p.join(","))));
    // a budget of 16 keeps the likeliest nodes: the rank-0 chain to the template's depth first
    const small = d.propose(ctx([0], 16));
    assertValid(small, 16, V);
    const paths = rankPaths(d, small, 0);
    expect(paths.length).toBe(16);
    for (const p of ["0", "0,0", "0,0,0", "0,0,0,0", "0,0,0,0,0", "0,0,0,0,0,0", "1", "0,1", "1,0", "2"]) expect(paths).toContain(p);
    expect(paths.slice(0, 3)).toEqual(["0", "0,0", "0,0,0"]);
  });

  it("refreshes every verified row, the accepted path last, and keeps the accepted text", () => {
    const V = 40;
    const d = new TokenRecyclingDrafter({ vocabSize: V, k: 3 });
    // tree: 7 (node 0) and 8 (node 1) under the pending token 5; 7 again (node 2) under 8
    const tree: DraftTree = { tokens: [7, 8, 7], parents: [-1, -1, 1], mode: "deterministic" };
    const logits = new Float32Array(4 * V);
    logits.set(topRow(V, [8, 7, 1]), 0); // after 5
    logits.set(topRow(V, [20, 21, 22]), V); // after node 0 (7): rejected row
    logits.set(topRow(V, [7, 2, 3]), 2 * V); // after node 1 (8)
    logits.set(topRow(V, [30, 31, 32]), 3 * V); // after node 2 (7): on the accepted path
    d.observe({ context: [4, 5], tree, acceptedNodes: [1, 2], bonus: 30, logits, vocabSize: V });
    expect(d.candidates(5)).toEqual([8, 7, 1]);
    expect(d.candidates(8)).toEqual([7, 2, 3]);
    expect(d.candidates(7)).toEqual([30, 31, 32]); // the accepted occurrence wins
    // sampling: an accepted token outside the row's top-k replaces its last candidate
    d.observe({ context: [5], tree: empty, acceptedNodes: [], bonus: 39, logits: topRow(V, [8, 7, 1]), vocabSize: V });
    expect(d.candidates(5)).toEqual([8, 7, 39]);
  });

  it("seeds empty slots from the prompt, keeps the matrix across generations (hot start) unless told", () => {
    const V = 30;
    const d = new TokenRecyclingDrafter({ vocabSize: V });
    d.begin([1, 2, 3, 1, 4]);
    expect(d.candidates(1)).toEqual([2, 4]);
    const seeded = d.propose(ctx([9, 1], 8));
    expect(seeded.tokens.filter((_, i) => seeded.parents[i] === -1)).toEqual([2, 4]);
    expect(seeded.tokens.slice(0, 3)).toEqual([2, 3, 1]); // 1 → 2 → 3 → 1, the prompt's chain
    d.begin([7, 8]);
    expect(d.candidates(1)).toEqual([2, 4]);
    const cold = new TokenRecyclingDrafter({ vocabSize: V, hotStart: false, seedFromPrompt: false });
    cold.begin([1, 2]);
    expect(cold.candidates(1)).toEqual([]);
    expect(cold.propose(ctx([1], 8)).tokens).toEqual([]);
  });

  it("gives valid trees on random contexts and budgets, and learns a deterministic target", () => {
    for (const vocab of [2, 9, 300]) {
      const d = new TokenRecyclingDrafter({ vocabSize: vocab });
      const r = simulate(d, [0, 1, 0], { steps: 200, budget: (s) => (s * 7) % 90, target: hashTarget(vocab) });
      expect(r.steps).toBe(200);
    }
    // a target whose next token depends on the last token only: the matrix learns it exactly
    const V = 50;
    const d = new TokenRecyclingDrafter({ vocabSize: V });
    const target = (c: readonly number[]) => topRow(V, [(c[c.length - 1] * 7 + 3) % V]);
    simulate(d, [1], { steps: 60, budget: 16, target });
    const r = simulate(d, [1], { steps: 20, budget: 16, target });
    expect(r.accepted / r.steps).toBeGreaterThan(5);
  });

  it("refuses bad options and templates with DecodingOptionsError", () => {
    expect(() => new TokenRecyclingDrafter({ vocabSize: -1 })).toThrow(DecodingOptionsError);
    expect(() => new TokenRecyclingDrafter({ vocabSize: 10, k: 0 })).toThrow(/k must be/);
    expect(() => new TokenRecyclingDrafter({ vocabSize: 10, k: 2, template: [[0], [2]] })).toThrow(/rank 2 outside \[0, 2\)/);
    expect(() => new TokenRecyclingDrafter({ vocabSize: 10, template: [[0], [0, 0, 1]] })).toThrow(/no parent/);
    expect(() => new TokenRecyclingDrafter({ vocabSize: 10, template: [[0], [0]] })).toThrow(/twice/);
    expect(() => new TokenRecyclingDrafter({ vocabSize: 10, template: [[]] })).toThrow(/non-empty/);
    expect(() => new TokenRecyclingDrafter({ vocabSize: 10, rankPrior: [0.5, 0] })).toThrow(/rankPrior\[1\]/);
    expect(() => compileTemplate("t", [[0], [2]], 8, true)).toThrow(/previous sibling/);
  });
});
