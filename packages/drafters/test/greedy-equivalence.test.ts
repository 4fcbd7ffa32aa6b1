/**
 * Speculative greedy decoding with every drafter gives exactly plain greedy decoding, token
 * for token, over varied prompts on the real TinyStories-656K model (repetitive prompts
 * included); prints each drafter's mean accepted tokens per verify step (MAT).
 */
import { DecodingOptionsError, type Drafter, generate } from "@edgespec/decoding";
import type { LoadedModel } from "@edgespec/models";
import { beforeAll, describe, expect, it } from "vitest";
import { AdedDrafter, createDrafter, DRAFTER_SPECS, PromptLookupDrafter, StandDrafter, TokenRecyclingDrafter } from "../src/index";
import { loadTinyStories } from "./shared";

const PROMPTS = [
  "Once upon a time",
  "Lily and Tom went to the park. They played on the",
  "The cat sat on the mat. The cat sat on the mat. The cat sat on the mat. The cat",
  "One day, a little girl named Sue found a shiny red",
  'Tom said, "I want to play!" Mom said, "Yes, you can play." Tom said, "I want to play!" Mom said,',
  "The dog ran and ran and ran and ran and ran and ran and",
  "Ben had a big red truck. He liked to push his truck. Ben had a big red truck. He liked",
  "Once upon a time, there was a little bird. The bird liked to sing. Every day, the bird",
  "A B C D E F G A B C D E F G A B C D",
  "Sara was sad because her toy was",
  "The sun was hot. The sun was hot. The sun was hot. The sun",
  "Max and his friend Sam built a tall tower with blocks. Then the",
  "Anna liked to draw. She drew a cat, a dog, a cat, a dog, a cat,",
  "Once upon a time, in a big forest, there lived a",
];
const MAX_TOKENS = 96;
const BUDGET = 16;

type Factory = (vocab: number) => Drafter;
const DRAFTERS: [string, Factory][] = [
  ["prompt-lookup", (v) => new PromptLookupDrafter({ vocabSize: v })],
  ["prompt-lookup (4 matches)", (v) => new PromptLookupDrafter({ vocabSize: v, maxMatches: 4 })],
  ["token-recycling", (v) => new TokenRecyclingDrafter({ vocabSize: v })],
  ["aded", (v) => new AdedDrafter({ vocabSize: v })],
  ["stand", (v) => new StandDrafter({ vocabSize: v })],
];

