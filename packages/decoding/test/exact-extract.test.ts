import type { Tokenizer } from "@edgespec/models";
import { beforeAll, describe, expect, it } from "vitest";
import { DecodingOptionsError } from "../src/errors";
import { exactExtract, exactExtractText } from "../src/exact-extract";
import type { CausalLM } from "../src/model";
import { loadTinyStories } from "./shared";

let model: CausalLM;
let tok: Tokenizer;

beforeAll(async () => {
  const loaded = await loadTinyStories();
  model = loaded.model;
  tok = loaded.tokenizer;
});

const PROMPT = "Lily had a big red ball. She played with it in the park every day.\nQuestion: What did Lily play with?\nAnswer:";
const PASSAGE = "Lily went to the park with her mom. She took her red ball and her doll. They had fun all day.";

function promptIds(): number[] {
  return [tok.bosId as number, ...tok.encode(PROMPT)];
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

/** Score of one span, token by token with step(), from a fresh cache: another code path than exactExtract's. */
function bruteScore(prompt: number[], span: number[], endIds: number[]): number {
  model.reset();
  let logits = model.prefill(prompt).logits;
  let lp = 0;
  for (const t of span) {
    const lse = logSumExp(Array.from(logits));
    lp += logits[t] - lse;
    logits = model.step(t);
  }
  const lse = logSumExp(Array.from(logits));
  return lp + logSumExp(endIds.map((e) => logits[e])) - lse;
}

function bruteBest(prompt: number[], passage: number[], endIds: number[], maxLen = passage.length) {
  let best = { start: -1, end: -1, logprob: Number.NEGATIVE_INFINITY };
  const all = new Map<string, number>();
  for (let i = 0; i < passage.length; i++)
    for (let j = i + 1; j <= Math.min(passage.length, i + maxLen); j++) {
      const s = bruteScore(prompt, passage.slice(i, j), endIds);
      all.set(`${i}:${j}`, s);
      if (s > best.logprob) best = { start: i, end: j, logprob: s };
    }
  return { best, all };
}

/** exactExtract's score of every span, through onSpan */
function spanScores(prompt: number[], passage: number[], opts: Parameters<typeof exactExtract>[3] = {}) {
  const all = new Map<string, number>();
  const best = exactExtract(model, prompt, passage, { ...opts, onSpan: (i, j, lp) => all.set(`${i}:${j}`, lp) });
  return { best, all };
}

function expectSameScores(got: Map<string, number>, want: Map<string, number>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, v] of want) expect(Math.abs((got.get(k) as number) - v), k).toBeLessThan(1e-3);
}

