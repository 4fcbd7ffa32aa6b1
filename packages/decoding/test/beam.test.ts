/**
 * Beam search against exhaustive search on a real (random-weight) Llama whose vocabulary is
 * small enough to enumerate every sequence, and Diverse Beam Search's groups.
 */

import type { LlamaModel } from "@edgespec/models";
import { beforeAll, describe, expect, it } from "vitest";
import { beamSearch } from "../src/beam";
import { DecodingOptionsError } from "../src/errors";
import { tinyRandomLlama } from "./tiny-model";

const EOS = 0;

interface Scored {
  tokens: number[];
  logprob: number;
  score: number;
}

/**
 * Every sequence of at most maxTokens tokens: ones that end with EOS, and ones cut at
 * maxTokens. Scored with the model's own sequence, one fresh prefill per prefix (no batching,
 * no beams), sum of log-softmax in float64 over length^alpha.
 */
function exhaustive(model: LlamaModel, prompt: number[], maxTokens: number, alpha: number): Scored[] {
  const V = model.config.vocabSize;
  const out: Scored[] = [];
  const walk = (prefix: number[], logprob: number) => {
    model.reset();
    const logits = model.prefill([...prompt, ...prefix]).logits;
    let max = -Infinity;
    for (const x of logits) max = Math.max(max, x);
    let sum = 0;
    for (const x of logits) sum += Math.exp(x - max);
    const lse = max + Math.log(sum);
    for (let v = 0; v < V; v++) {
      const lp = logprob + (logits[v] - lse);
      const tokens = [...prefix, v];
      if (v === EOS || tokens.length === maxTokens) out.push({ tokens, logprob: lp, score: lp / tokens.length ** alpha });
      else walk(tokens, lp);
    }
  };
  walk([], 0);
  return out.sort((a, b) => b.score - a.score);
}

describe("beam search", () => {
  let model: LlamaModel;
  beforeAll(async () => {
    model = await tinyRandomLlama({ vocab: 4, seed: 11, scale: 1.5 });
  });

  for (const alpha of [1, 0, 2]) {
    it(`equals exhaustive search when the beam holds every prefix (lengthPenalty ${alpha})`, () => {
      const prompt = [1, 2, 3];
      const maxTokens = 3;
      const all = exhaustive(model, prompt, maxTokens, alpha);
      expect(all.length).toBe(1 + 3 + 9 + 27);
      // 4 tokens, 3 of them continue: at most 9 live prefixes, 36 candidates per step
      const r = beamSearch(model, prompt, { beams: 36, maxTokens, lengthPenalty: alpha, earlyStopping: "never", numReturn: 10, endIds: [EOS] });
      expect(r.hypotheses[0].tokens).toEqual(all[0].tokens);
      expect(r.hypotheses[0].score).toBeCloseTo(all[0].score, 4);
      expect(r.hypotheses.map((h) => h.tokens)).toEqual(all.slice(0, 10).map((s) => s.tokens));
      for (const [i, h] of r.hypotheses.entries()) expect(h.logprob).toBeCloseTo(all[i].logprob, 4);
    });
  }

  it("a narrow beam finds a hypothesis no better than exhaustive search's best, with one batched row per beam", () => {
    const prompt = [3, 1];
    const all = exhaustive(model, prompt, 4, 1);
    const r = beamSearch(model, prompt, { beams: 2, maxTokens: 4, endIds: [EOS], numReturn: 2 });
    expect(r.hypotheses.length).toBe(2);
    expect(r.hypotheses[0].score).toBeLessThanOrEqual(all[0].score + 1e-9);
    expect(r.hypotheses[0].score).toBeGreaterThanOrEqual(r.hypotheses[1].score);
    // the scores of the returned hypotheses are the exhaustive scores of the same sequences
    for (const h of r.hypotheses) {
      const same = all.find((s) => s.tokens.join() === h.tokens.join());
      expect(same, `hypothesis ${h.tokens}`).toBeDefined();
      expect(h.score).toBeCloseTo(same?.score ?? Number.NaN, 4);
    }
    expect(r.stats.forwardRows).toBeLessThanOrEqual(prompt.length + 2 * 4);
  });

  it("greedy search is beam search with one beam", () => {
    const prompt = [2, 3, 1];
    const r = beamSearch(model, prompt, { beams: 1, maxTokens: 6, endIds: [EOS] });
    model.reset();
    let logits = model.prefill(prompt).logits;
    const greedy: number[] = [];
    for (let i = 0; i < 6; i++) {
      let best = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
      greedy.push(best);
      if (best === EOS) break;
      logits = model.step(best);
    }
    expect(r.hypotheses[0].tokens).toEqual(greedy);
  });

  it("diverse beam search: groups differ, and the same options reproduce the same output", async () => {
    const big = await tinyRandomLlama({ vocab: 50, seed: 5, scale: 1 });
    const prompt = [7, 8, 9];
    const opts = { beams: 6, groups: 3, diversityPenalty: 2, maxTokens: 8, endIds: [EOS], numReturn: 6 };
    const a = beamSearch(big, prompt, opts);
    const b = beamSearch(big, prompt, opts);
    expect(a.hypotheses).toEqual(b.hypotheses);
    const tops = a.groups.map((g) => g[0].tokens.join(","));
    expect(new Set(tops).size).toBe(3);
    // the diversity term makes later groups avoid the first group's tokens at each step
    expect(a.groups[1][0].tokens[0]).not.toBe(a.groups[0][0].tokens[0]);
    // without the penalty, groups collapse onto the same best beams
    const plain = beamSearch(big, prompt, { ...opts, diversityPenalty: 0 });
    expect(new Set(plain.groups.map((g) => g[0].tokens.join(","))).size).toBe(1);
    big.free();
  });

  it("refuses contradictory options before decoding", () => {
    const p = [1, 2];
    expect(() => beamSearch(model, p, { beams: 0, maxTokens: 3 })).toThrow(DecodingOptionsError);
    expect(() => beamSearch(model, p, { beams: 4, groups: 3, maxTokens: 3 })).toThrow(/multiple of groups/);
    expect(() => beamSearch(model, p, { beams: 2, maxTokens: 3, diversityPenalty: 1 })).toThrow(/groups > 1/);
    expect(() => beamSearch(model, p, { beams: 2, maxTokens: 3, numReturn: 3 })).toThrow(/numReturn/);
    expect(() => beamSearch(model, p, { beams: 2, maxTokens: 3, temperature: 0.7 } as never)).toThrow(/deterministic/);
    expect(() => beamSearch(model, p, { beams: 2, maxTokens: 100 })).toThrow(/context length/);
    expect(() => beamSearch(model, p, { beams: 2, maxTokens: 3, endIds: [9] })).toThrow(/outside the vocabulary/);
  });
});
