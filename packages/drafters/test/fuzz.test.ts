/**
 * Every drafter, on random contexts, random budgets (0 to 300), tiny to mid vocabularies,
 * greedy and sampling, after random verify feedback: every tree is valid (parents first,
 * distinct siblings, within the budget and the vocabulary; draft distributions for sampled
 * modes), and the stores stay within their bounds.
 */
import { type Drafter, type DraftTree, seededRng } from "@edgespec/decoding";
import { describe, expect, it } from "vitest";
import { AdedDrafter, PromptLookupDrafter, StandDrafter, TokenRecyclingDrafter } from "../src/index";
import { assertValid } from "./helpers";

const MAKERS: [string, (vocab: number) => Drafter & { memoryBytes(): number }][] = [
  ["prompt-lookup", (v) => new PromptLookupDrafter({ vocabSize: v, maxMatches: 3 })],
  ["token-recycling", (v) => new TokenRecyclingDrafter({ vocabSize: v })],
  ["aded", (v) => new AdedDrafter({ vocabSize: v, iterations: 40, maxContexts: 32 })],
  ["stand", (v) => new StandDrafter({ vocabSize: v, maxEntries: 32, candidateNodes: 100 })],
];

describe("fuzz: random contexts, budgets and feedback", () => {
  for (const [name, make] of MAKERS) {
    it(`${name}: every tree is valid`, () => {
      const rng = seededRng(name.length * 977);
      const int = (n: number) => Math.floor(rng() * n);
      for (const vocab of [1, 2, 5, 64, 700]) {
        const d = make(vocab);
        let mem = 0;
        for (let gen = 0; gen < 4; gen++) {
          // contexts drawn from a small alphabet, so that n-grams repeat
          const alphabet = 1 + int(Math.min(vocab, 12));
          const tokens = Array.from({ length: 1 + int(30) }, () => int(alphabet));
          d.begin(tokens);
          for (let step = 0; step < 60; step++) {
            const budget = step % 9 === 0 ? 0 : int(step % 5 === 0 ? 300 : 40);
            const sampling = rng() < 0.5;
            const tree: DraftTree = d.propose({ tokens, budget, rng, sampling });
            assertValid(tree, budget, vocab);
            if (tree.mode !== "deterministic")
              for (const p of new Set(tree.parents)) {
                const q = tree.childDist!(p);
                let sum = 0;
                for (const x of q) sum += x;
                expect(sum).toBeCloseTo(1, 4);
              }
            // random feedback: random logits, a random accepted path, a random bonus
            const n = tree.tokens.length;
            const logits = new Float32Array((n + 1) * vocab);
            for (let i = 0; i < logits.length; i++) logits[i] = rng() < 0.02 ? Number.NEGATIVE_INFINITY : (rng() - 0.5) * 10;
            const accepted: number[] = [];
            for (let node = -1; ; ) {
              const kids = tree.parents.flatMap((p, i) => (p === node ? [i] : []));
              if (kids.length === 0 || rng() < 0.3) break;
              node = kids[int(kids.length)];
              accepted.push(node);
            }
            const bonus = int(vocab);
            d.observe({ context: tokens.slice(), tree, acceptedNodes: accepted, bonus, logits, vocabSize: vocab });
            for (const a of accepted) tokens.push(tree.tokens[a]);
            tokens.push(rng() < 0.7 ? bonus : int(alphabet));
          }
          mem = Math.max(mem, d.memoryBytes());
        }
        const bound = (d as { memoryBound?: () => number }).memoryBound?.();
        if (bound !== undefined) expect(mem).toBeLessThanOrEqual(bound);
      }
    });
  }
});