describe("exactExtract on TinyStories-656K", () => {
  it("finds the same most probable span as scoring every span separately", () => {
    const p = promptIds();
    const passage = tok.encode(PASSAGE);
    expect(passage.length).toBeGreaterThanOrEqual(15);
    expect(passage.length).toBeLessThanOrEqual(30);
    const { best, all } = bruteBest(p, passage, [2]);
    // the best must be a clear winner for the argmax comparison to be meaningful
    const sorted = [...all.values()].sort((a, b) => b - a);
    expect(sorted[0] - sorted[1]).toBeGreaterThan(1e-3);
    const { best: got, all: scores } = spanScores(p, passage);
    // every one of the n(n+1)/2 spans, not just the winner
    expect(scores.size).toBe((passage.length * (passage.length + 1)) / 2);
    expectSameScores(scores, all);
    expect({ start: got.start, end: got.end }).toEqual({ start: best.start, end: best.end });
    expect(Math.abs(got.logprob - best.logprob)).toBeLessThan(1e-3);
    expect(got.tokens).toEqual(passage.slice(best.start, best.end));
    console.log(
      `exact-extract: "${tok.decode(got.tokens)}" tokens [${got.start}, ${got.end}) of ${passage.length}, logprob ${got.logprob.toFixed(4)}; runner-up ${sorted[1].toFixed(4)}`,
    );
  });

  it("respects maxSpanTokens and custom end ids", () => {
    const p = promptIds();
    const passage = tok.encode(PASSAGE);
    const period = tok.encode("Lily.").at(-1) as number;
    for (const [maxLen, endIds] of [
      [1, [2]],
      [3, [2]],
      [4, [period]],
      [2, [2, period]],
    ] as [number, number[]][]) {
      const { best, all } = bruteBest(p, passage, endIds, maxLen);
      const { best: got, all: scores } = spanScores(p, passage, { maxSpanTokens: maxLen, endIds });
      expectSameScores(scores, all);
      expect(got.end - got.start).toBeLessThanOrEqual(maxLen);
      expect({ start: got.start, end: got.end }).toEqual({ start: best.start, end: best.end });
      expect(Math.abs(got.logprob - best.logprob)).toBeLessThan(1e-3);
    }
  });

  it("ties go to the earlier start, then the shorter span", () => {
    // a model whose every distribution is uniform: a span of length L scores −(L + 1)·log V
    const uniform: CausalLM = {
      config: { vocabSize: 8, eosTokenIds: [0] },
      contextLength: 100,
      length: 0,
      prefill: (tokens, o) => ({ logits: new Float32Array(8 * (o?.allLogits ? tokens.length : 1)), rows: o?.allLogits ? tokens.length : 1 }),
      step: () => new Float32Array(8),
      rollback: () => {},
      reset: () => {},
    };
    const got = exactExtract(uniform, [1], [3, 4, 5, 6]);
    expect(got).toMatchObject({ start: 0, end: 1, tokens: [3] });
    expect(got.logprob).toBeCloseTo(-2 * Math.log(8), 12);
  });

  it("a one-token passage has one span", () => {
    const p = promptIds();
    const one = tok.encode("ball").slice(-1);
    const got = exactExtract(model, p, one);
    expect(got).toMatchObject({ start: 0, end: 1, tokens: one });
    expect(Math.abs(got.logprob - bruteScore(p, one, [2]))).toBeLessThan(1e-3);
  });

  it("exactExtractText tokenizes the passage once and returns the span's text", () => {
    const r = exactExtractText(model, tok, PROMPT, PASSAGE, { maxSpanTokens: 6 });
    expect(r.passageIds).toEqual(tok.encode(PASSAGE));
    expect(r.tokens).toEqual(r.passageIds.slice(r.start, r.end));
    expect(r.text).toBe(tok.decode(r.tokens));
    expect(PASSAGE).toContain(r.text.trim());
    const direct = exactExtract(model, promptIds(), r.passageIds, { maxSpanTokens: 6 });
    expect(direct.logprob).toBeCloseTo(r.logprob, 6);
  });

  it("reports progress, honours abort and leaves the model holding the prompt", () => {
    const p = promptIds();
    const passage = tok.encode(PASSAGE);
    const seen: [number, number][] = [];
    exactExtract(model, p, passage, { maxSpanTokens: 2, onProgress: (d, t) => seen.push([d, t]) });
    expect(seen).toEqual(passage.map((_, i) => [i + 1, passage.length]));
    expect(model.length).toBe(p.length);
    const ac = new AbortController();
    expect(() =>
      exactExtract(model, p, passage, {
        signal: ac.signal,
        onProgress: (d) => {
          if (d === 3) ac.abort(new Error("stop here"));
        },
      }),
    ).toThrow("stop here");
  });

  it("rejects bad input before decoding", () => {
    const p = promptIds();
    const passage = tok.encode(PASSAGE);
    expect(() => exactExtract(model, p, [])).toThrow(DecodingOptionsError);
    expect(() => exactExtract(model, [], passage)).toThrow(DecodingOptionsError);
    expect(() => exactExtract(model, p, passage, { maxSpanTokens: 0 })).toThrow(DecodingOptionsError);
    expect(() => exactExtract(model, p, passage, { maxSpanTokens: 1.5 })).toThrow(DecodingOptionsError);
    expect(() => exactExtract(model, p, passage, { endIds: [] })).toThrow(DecodingOptionsError);
    expect(() => exactExtract(model, p, passage, { endIds: [4096] })).toThrow(DecodingOptionsError);
    expect(() => exactExtract(model, p, [1, -3])).toThrow(DecodingOptionsError);
    expect(() => exactExtract(model, p, new Array(600).fill(5))).toThrow(DecodingOptionsError);
    expect(() => exactExtractText(model, tok, PROMPT, "")).toThrow(DecodingOptionsError);
  });
});
