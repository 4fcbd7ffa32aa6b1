/**
 * The speculative engine: greedy verification is exactly plain greedy decoding, and sampling
 * verification is lossless for each way a drafter can make its guesses (one-hot, i.i.d.,
 * without replacement), checked by chi-square against the exact distribution of the next
 * two tokens. The drafters here are random on purpose: the engine must not depend on
 * guesses being good.
 */
import type { LlamaModel, LoadedModel } from "@edgespec/models";
import { splitmix32 } from "@edgespec/runtime";
import { beforeAll, describe, expect, it } from "vitest";
import { DecodingOptionsError } from "../src/errors";
import { generate } from "../src/generate";
import type { Rng } from "../src/rng";
import { seededRng } from "../src/rng";
import { draftBudget, verifyCostCurve } from "../src/speculative/budget";
import type { DraftContext, Drafter, DraftMode, DraftTree, VerifiedStep } from "../src/speculative/drafter";
import { exactPairs, losslessCheck } from "./lossless";
import { loadTinyStories } from "./shared";
import { chiSquarePValue } from "./stats";
import { tinyRandomLlama } from "./tiny-model";

/** A proper random distribution over the vocabulary, fixed by (context, node). */
function randomDist(vocab: number, key: number): Float32Array {
  const r = splitmix32(key);
  const w = Float32Array.from({ length: vocab }, () => r() ** 3);
  let s = 0;
  for (const x of w) s += x;
  for (let i = 0; i < vocab; i++) w[i] /= s;
  return w;
}

function drawFrom(q: Float32Array, rng: Rng, exclude: Set<number>): number {
  let total = 0;
  for (let i = 0; i < q.length; i++) if (!exclude.has(i)) total += q[i];
  let u = rng() * total;
  let last = -1;
  for (let i = 0; i < q.length; i++) {
    if (exclude.has(i) || q[i] <= 0) continue;
    last = i;
    u -= q[i];
    if (u < 0) return i;
  }
  return last;
}

/** Random trees: width `w` per node up to the budget, tokens drawn as the mode says. */
class RandomDrafter implements Drafter {
  readonly name: string;
  observed = 0;
  constructor(
    readonly vocabSize: number,
    private readonly mode: DraftMode,
    private readonly width: number,
    private readonly seed: number,
  ) {
    this.name = `random-${mode}`;
  }
  begin(): void {}
  propose(ctx: DraftContext): DraftTree {
    const key = ctx.tokens.reduce((h, t) => Math.imul(h ^ t, 0x9e3779b1) >>> 0, this.seed);
    const dists = new Map<number, Float32Array>();
    const dist = (node: number) => {
      let d = dists.get(node);
      if (!d) {
        d = randomDist(this.vocabSize, key + node * 7919);
        dists.set(node, d);
      }
      return d;
    };
    const tokens: number[] = [];
    const parents: number[] = [];
    const queue = [-1];
    while (queue.length && tokens.length < ctx.budget) {
      const parent = queue.shift() as number;
      const used = new Set<number>();
      for (let c = 0; c < this.width && tokens.length < ctx.budget; c++) {
        let t: number;
        if (this.mode === "deterministic") {
          t = Math.floor(splitmix32(key + tokens.length)() * this.vocabSize);
          if (used.has(t)) continue;
        } else t = drawFrom(dist(parent), ctx.rng, this.mode === "without-replacement" ? used : new Set());
        used.add(t);
        tokens.push(t);
        parents.push(parent);
        queue.push(tokens.length - 1);
      }
    }
    return { tokens, parents, mode: this.mode, childDist: (node) => dist(node) };
  }
  observe(_step: VerifiedStep): void {
    this.observed++;
  }
}

/** Proposes what a plain greedy run produced (a perfect drafter), cut to the budget as a chain. */
class OracleDrafter implements Drafter {
  readonly name = "oracle";
  constructor(
    readonly vocabSize: number,
    private readonly future: number[],
    private readonly promptLength: number,
  ) {}
  begin(): void {}
  propose(ctx: DraftContext): DraftTree {
    const at = ctx.tokens.length - this.promptLength;
    const tokens = this.future.slice(at, at + ctx.budget);
    return { tokens, parents: tokens.map((_, i) => i - 1), mode: "deterministic" };
  }
  observe(): void {}
}

const PROMPTS = [
  "Once upon a time",
  "The little dog ran",
  "Lily and Tom went to the park. Lily and Tom went to the park. Lily and Tom",
  "One day, a big bear",
  "Sue had a red ball. She liked to",
  "The sun was hot and the",
  'Tim said, "I want to play!" Mom said,',
  "There was a small house",
  "Ben was sad because",
  "The cat and the dog were friends. The cat and the dog",
  "Anna found a shiny",
  "In the forest, there was",
];

