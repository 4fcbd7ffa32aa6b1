/**
 * Test helpers: logits rows with known top tokens, and a synthetic draft → verify →
 * observe loop (greedy acceptance against a target function) that checks every tree.
 */
import { type Drafter, type DraftTree, type Rng, seededRng } from "@edgespec/decoding";
import { expect } from "vitest";
import { draftTreeProblem } from "../src/index";

/** A logits row: `base` everywhere, then the listed token → value pairs. */
export function row(vocab: number, values: Record<number, number>, base = -20): Float32Array {
  const r = new Float32Array(vocab).fill(base);
  for (const [t, v] of Object.entries(values)) r[Number(t)] = v;
  return r;
}

/** A logits row whose softmax gives `probs` to the listed tokens and spreads the rest evenly. */
export function probRow(vocab: number, probs: Record<number, number>): Float32Array {
  const listed = Object.keys(probs).length;
  const used = Object.values(probs).reduce((a, b) => a + b, 0);
  const rest = Math.max(1e-12, (1 - used) / (vocab - listed));
  const r = new Float32Array(vocab).fill(Math.log(rest));
  for (const [t, p] of Object.entries(probs)) r[Number(t)] = Math.log(p);
  return r;
}

export function assertValid(tree: DraftTree, budget: number, vocab: number): void {
  const problem = draftTreeProblem(tree, budget, vocab);
  expect(problem, problem ?? "").toBeNull();
}

export interface SimResult {
  tokens: number[];
  steps: number;
  accepted: number;
  proposed: number;
  trees: DraftTree[];
}

/**
 * Runs `steps` cycles: propose after `tokens` (last = pending), verify with `target`
 * (context → logits row of the next token), accept greedily, observe. Every tree is
 * checked (validity, and childDist for sampled modes).
 */
export function simulate(
  drafter: Drafter,
  prompt: number[],
  opts: { steps: number; budget: number | ((step: number) => number); target: (ctx: readonly number[]) => Float32Array; sampling?: boolean; rng?: Rng },
): SimResult {
  const vocab = drafter.vocabSize;
  const rng = opts.rng ?? seededRng(7);
  const tokens = [...prompt];
  drafter.begin(prompt);
  const res: SimResult = { tokens, steps: 0, accepted: 0, proposed: 0, trees: [] };
  for (let s = 0; s < opts.steps; s++) {
    const budget = typeof opts.budget === "function" ? opts.budget(s) : opts.budget;
    const context = tokens.slice();
    const tree = drafter.propose({ tokens: context, budget, rng, sampling: opts.sampling ?? false });
    assertValid(tree, budget, vocab);
    if (tree.mode !== "deterministic") {
      const hasKids = new Set(tree.parents);
      for (const node of hasKids) {
        const q = tree.childDist!(node);
        expect(q.length).toBe(vocab);
        let sum = 0;
        for (const x of q) sum += x;
        expect(Math.abs(sum - 1)).toBeLessThan(1e-4);
        tree.tokens.forEach((t, i) => {
          if (tree.parents[i] === node) expect(q[t]).toBeGreaterThan(0);
        });
      }
    }
    res.trees.push(tree);
    // verify: one row per node, then greedy acceptance
    const n = tree.tokens.length;
    const logits = new Float32Array((n + 1) * vocab);
    const pathOf = (node: number): number[] => {
      const p: number[] = [];
      for (let i = node; i >= 0; i = tree.parents[i]) p.unshift(tree.tokens[i]);
      return p;
    };
    logits.set(opts.target(context), 0);
    for (let i = 0; i < n; i++) logits.set(opts.target([...context, ...pathOf(i)]), (i + 1) * vocab);
    const acceptedNodes: number[] = [];
    let node = -1;
    let bonus: number;
    for (;;) {
      const r = logits.subarray((node + 1) * vocab, (node + 2) * vocab);
      let best = 0;
      for (let v = 1; v < vocab; v++) if (r[v] > r[best]) best = v;
      const child = tree.tokens.findIndex((t, i) => tree.parents[i] === node && t === best);
      if (child < 0) {
        bonus = best;
        break;
      }
      acceptedNodes.push(child);
      node = child;
    }
    drafter.observe({ context, tree, acceptedNodes, bonus, logits, vocabSize: vocab });
    for (const a of acceptedNodes) tokens.push(tree.tokens[a]);
    tokens.push(bonus);
    res.steps++;
    res.accepted += acceptedNodes.length;
    res.proposed += n;
  }
  return res;
}

/** A deterministic pseudo-random target: the next token depends on the last two tokens (so n-gram drafters can learn it), its top-k on a hash. */
export function hashTarget(vocab: number, seed = 1): (ctx: readonly number[]) => Float32Array {
  return (ctx) => {
    const a = ctx.length >= 2 ? ctx[ctx.length - 2] : 0;
    const b = ctx[ctx.length - 1] ?? 0;
    const r = new Float32Array(vocab);
    let h = (Math.imul(a + 1, 0x9e3779b1) ^ Math.imul(b + 7, 0x85ebca6b) ^ seed) >>> 0;
    for (let v = 0; v < vocab; v++) {
      h = (Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + v) >>> 0;
      r[v] = (h % 1000) / 100;
    }
    return r;
  };
}