describe("greedy equivalence on TinyStories-656K", () => {
  let tiny: LoadedModel;
  const plain: number[][] = [];
  beforeAll(async () => {
    tiny = await loadTinyStories();
    for (const p of PROMPTS) plain.push((await generate(tiny.model, tiny.tokenizer, p, { temperature: 0, maxTokens: MAX_TOKENS })).tokens);
  });

  for (const [name, make] of DRAFTERS) {
    it(`${name}: speculative greedy tokens equal plain greedy tokens on ${PROMPTS.length} prompts`, async () => {
      const { model, tokenizer } = tiny;
      const drafter = make(model.config.vocabSize);
      let steps = 0;
      let tokens = 0;
      const perPrompt: string[] = [];
      for (let i = 0; i < PROMPTS.length; i++) {
        const r = await generate(model, tokenizer, PROMPTS[i], { temperature: 0, maxTokens: MAX_TOKENS, drafter, draftBudget: BUDGET });
        expect(r.tokens, `prompt ${i}: ${PROMPTS[i]}`).toEqual(plain[i]);
        const s = r.stats.speculative!;
        expect(s.steps).toBeGreaterThan(0);
        steps += s.steps;
        tokens += s.meanAccepted * s.steps;
        perPrompt.push(s.meanAccepted.toFixed(2));
      }
      const mat = tokens / steps;
      console.log(`${name}: MAT ${mat.toFixed(3)} over ${steps} verify steps (budget ${BUDGET}); per prompt ${perPrompt.join(" ")}`);
      expect(mat).toBeGreaterThanOrEqual(1);
      // other budgets, a fresh drafter each
      for (const budget of [1, 3, 64]) {
        const fresh = make(model.config.vocabSize);
        for (const i of [0, 2, 5, 8]) {
          const r = await generate(model, tokenizer, PROMPTS[i], { temperature: 0, maxTokens: MAX_TOKENS, drafter: fresh, draftBudget: budget });
          expect(r.tokens, `budget ${budget}, prompt ${i}`).toEqual(plain[i]);
        }
      }
    });
  }

  it("sampling with STAND (drafts without replacement) runs through the engine", async () => {
    const { model, tokenizer } = tiny;
    const drafter = new StandDrafter({ vocabSize: model.config.vocabSize });
    let steps = 0;
    let tokens = 0;
    for (let i = 0; i < 6; i++) {
      const r = await generate(model, tokenizer, PROMPTS[i], { temperature: 0.8, seed: 11 + i, maxTokens: MAX_TOKENS, drafter, draftBudget: BUDGET });
      for (const t of r.tokens) expect(t).toBeLessThan(model.config.vocabSize);
      steps += r.stats.speculative!.steps;
      tokens += r.stats.speculative!.accepted + r.stats.speculative!.steps;
    }
    console.log(`stand, sampling at temperature 0.8: MAT ${(tokens / steps).toFixed(3)} over ${steps} verify steps (budget ${BUDGET})`);
    expect(tokens / steps).toBeGreaterThanOrEqual(1);
  });

  it("coupled sampling: with every drafter and budget, a seed gives the same tokens as plain sampling", async () => {
    const { model, tokenizer } = tiny;
    const opts = { temperature: 0.8, topP: 0.95, maxTokens: 64 };
    for (const spec of DRAFTER_SPECS) {
      for (const budget of [1, 4, 16]) {
        const drafter = (await createDrafter(spec, { model, tokenizer })) as Drafter;
        for (const [i, seed] of [
          [0, 5],
          [2, 6],
          [6, 7],
        ]) {
          const plainSampled = await generate(model, tokenizer, PROMPTS[i], { ...opts, seed });
          const r = await generate(model, tokenizer, PROMPTS[i], { ...opts, seed, drafter, draftBudget: budget });
          expect(r.tokens, `${spec}, budget ${budget}, prompt ${i}`).toEqual(plainSampled.tokens);
          expect(r.stats.speculative?.steps).toBeGreaterThan(0);
        }
        drafter.free?.();
      }
    }
    // the rejection rules are lossless in distribution only: some seed gives other text
    const drafter = new TokenRecyclingDrafter({ vocabSize: model.config.vocabSize });
    let differs = false;
    for (let seed = 0; seed < 8 && !differs; seed++) {
      const a = await generate(model, tokenizer, PROMPTS[0], { ...opts, seed });
      const b = await generate(model, tokenizer, PROMPTS[0], { ...opts, seed, drafter, draftBudget: 4, verification: "rejection" });
      differs = a.tokens.join() !== b.tokens.join();
    }
    expect(differs).toBe(true);
  });

  it("coupled sampling: a draft model drawing with the target's keyed noise guesses every token of an identical target", async () => {
    const { model, tokenizer } = tiny;
    // early exit after all the layers at the drafter's temperature (1): the draft distribution is the target's, so keyed draws coincide
    const drafter = (await createDrafter(`early-exit:${model.config.numLayers}`, { model, tokenizer })) as Drafter;
    const r = await generate(model, tokenizer, PROMPTS[0], { temperature: 1, seed: 4, maxTokens: 60, drafter, draftBudget: 4 });
    const s = r.stats.speculative!;
    // every step but the last accepts all 4 drafts (the last may stop at maxTokens or EOS)
    expect(s.accepted).toBeGreaterThanOrEqual(4 * (s.steps - 1));
    drafter.free?.();
  });

  it("a drafter for another vocabulary is refused with a clear error", async () => {
    const { model, tokenizer } = tiny;
    for (const drafter of [new TokenRecyclingDrafter({ vocabSize: 32000 }), new PromptLookupDrafter({ vocabSize: 100 })])
      expect(() => generate(model, tokenizer, "Once upon a time", { temperature: 0, drafter })).toThrow(DecodingOptionsError);
    expect(() => generate(model, tokenizer, "Once upon a time", { temperature: 0, drafter: new StandDrafter({ vocabSize: 100 }) })).toThrow(
      /100-token vocabulary; the model has 2048/,
    );
  });
});