describe("speculative greedy decoding on TinyStories-656K", () => {
  let tiny: LoadedModel;
  beforeAll(async () => {
    tiny = await loadTinyStories();
  });

  it("equals plain greedy for every prompt, with random trees of every mode and with a perfect drafter", async () => {
    const { model, tokenizer } = tiny;
    const vocab = model.config.vocabSize;
    let oracleMat = 0;
    for (const [i, prompt] of PROMPTS.entries()) {
      const plain = await generate(model, tokenizer, prompt, { temperature: 0, maxTokens: 80 });
      for (const mode of ["deterministic", "iid", "without-replacement"] as const) {
        const drafter = new RandomDrafter(vocab, mode, 3, 100 + i);
        const spec = await generate(model, tokenizer, prompt, { temperature: 0, maxTokens: 80, drafter, draftBudget: 12 });
        expect(spec.tokens, `${mode}: ${prompt}`).toEqual(plain.tokens);
        expect(spec.text).toBe(plain.text);
        expect(spec.stats.speculative?.steps).toBeGreaterThan(0);
        expect(drafter.observed).toBe(spec.stats.speculative?.steps);
      }
      const promptIds = [1, ...tokenizer.encode(prompt)];
      const oracle = new OracleDrafter(vocab, [...plain.tokens, 2], promptIds.length);
      const spec = await generate(model, tokenizer, prompt, { temperature: 0, maxTokens: 80, drafter: oracle, draftBudget: 8 });
      expect(spec.tokens).toEqual(plain.tokens);
      const s = spec.stats.speculative;
      if (!s) throw new Error("no speculative stats");
      // a perfect chain is accepted whole: every proposal but the last (cut by the end) fully
      for (const p of s.perStep.slice(0, -1)) expect(p.accepted).toBe(p.proposed);
      // every token after the first came out of a verify step
      expect(1 + s.accepted + s.steps).toBeGreaterThanOrEqual(spec.tokens.length);
      expect(s.meanAccepted).toBeGreaterThan(4);
      expect(s.perStep.every((p) => p.accepted <= p.proposed)).toBe(true);
      oracleMat += s.meanAccepted;
    }
    expect(oracleMat / PROMPTS.length).toBeGreaterThan(5);
  });

  it("budget 0 falls back to one token per step; the measured budget grows where verify is cheap", async () => {
    const { model, tokenizer } = tiny;
    const plain = await generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 30 });
    const none = await generate(model, tokenizer, "Once upon a time", {
      temperature: 0,
      maxTokens: 30,
      drafter: new RandomDrafter(2048, "deterministic", 2, 1),
      draftBudget: 0,
    });
    expect(none.tokens).toEqual(plain.tokens);
    expect(none.stats.speculative?.proposed).toBe(0);
    const curve = verifyCostCurve(model);
    expect(curve.length).toBeGreaterThan(4);
    for (const p of curve) expect(p.ratio).toBeGreaterThan(0);
    const budget = draftBudget(model);
    expect(curve.find((p) => p.nodes === budget + 1)?.ratio ?? 0).toBeLessThanOrEqual(2);
    // the default budget is the measured one
    const auto = await generate(model, tokenizer, "Once upon a time", {
      temperature: 0,
      maxTokens: 30,
      drafter: new RandomDrafter(2048, "deterministic", 2, 1),
    });
    expect(auto.stats.speculative?.budget).toBe(budget);
    expect(auto.tokens).toEqual(plain.tokens);
  });

  it("with the measured budget, drafting pauses while it does not pay and never pauses for a perfect drafter", async () => {
    const { model, tokenizer } = tiny;
    const prompt = "Once upon a time";
    const plain = await generate(model, tokenizer, prompt, { temperature: 0, maxTokens: 120, ignoreEos: true });
    // random guesses are almost never accepted: most steps run without drafts
    const useless = await generate(model, tokenizer, prompt, {
      temperature: 0,
      maxTokens: 120,
      ignoreEos: true,
      drafter: new RandomDrafter(2048, "deterministic", 2, 3),
    });
    expect(useless.tokens).toEqual(plain.tokens);
    const steps = useless.stats.speculative?.perStep ?? [];
    expect(steps.filter((p) => p.proposed === 0).length).toBeGreaterThan(steps.length / 2);
    // a perfect drafter gains at least (budget + 1) ÷ 2 > 1 per step on the measured curve: no pause
    const promptIds = [1, ...tokenizer.encode(prompt)];
    const oracle = new OracleDrafter(2048, plain.tokens, promptIds.length);
    const perfect = await generate(model, tokenizer, prompt, { temperature: 0, maxTokens: 120, ignoreEos: true, drafter: oracle });
    expect(perfect.tokens).toEqual(plain.tokens);
    const ps = perfect.stats.speculative?.perStep ?? [];
    // a measured pause would need the drafter's time to rival the verify's (a GC or another
    // process during propose): allow one, the shortest (8 steps), where the useless drafter
    // above sits out most of its steps
    const paused = ps.slice(0, -1).filter((p) => p.proposed === 0).length;
    expect(paused, `a perfect drafter sat out ${paused} of ${ps.length} steps`).toBeLessThanOrEqual(8);
  });

  it("refuses a drafter of another vocabulary, bad budgets, bad trees and drafter + constraint", async () => {
    const { model, tokenizer } = tiny;
    expect(() => generate(model, tokenizer, "x", { drafter: new RandomDrafter(512, "deterministic", 2, 1) })).toThrow(
      /512-token vocabulary; the model has 2048/,
    );
    expect(() => generate(model, tokenizer, "x", { drafter: new RandomDrafter(2048, "deterministic", 2, 1), draftBudget: -1 })).toThrow(DecodingOptionsError);
    expect(() => generate(model, tokenizer, "x", { draftBudget: 4 })).toThrow(/needs a drafter/);
    const cheat: Drafter = {
      name: "cheat",
      vocabSize: 2048,
      begin() {},
      propose: (ctx) => ({ tokens: Array(ctx.budget + 1).fill(5), parents: Array.from({ length: ctx.budget + 1 }, (_, i) => i - 1), mode: "deterministic" }),
      observe() {},
    };
    await expect(generate(model, tokenizer, "Once", { temperature: 0, maxTokens: 5, drafter: cheat, draftBudget: 3 })).rejects.toThrow(
      /exceed the budget of 3/,
    );
    const twins: Drafter = { ...cheat, name: "twins", propose: () => ({ tokens: [5, 5], parents: [-1, -1], mode: "deterministic" }) };
    await expect(generate(model, tokenizer, "Once", { temperature: 0, maxTokens: 5, drafter: twins, draftBudget: 3 })).rejects.toThrow(/repeats token 5/);
  });
});

