/**
 * Every draft-model drafter through generate() on TinyStories-656K: greedy speculative
 * output is token for token plain greedy output over a dozen prompts, and the mean accepted
 * tokens per verify step (MAT, the bonus token included) is printed per drafter. The
 * FastDraft drafter (tools/fastdraft, committed weights) must beat early exit after one
 * layer. A short sampled run per drafter reports MAT at temperature 1 as well.
 */
import { type Drafter, generate } from "@edgespec/decoding";
import type { LlamaModel, LoadedModel } from "@edgespec/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DraftModelDrafter, DySpecDrafter, earlyExitDrafter, RsdDrafter } from "../src/index";
import { EVAL_PROMPTS, loadFastDraft, loadTinyStories } from "./draft-model-helpers";

interface Row {
  name: string;
  mat: number;
  proposed: number;
  draftMs: number;
  verifyMs: number;
  tokens: number;
  wallMs: number;
}

describe("draft-model drafters through generate() on TinyStories-656K", () => {
  let tiny: LoadedModel;
  let fast: LlamaModel;
  const plain = new Map<string, number[]>();
  let plainMs = 0;
  beforeAll(async () => {
    tiny = await loadTinyStories();
    fast = await loadFastDraft(tiny.model.backend);
    for (const p of EVAL_PROMPTS) await generate(tiny.model, tiny.tokenizer, p, { temperature: 0, maxTokens: 100 }); // warm
    const t0 = performance.now();
    for (const p of EVAL_PROMPTS) plain.set(p, (await generate(tiny.model, tiny.tokenizer, p, { temperature: 0, maxTokens: 100 })).tokens);
    plainMs = performance.now() - t0;
  });
  afterAll(() => {
    fast.free();
    tiny.model.free();
  });

  const V = 2048;
  const makers: [string, () => Drafter & { free?(): void }][] = [
    ["early-exit-1 chain", () => earlyExitDrafter(tiny.model, 1, { maxDepth: 8 })],
    ["fastdraft chain", () => new DraftModelDrafter({ model: fast, targetVocabSize: V, maxDepth: 8, name: "fastdraft" })],
    [
      "early-exit-1 RSD-C [3,2,2,1,1,1]",
      () => new RsdDrafter({ model: tiny.model.derive({ layers: 1 }), targetVocabSize: V, branching: [3, 2, 2, 1, 1, 1], ownsModel: true }),
    ],
    ["fastdraft RSD-C [3,2,2,1,1,1]", () => new RsdDrafter({ model: fast, targetVocabSize: V, branching: [3, 2, 2, 1, 1, 1] })],
    ["fastdraft RSD-S (W 3, depth 6)", () => new RsdDrafter({ model: fast, targetVocabSize: V, method: "stochastic-beam", beamWidth: 3, maxDepth: 6 })],
    ["early-exit-1 DySpec", () => new DySpecDrafter({ model: tiny.model.derive({ layers: 1 }), targetVocabSize: V, maxDepth: 8, ownsModel: true })],
    ["fastdraft DySpec", () => new DySpecDrafter({ model: fast, targetVocabSize: V, maxDepth: 8 })],
  ];

  it("greedy with each drafter equals plain greedy over a dozen prompts; MAT per drafter", async () => {
    const rows: Row[] = [];
    for (const [name, make] of makers) {
      const drafter = make();
      const row: Row = { name, mat: 0, proposed: 0, draftMs: 0, verifyMs: 0, tokens: 0, wallMs: 0 };
      let steps = 0;
      let accepted = 0;
      const t0 = performance.now();
      for (const prompt of EVAL_PROMPTS) {
        const r = await generate(tiny.model, tiny.tokenizer, prompt, { temperature: 0, maxTokens: 100, drafter, draftBudget: 16 });
        expect(r.tokens, `${name}: ${prompt}`).toEqual(plain.get(prompt));
        const s = r.stats.speculative;
        if (!s) throw new Error("no speculative stats");
        steps += s.steps;
        accepted += s.accepted;
        row.proposed += s.proposed;
        row.draftMs += s.draftMs;
        row.verifyMs += s.verifyMs;
        row.tokens += r.tokens.length;
      }
      row.wallMs = performance.now() - t0;
      row.mat = (accepted + steps) / steps;
      row.proposed /= steps;
      rows.push(row);
      drafter.free?.();
    }
    console.log(`TinyStories-656K greedy, ${EVAL_PROMPTS.length} prompts × 100 tokens, budget 16 (plain greedy: ${plainMs.toFixed(0)} ms)`);
    console.table(
      rows.map((r) => ({
        drafter: r.name,
        MAT: +r.mat.toFixed(3),
        "nodes/step": +r.proposed.toFixed(1),
        "draft ms": +r.draftMs.toFixed(0),
        "verify ms": +r.verifyMs.toFixed(0),
        "wall ms": +r.wallMs.toFixed(0),
      })),
    );
    const mat = (n: string) => rows.find((r) => r.name === n)?.mat ?? 0;
    expect(mat("fastdraft chain")).toBeGreaterThan(1.3);
    expect(mat("fastdraft chain")).toBeGreaterThan(mat("early-exit-1 chain"));
    for (const r of rows) expect(r.mat, r.name).toBeGreaterThan(1);
  });

  it("sampling at temperature 1: MAT per drafter (lossless by construction; checked by chi-square on small models)", async () => {
    const rows: { drafter: string; MAT: number }[] = [];
    for (const [name, make] of makers) {
      const drafter = make();
      let steps = 0;
      let accepted = 0;
      for (const [i, prompt] of EVAL_PROMPTS.slice(0, 6).entries()) {
        const r = await generate(tiny.model, tiny.tokenizer, prompt, { temperature: 1, seed: 100 + i, maxTokens: 100, drafter, draftBudget: 16 });
        const s = r.stats.speculative;
        if (!s) throw new Error("no speculative stats");
        steps += s.steps;
        accepted += s.accepted;
      }
      rows.push({ drafter: name, MAT: +((accepted + steps) / steps).toFixed(3) });
      drafter.free?.();
    }
    console.log("TinyStories-656K sampling at temperature 1, 6 prompts × 100 tokens, budget 16");
    console.table(rows);
    for (const r of rows) expect(r.MAT, r.drafter).toBeGreaterThan(1);
  });
});
