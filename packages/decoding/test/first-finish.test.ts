/**
 * First Finish Search on the real TinyStories model: the returned sample finished, it is
 * the first to do so, and the batched run (one stepBatch per step for all samples) picks
 * the same tokens with the same log-probabilities as decoding each sample alone.
 */
import type { LoadedModel } from "@edgespec/models";
import { beforeAll, describe, expect, it } from "vitest";
import { DecodingOptionsError } from "../src/errors";
import { firstFinishSearch } from "../src/first-finish";
import { loadTinyStories } from "./shared";

describe("first finish search", () => {
  let tiny: LoadedModel;
  let prompt: number[];
  beforeAll(async () => {
    tiny = await loadTinyStories();
    prompt = [1, ...tiny.tokenizer.encode("Tom had a red ball. He")];
  });

  it("returns a finished sample, the first to finish, equal to the sequential reference", () => {
    const { model } = tiny;
    const opts = { n: 6, maxTokens: 200, seed: 3, temperature: 1.0, topK: 40 };
    const batched = firstFinishSearch(model, prompt, opts);
    const sequential = firstFinishSearch(model, prompt, { ...opts, sequential: true });
    expect(batched.sample.finished).toBe(true);
    const steps = batched.sample.tokens.length;
    // nobody finished earlier; every sample ran as far as the winner
    for (const [i, s] of batched.samples.entries()) {
      expect(s.tokens.length).toBe(steps);
      if (i < batched.winner) expect(s.finished).toBe(false);
    }
    // with six samples at least one other is still running when the winner ends
    expect(batched.samples.filter((s) => !s.finished).length).toBeGreaterThan(0);
    expect(sequential.winner).toBe(batched.winner);
    expect(sequential.sample.tokens).toEqual(batched.sample.tokens);
    for (let i = 0; i < opts.n; i++) {
      const a = batched.samples[i];
      const b = sequential.samples[i];
      const common = Math.min(a.tokens.length, b.tokens.length);
      expect(common).toBeGreaterThanOrEqual(steps);
      expect(b.tokens.slice(0, common)).toEqual(a.tokens.slice(0, common));
      for (let t = 0; t < common; t++) expect(Math.abs(a.logprobs[t] - b.logprobs[t])).toBeLessThan(1e-3);
    }
    // one row per running sample per step after the shared prompt
    expect(batched.stats.forwardRows).toBe(prompt.length + opts.n * Math.min(steps, opts.maxTokens - 1));
    // the sequential reference ran every sample to its end or to the winner's length
    expect(sequential.stats.forwardRows).toBeGreaterThan(batched.stats.forwardRows - 1);
  });

  it("the same seed reproduces the run, another seed changes it", () => {
    const { model } = tiny;
    const a = firstFinishSearch(model, prompt, { n: 3, maxTokens: 40, seed: 9 });
    const b = firstFinishSearch(model, prompt, { n: 3, maxTokens: 40, seed: 9 });
    const c = firstFinishSearch(model, prompt, { n: 3, maxTokens: 40, seed: 10 });
    expect(b.samples).toEqual(a.samples);
    expect(c.samples.map((s) => s.tokens)).not.toEqual(a.samples.map((s) => s.tokens));
  });

  it("refuses bad options before decoding", () => {
    const { model } = tiny;
    expect(() => firstFinishSearch(model, prompt, { n: 0, maxTokens: 5 })).toThrow(DecodingOptionsError);
    expect(() => firstFinishSearch(model, prompt, { n: 2, maxTokens: 5, temperature: 0 })).toThrow(/identical/);
    expect(() => firstFinishSearch(model, prompt, { n: 2, maxTokens: 5, topP: 1.5 })).toThrow(/topP/);
    expect(() => firstFinishSearch(model, prompt, { n: 2, maxTokens: 5000 })).toThrow(/context length/);
    expect(() => firstFinishSearch(model, [], { n: 2, maxTokens: 5 })).toThrow(/empty/);
  });
});
