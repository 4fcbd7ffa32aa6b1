/**
 * generate(): streaming, stop strings, stop ids, abort, chat prompts, seeds and stats, on the
 * real TinyStories model and on a scripted model whose tokens are known in advance.
 */
import { readFileSync } from "node:fs";
import { HfTokenizer, type LoadedModel } from "@edgespec/models";
import { beforeAll, describe, expect, it } from "vitest";
import { TokenConstraint } from "../src/constrained/index";
import { DecodingOptionsError } from "../src/errors";
import { type GeneratedToken, generate } from "../src/generate";
import { ScriptedModel } from "./scripted-model";
import { loadTinyStories, sharedDir } from "./shared";

async function collect(it: AsyncIterable<GeneratedToken>): Promise<GeneratedToken[]> {
  const out: GeneratedToken[] = [];
  for await (const t of it) out.push(t);
  return out;
}

describe("generate on TinyStories-656K", () => {
  let tiny: LoadedModel;
  beforeAll(async () => {
    tiny = await loadTinyStories();
  });

  it("greedy generation equals a plain argmax loop, streamed and awaited alike", async () => {
    const { model, tokenizer } = tiny;
    const prompt = "Once upon a time";
    const ids = [1, ...tokenizer.encode(prompt)];
    model.reset();
    let logits = model.prefill(ids).logits;
    const want: number[] = [];
    for (let i = 0; i < 40; i++) {
      let best = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
      if (best === 2) break;
      want.push(best);
      logits = model.step(best);
    }
    const result = await generate(model, tokenizer, prompt, { temperature: 0, maxTokens: 40 });
    expect(result.tokens).toEqual(want);
    const items = await collect(generate(model, tokenizer, prompt, { temperature: 0, maxTokens: 40 }));
    expect(items.map((t) => t.token)).toEqual(want);
    expect(items.map((t) => t.text).join("")).toBe(result.text);
    // the text is what decoding the whole sequence adds to the prompt's text
    expect(result.text).toBe(tokenizer.decode([...ids, ...want]).slice(tokenizer.decode(ids).length));
    for (const t of items) expect(t.logprob).toBeLessThanOrEqual(0);
    expect(result.stats.promptTokens).toBe(ids.length);
    expect(result.stats.generatedTokens).toBe(want.length);
    expect(result.stats.tokensPerSecond).toBeGreaterThan(0);
    expect(result.stats.timeToFirstTokenMs).toBeGreaterThanOrEqual(result.stats.prefillMs);
  });

  it("a seed reproduces sampled text; another seed changes it", async () => {
    const { model, tokenizer } = tiny;
    const opts = { temperature: 0.9, topK: 50, topP: 0.95, maxTokens: 60 };
    const a = await generate(model, tokenizer, "The cat", { ...opts, seed: 42 });
    const b = await generate(model, tokenizer, "The cat", { ...opts, seed: 42 });
    const c = await generate(model, tokenizer, "The cat", { ...opts, seed: 43 });
    expect(b.text).toBe(a.text);
    expect(b.tokens).toEqual(a.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
  });

  it("stops before a stop string, and the stream never shows any of it", async () => {
    const { model, tokenizer } = tiny;
    const free = await generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 80 });
    // a stop string that begins mid-way through the greedy text
    const words = free.text.split(" ");
    const stop = ` ${words[6]} ${words[7]}`;
    const cut = free.text.indexOf(stop);
    expect(cut).toBeGreaterThan(0);
    const items = await collect(generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 80, stop: [stop, "never-appears"] }));
    const streamed = items.map((t) => t.text).join("");
    expect(streamed).toBe(free.text.slice(0, cut));
    const r = await generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 80, stop });
    expect(r.finishReason).toBe("stop");
    expect(r.text).toBe(free.text.slice(0, cut));
  });

  it("stop ids end generation; EOS can be ignored", async () => {
    const { model, tokenizer } = tiny;
    const free = await generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 30 });
    const stopAt = free.tokens[5];
    const r = await generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 30, stopIds: [stopAt] });
    expect(r.finishReason).toBe("eos");
    expect(r.tokens).toEqual(free.tokens.slice(0, free.tokens.indexOf(stopAt)));
    const long = await generate(model, tokenizer, "The end.", { temperature: 0, maxTokens: 300, ignoreEos: true });
    expect(long.tokens.length).toBe(300);
    expect(long.finishReason).toBe("length");
  });

  it("an AbortSignal ends generation with the tokens so far", async () => {
    const { model, tokenizer } = tiny;
    const ac = new AbortController();
    const g = generate(model, tokenizer, "Once upon a time", { temperature: 0.8, maxTokens: 400, ignoreEos: true, signal: ac.signal });
    let n = 0;
    for await (const _ of g) if (++n === 5) ac.abort();
    const r = await g;
    expect(r.finishReason).toBe("abort");
    expect(r.tokens.length).toBe(5);
  });

  it("a timer's abort is seen while decoding runs", async () => {
    const { model, tokenizer } = tiny;
    const r = await generate(model, tokenizer, "Once upon a time", { maxTokens: 100000, ignoreEos: true, signal: AbortSignal.timeout(150) });
    expect(["abort", "context"]).toContain(r.finishReason);
  });

  it("breaking out of the iterator still delivers the result so far", async () => {
    const { model, tokenizer } = tiny;
    const g = generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 50 });
    let n = 0;
    for await (const _ of g) if (++n === 3) break;
    const r = await g;
    expect(r.tokens.length).toBe(3);
    expect(r.finishReason).toBe("abort");
  });

  it("contradictory options throw before any decoding starts", () => {
    const { model, tokenizer } = tiny;
    model.reset();
    model.prefill([1, 5, 6]);
    const bad = [
      { topP: 1.5 },
      { topP: 0 },
      { temperature: -1 },
      { topK: 2.5 },
      { maxTokens: -1 },
      { stop: [""] },
      { stopIds: [99999] },
      { seed: -3 },
      { logitBias: { 5000: 1 } },
    ];
    for (const o of bad) expect(() => generate(model, tokenizer, "x", o), JSON.stringify(o)).toThrow(DecodingOptionsError);
    expect(() => generate(model, tokenizer, [{ role: "user", content: "hi" }], {})).toThrow(/no chat template/);
    expect(() => generate(model, tokenizer, "x".repeat(3000), {})).toThrow(/context holds 512/);
    // a tokenizer from another checkpoint: 2048 ids on a 100-token model
    const other = new ScriptedModel(100, [], 2);
    expect(() => generate(other, tokenizer, "Once upon a time", {})).toThrow(/outside the model's vocabulary of 100/);
    // nothing ran: the model still holds what it held
    expect(model.length).toBe(3);
  });
});

