/**
 * Early-exit self-drafting: the target's first n layers with its final norm and head. With
 * every layer it is the target itself, so a greedy chain is always accepted whole; with
 * fewer it is a real drafter (MAT per exit layer on stories260K, 5 layers).
 */
import { DecodingOptionsError, generate, seededRng } from "@edgespec/decoding";
import type { LoadedModel } from "@edgespec/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { earlyExitDrafter } from "../src/index";
import { EVAL_PROMPTS, loadStories260K, loadTinyStories } from "./draft-model-helpers";

describe("early-exit drafters", () => {
  let tiny: LoadedModel;
  beforeAll(async () => {
    tiny = await loadTinyStories();
  });
  afterAll(() => tiny.model.free());

  it("with every layer the drafter is the target: greedy chains are accepted whole", async () => {
    const drafter = earlyExitDrafter(tiny.model, 2, { maxDepth: 6 });
    expect(drafter.name).toBe("early-exit-2");
    for (const prompt of EVAL_PROMPTS.slice(0, 4)) {
      const plain = await generate(tiny.model, tiny.tokenizer, prompt, { temperature: 0, maxTokens: 60 });
      const spec = await generate(tiny.model, tiny.tokenizer, prompt, { temperature: 0, maxTokens: 60, drafter, draftBudget: 6 });
      expect(spec.tokens).toEqual(plain.tokens);
      const s = spec.stats.speculative;
      if (!s) throw new Error("no stats");
      for (const p of s.perStep.slice(0, -1)) expect(p.accepted).toBe(p.proposed);
      expect(s.meanAccepted).toBeGreaterThan(5);
    }
    drafter.free();
  });

  it("the first layer's chain is that derived model's own greedy continuation", () => {
    const drafter = earlyExitDrafter(tiny.model, 1, { maxDepth: 5 });
    const ref = tiny.model.derive({ layers: 1 });
    const context = [1, ...tiny.tokenizer.encode("Ben and Mia")];
    const tree = drafter.propose({ tokens: context, budget: 16, rng: seededRng(1), sampling: false });
    let logits = ref.prefill(context).logits;
    for (const t of tree.tokens) {
      expect(t).toBe(logits.indexOf(Math.max(...logits)));
      logits = ref.step(t);
    }
    ref.free();
    drafter.free();
  });

  it("refuses exit layers outside the target", () => {
    for (const n of [0, 3, 1.5, Number.NaN])
      expect(() => earlyExitDrafter(tiny.model, n)).toThrow(
        new DecodingOptionsError(`early exit: layers must be an integer in [1, 2] (the target has 2), got ${n}`),
      );
  });

  it("stories260K: MAT per exit layer (greedy, chains of 8)", async () => {
    const m = await loadStories260K();
    const prompts = EVAL_PROMPTS.slice(0, 8);
    const rows: { layers: number; MAT: number }[] = [];
    for (let n = 1; n <= 5; n++) {
      const drafter = earlyExitDrafter(m.model, n, { maxDepth: 8 });
      let steps = 0;
      let accepted = 0;
      for (const p of prompts) {
        const plain = await generate(m.model, m.tokenizer, p, { temperature: 0, maxTokens: 80 });
        const r = await generate(m.model, m.tokenizer, p, { temperature: 0, maxTokens: 80, drafter, draftBudget: 8 });
        expect(r.tokens).toEqual(plain.tokens);
        steps += r.stats.speculative?.steps ?? 0;
        accepted += r.stats.speculative?.accepted ?? 0;
      }
      rows.push({ layers: n, MAT: +((accepted + steps) / steps).toFixed(3) });
      drafter.free();
    }
    console.log("stories260K early exit, greedy, 8 prompts × 80 tokens, chains of 8");
    console.table(rows);
    for (let i = 1; i < rows.length; i++) expect(rows[i].MAT).toBeGreaterThanOrEqual(rows[0].MAT - 0.05);
    expect(rows[4].MAT).toBeGreaterThan(5);
    m.model.free();
  });
});