describe("speculative sampling is lossless", () => {
  let model: LlamaModel;
  const V = 6;
  beforeAll(async () => {
    model = await tinyRandomLlama({ vocab: V, seed: 21, scale: 1.2 });
  });

  for (const mode of ["deterministic", "iid", "without-replacement"] as const) {
    it(`the next two tokens follow the target's distribution (${mode} drafts, chi-square)`, () => {
      const N = 12000;
      const r = losslessCheck(model, new RandomDrafter(V, mode, 2, 7), { n: N, budget: 6, seed: 12345 });
      console.log(`${mode}: chi-square ${r.stat.toFixed(1)} on ${r.df} df, p = ${r.p.toFixed(3)}; drafts accepted ${r.accepted}/${r.proposed}`);
      expect(r.p).toBeGreaterThan(0.001);
      // the drafts were used, not bypassed
      expect(r.accepted).toBeGreaterThan(N / 10);
    });
  }

  for (const mode of ["deterministic", "iid", "without-replacement"] as const) {
    it(`coupled verification: the next two tokens follow the target's distribution (${mode} drafts, chi-square)`, () => {
      const N = 12000;
      const r = losslessCheck(model, new RandomDrafter(V, mode, 2, 7), { n: N, budget: 6, seed: 777, coupled: true });
      console.log(`coupled, ${mode}: chi-square ${r.stat.toFixed(1)} on ${r.df} df, p = ${r.p.toFixed(3)}; drafts accepted ${r.accepted}/${r.proposed}`);
      expect(r.p).toBeGreaterThan(0.001);
      expect(r.accepted).toBeGreaterThan(N / 10);
    });
  }

  it("a biased verifier would be caught: accepting every draft fails the same test", () => {
    const context = [1, 2, 3, 4];
    const want = exactPairs(model, context);
    const rng = seededRng(5);
    const drafter = new RandomDrafter(V, "iid", 1, 7);
    const counts = new Float64Array(V * V);
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const tree = drafter.propose({ tokens: context, budget: 2, rng, sampling: true });
      // the draft's own chain, taken as is (what a lossy engine would output)
      counts[tree.tokens[0] * V + tree.tokens[1]]++;
    }
    let stat = 0;
    let bins = 0;
    for (let k = 0; k < V * V; k++) {
      const e = N * want[k];
      if (e < 5) continue;
      stat += (counts[k] - e) ** 2 / e;
      bins++;
    }
    expect(chiSquarePValue(stat, bins - 1)).toBeLessThan(1e-6);
  });
});