describe("generate on a scripted model", () => {
  const mistral = () => {
    const dir = sharedDir("tokenizers", "mistral-minueza");
    const read = (f: string) => JSON.parse(readFileSync(`${dir}/${f}`, "utf8"));
    return new HfTokenizer(read("tokenizer.json"), read("tokenizer_config.json"));
  };
  /** what the script adds to the prompt's text, decoded as a whole */
  const continuation = (tokenizer: HfTokenizer, prompt: number[], script: number[]) =>
    tokenizer.decode([...prompt, ...script]).slice(tokenizer.decode(prompt).length);

  it("streams multi-byte characters whole, even when split over byte tokens", async () => {
    const tokenizer = mistral();
    const text = "naïve café: 猫 and 😀 𝄞 龘 ꙮ done";
    const script = tokenizer.encode(text);
    // 𝄞, 龘 and ꙮ are not in the vocabulary: byte-fallback tokens, several per character
    const byteTokens = script.filter(
      (id) => /^<0x[0-9A-F]{2}>$/.test(tokenizer.decode([id], { skipSpecial: false }).trim()) || tokenizer.decode([id]) === "\uFFFD",
    );
    expect(byteTokens.length).toBeGreaterThanOrEqual(10);
    const model = new ScriptedModel(tokenizer.vocabSize, script, tokenizer.eosIds[0]);
    const items = await collect(generate(model, tokenizer, "Hi", { temperature: 0, maxTokens: 200 }));
    expect(items.map((t) => t.token)).toEqual(script);
    for (const t of items) expect(t.text).not.toContain("\uFFFD");
    const joined = items.map((t) => t.text).join("");
    expect(joined).toBe(continuation(tokenizer, model.prefills[0], script));
    expect(joined).toContain("猫 and 😀 𝄞 龘 ꙮ");
  });

  it("a stop string split across tokens and ending the script is never shown", async () => {
    const tokenizer = mistral();
    const script = tokenizer.encode("one two three four");
    const model = new ScriptedModel(tokenizer.vocabSize, script, tokenizer.eosIds[0]);
    const r = await generate(model, tokenizer, "Hi", { temperature: 0, stop: "ee fo" });
    const full = continuation(tokenizer, model.prefills[0], script);
    expect(full.trim()).toBe("one two three four");
    expect(r.text).toBe(full.slice(0, full.indexOf("ee fo")));
    expect(r.finishReason).toBe("stop");
    // a held-back prefix of a stop string that never completes comes out at the end
    const r2 = await generate(model, tokenizer, "Hi", { temperature: 0, stop: "four five" });
    expect(r2.text).toBe(full);
    expect(r2.finishReason).toBe("eos");
  });

  it("chat messages are rendered with the tokenizer's chat template", async () => {
    const tokenizer = mistral();
    const messages = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Say hi" },
    ];
    const rendered = tokenizer.applyChatTemplate?.(messages, { addGenerationPrompt: true }) ?? "";
    expect(rendered).toContain("Say hi");
    const script = tokenizer.encode("Hi!");
    const model = new ScriptedModel(tokenizer.vocabSize, script, tokenizer.eosIds[0]);
    const r = await generate(model, tokenizer, messages, { temperature: 0 });
    const ids = tokenizer.encode(rendered);
    expect(model.prefills[0]).toEqual(ids[0] === tokenizer.bosId || !tokenizer.addBos ? ids : [tokenizer.bosId, ...ids]);
    expect(r.text).toBe(continuation(tokenizer, model.prefills[0], script));
    expect(r.text.trim()).toBe("Hi!");
  });
});

