/**
 * generate() on a model whose backend reads asynchronously only (WebGPU's contract; here a
 * wasm backend whose sync reads throw): greedy, sampled and speculative text must be token
 * for token what a model read synchronously gives. The searches that run synchronously
 * refuse such a model by name, and generate() refuses one without async twins.
 */
import { type LlamaModel, type LoadedModel, loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { createBackend } from "@edgespec/runtime";
import { beforeAll, describe, expect, it } from "vitest";
import { asyncOnly } from "../../models/test/async-only";
import { beamSearch } from "../src/beam";
import { DecodingOptionsError } from "../src/errors";
import { exactExtract } from "../src/exact-extract";
import { firstFinishSearch } from "../src/first-finish";
import { type GenerateOptions, generate } from "../src/generate";
import type { CausalLM, TreeVerifyingLM } from "../src/model";
import { momentumDecode } from "../src/momentum";
import type { DraftContext, Drafter, DraftTree } from "../src/speculative/drafter";
import { ScriptedModel } from "./scripted-model";
import { sharedDir } from "./shared";

/** The model's sync methods only: what generate() did before async twins existed. */
function syncOnly(m: LlamaModel): TreeVerifyingLM {
  return {
    config: m.config,
    contextLength: m.contextLength,
    get length() {
      return m.length;
    },
    prefill: (t, o) => m.prefill(t, o),
    step: (t) => m.step(t),
    rollback: (n) => m.rollback(n),
    reset: () => m.reset(),
    verify: (t, p) => m.verify(t, p),
    commit: (p) => m.commit(p),
  };
}

/** Prompt lookup: the tokens that followed the last earlier occurrence of the context's last two tokens, as a chain. */
class LookupDrafter implements Drafter {
  readonly name = "test-lookup";
  proposed = 0;
  constructor(readonly vocabSize: number) {}
  begin(): void {}
  propose(ctx: DraftContext): DraftTree {
    const t = ctx.tokens;
    const n = t.length;
    const tokens: number[] = [];
    for (let i = n - 3; i >= 1 && tokens.length === 0; i--) {
      if (t[i - 1] !== t[n - 2] || t[i] !== t[n - 1]) continue;
      for (let j = i + 1; j < n && tokens.length < ctx.budget; j++) tokens.push(t[j]);
    }
    this.proposed += tokens.length;
    return { tokens, parents: tokens.map((_, i) => i - 1), mode: "deterministic" };
  }
  observe(): void {}
}

const PROMPT = "Once upon a time, there was a little girl named Lily. She";

describe("generate with a model that reads asynchronously only (TinyStories-656K)", () => {
  let plain: LoadedModel;
  let gpuLike: LoadedModel;
  beforeAll(async () => {
    const source = () => resolveModelSource(sharedDir("models", "tinystories-656k"));
    plain = await loadCausalLM(await source());
    gpuLike = await loadCausalLM(await source(), { backend: asyncOnly(await createBackend("wasm")) });
    expect(gpuLike.model.syncRead).toBe(false);
    expect(() => gpuLike.model.step(1)).toThrow(/use stepAsync/);
  });

  const cases: [string, GenerateOptions][] = [
    ["greedy", { temperature: 0, maxTokens: 60 }],
    ["sampled", { temperature: 0.9, topP: 0.95, seed: 11, maxTokens: 60 }],
    ["sampled with a repetition penalty", { temperature: 0.7, repetitionPenalty: 1.2, seed: 3, maxTokens: 40 }],
  ];

  it.each(cases)("%s: the same tokens as the sync methods give", async (_, opts) => {
    const want = await generate(syncOnly(plain.model), plain.tokenizer, PROMPT, opts);
    const got = await generate(gpuLike.model, gpuLike.tokenizer, PROMPT, opts);
    expect(got.tokens.length).toBeGreaterThan(10);
    expect(got.tokens).toEqual(want.tokens);
    expect(got.text).toBe(want.text);
    expect(got.logprobs).toEqual(want.logprobs);
  });

  it.each(cases)("%s, speculative: the same tokens as plain sync decoding, with drafts accepted", async (_, opts) => {
    const want = await generate(syncOnly(plain.model), plain.tokenizer, PROMPT, opts);
    for (const draftBudget of [4, undefined]) {
      const drafter = new LookupDrafter(gpuLike.model.config.vocabSize);
      const got = await generate(gpuLike.model, gpuLike.tokenizer, PROMPT, { ...opts, drafter, draftBudget });
      expect(got.tokens).toEqual(want.tokens);
      expect(got.text).toBe(want.text);
      const spec = got.stats.speculative;
      expect(spec?.steps).toBeGreaterThan(0);
      if (opts.temperature === 0) expect(spec?.accepted).toBeGreaterThan(0);
    }
  });

  it("a model that reads synchronously keeps its sync methods (what wrappers override), speculative too", async () => {
    const m = new Proxy(plain.model, {
      get(target, prop, receiver) {
        if (prop === "prefillAsync" || prop === "stepAsync" || prop === "verifyAsync")
          return () => {
            throw new Error(`${String(prop)} used on a model that reads synchronously`);
          };
        return Reflect.get(target, prop, receiver);
      },
    });
    const want = await generate(syncOnly(plain.model), plain.tokenizer, PROMPT, cases[0][1]);
    expect((await generate(m, plain.tokenizer, PROMPT, cases[0][1])).tokens).toEqual(want.tokens);
    const drafter = new LookupDrafter(m.config.vocabSize);
    expect((await generate(m, plain.tokenizer, PROMPT, { ...cases[0][1], drafter })).tokens).toEqual(want.tokens);
  });

  it("the synchronous searches refuse it by name, before any forward", () => {
    const m = gpuLike.model;
    const ids = [1, ...gpuLike.tokenizer.encode(PROMPT)];
    const before = m.length;
    const refused: [string, () => unknown][] = [
      ["beamSearch", () => beamSearch(m, ids, { beams: 2, maxTokens: 4 })],
      ["firstFinishSearch", () => firstFinishSearch(m, ids, { n: 2, maxTokens: 4 })],
      ["momentumDecode", () => momentumDecode(m, ids, { maxTokens: 4 })],
      ["exactExtract", () => exactExtract(m, ids, ids.slice(1, 5))],
    ];
    for (const [name, call] of refused) {
      expect(call, name).toThrow(DecodingOptionsError);
      expect(call, name).toThrow(new RegExp(`^${name} reads logits synchronously.*asynchronously.*use generate\\(\\)`));
    }
    expect(m.length).toBe(before);
  });
});

describe("generate refuses an async-only model it cannot read", () => {
  it("without prefillAsync / stepAsync", () => {
    const m: CausalLM = Object.assign(new ScriptedModel(8, [3, 4], 0), { syncRead: false });
    expect(() => generate(m, { encode: () => [1] } as never, "x")).toThrow(/reads logits asynchronously only.*no prefillAsync \/ stepAsync/);
  });

  it("with a drafter but without verifyAsync", () => {
    const base = new ScriptedModel(8, [3, 4], 0);
    const m = Object.assign(base, {
      syncRead: false,
      prefillAsync: async (t: readonly number[]) => base.prefill(t),
      stepAsync: async (t: number) => base.step(t),
      verify: () => ({ logits: new Float32Array(8), rows: 1 }),
      commit: () => {},
    });
    const drafter = new LookupDrafter(8);
    expect(() => generate(m, { encode: () => [1], eosIds: [0], decode: () => "" } as never, "x", { drafter })).toThrow(/needs the model's verifyAsync/);
  });
});