describe("generate with a steering vector", () => {
  it("shifts the output towards the vector; strength 0 changes nothing", async () => {
    const { model, tokenizer } = await loadTinyStories();
    const base = await generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 12 });
    // a vector that favours " dog": greedy text must pick it up as the strength grows
    const dog = tokenizer.encode("dog").at(-1) as number;
    const vector = new Float32Array(model.config.vocabSize);
    vector[dog] = 1;
    const zero = await generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 12, steering: { vector, strength: 0 } });
    expect(zero.tokens).toEqual(base.tokens);
    const steered = await generate(model, tokenizer, "Once upon a time", { temperature: 0, maxTokens: 12, steering: { vector, strength: 50 } });
    expect(steered.tokens[0]).toBe(dog);
    expect(() => generate(model, tokenizer, "x", { steering: { vector: new Float32Array(3), strength: 1 } })).toThrow(/3 entries/);
  });
});

describe("generate with a constraint", () => {
  it("every output matches the regex: greedy (mask), masked sampling and AWRS, with checks and weights reported", async () => {
    const { model, tokenizer } = await loadTinyStories();
    const pattern = "(Tom|Lily) (is|was) [a-z]+( [a-z]+){0,4}\\.";
    const c = TokenConstraint.regex(pattern, tokenizer);
    const re = new RegExp(`^(?:${pattern})$`, "u");
    const greedy = await generate(model, tokenizer, "Once upon a time", { temperature: 0, constraint: c, maxTokens: 60 });
    expect(greedy.text).toMatch(re);
    expect(["eos", "constraint"]).toContain(greedy.finishReason);
    for (let seed = 0; seed < 4; seed++) {
      const awrs = await generate(model, tokenizer, "Once upon a time", { temperature: 1, seed, constraint: c, maxTokens: 60 });
      expect(awrs.text, `awrs seed ${seed}`).toMatch(re);
      expect(awrs.logWeight).toBeLessThanOrEqual(0);
      expect(awrs.stats.constraintChecks).toBeGreaterThan(0);
      // lazily: far fewer checks than masking the 2048-token vocabulary at every step
      expect(awrs.stats.constraintChecks).toBeLessThan((2048 * (awrs.tokens.length + 1)) / 5);
      const masked = await generate(model, tokenizer, "Once upon a time", { temperature: 1, seed, constraint: c, constraintMethod: "mask", maxTokens: 60 });
      expect(masked.text, `mask seed ${seed}`).toMatch(re);
      expect(masked.logWeight).toBeUndefined();
    }
    expect(() => generate(model, tokenizer, "x", { constraint: c, constraintMethod: "all" as never })).toThrow(DecodingOptionsError);
  });
});

describe("end-of-text spelled out", () => {
  it("an EOS token's text written with ordinary tokens ends generation, unless EOS is ignored", async () => {
    const { tokenizer } = await loadTinyStories();
    // the end token's text spelled with ordinary pieces, as the model writes it
    const pieces = tokenizer.encode("The end.<|end_story|>And more");
    expect(pieces).not.toContain(2);
    const model = new ScriptedModel(tokenizer.vocabSize, pieces, 2);
    const r = await generate(model, tokenizer, "Hi", { temperature: 0 });
    expect(r.finishReason).toBe("stop");
    expect(r.text).not.toContain("<|");
    expect(r.text.trim()).toBe("The end.");
    const raw = await generate(model, tokenizer, "Hi", { temperature: 0, ignoreEos: true, maxTokens: pieces.length });
    expect(raw.text).toContain("<|end_story|>");
  });
});
