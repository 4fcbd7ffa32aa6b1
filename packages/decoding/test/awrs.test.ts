/**
 * Adaptive Weighted Rejection Sampling: it checks far fewer tokens than full masking on real
 * TinyStories-656K decoding; with fixed seeds its draws follow the masked distribution
 * (chi-square goodness of fit against p restricted to the allowed set), its weights are an
 * unbiased estimate of the allowed mass Z and properly weight the draws (E[w f(x)] = sum of
 * p f over the allowed set); and its errors.
 */
import type { LoadedModel } from "@edgespec/models";
import { beforeAll, describe, expect, it } from "vitest";
import { type ConstraintState, TokenConstraint } from "../src/constrained/index";
import { awrsSample, type ConstrainedDraw, maskedSample } from "../src/constrained/sample";
import { ConstraintError } from "../src/errors";
import { type Rng, seededRng } from "../src/rng";
import { softmax } from "../src/sampling";
import { BytesTokenizer } from "./bytes-tokenizer";
import { loadTinyStories } from "./shared";
import { chiSquare, chiSquarePValue } from "./stats";

// ---- a small byte vocabulary ----

/** EOS (id 0) and 159 distinct strings of 1-3 letters a-j. */
function smallVocab(): BytesTokenizer {
  const rng = seededRng(42);
  const pieces = new Set<string>();
  while (pieces.size < 159) {
    const n = 1 + Math.floor(rng() * 3);
    let s = "";
    for (let i = 0; i < n; i++) s += "abcdefghij"[Math.floor(rng() * 10)];
    pieces.add(s);
  }
  return new BytesTokenizer([null, ...pieces], [0]);
}

function gaussianLogits(n: number, scale: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng()));
}

/** p restricted to the allowed set, normalised, and Z = p(allowed). */
function maskedTarget(c: TokenConstraint, state: ConstraintState, logits: Float32Array): { q: Map<number, number>; z: number } {
  const p = softmax(logits);
  const mask = c.mask(state);
  let z = 0;
  for (let t = 0; t < p.length; t++) if (mask[t]) z += p[t];
  const q = new Map<number, number>();
  for (let t = 0; t < p.length; t++) if (mask[t] && p[t] > 0) q.set(t, p[t] / z);
  return { q, z };
}

function drawMany(n: number, seed: number, sample: (rng: Rng) => ConstrainedDraw) {
  const rng = seededRng(seed);
  const counts = new Map<number, number>();
  const draws: ConstrainedDraw[] = [];
  for (let i = 0; i < n; i++) {
    const d = sample(rng);
    counts.set(d.token, (counts.get(d.token) ?? 0) + 1);
    draws.push(d);
  }
  return { counts, draws };
}

function meanAndSe(xs: number[]): { mean: number; se: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, se: Math.sqrt(variance / xs.length) };
}

const N = 20000;

describe("chi-square p-values", () => {
  it("match the table", () => {
    expect(chiSquarePValue(3.841458820694124, 1)).toBeCloseTo(0.05, 6);
    expect(chiSquarePValue(18.307038053275146, 10)).toBeCloseTo(0.05, 6);
    expect(chiSquarePValue(124.34211340400407, 100)).toBeCloseTo(0.05, 6);
    // df = 3 in closed form: 2 (1 - Φ(√x)) + √(2x/π) e^(-x/2)
    expect(chiSquarePValue(0.5, 3)).toBeCloseTo(0.918891, 5);
  });
});

describe("AWRS follows the masked distribution, with unbiased, proper weights (N = 20000, fixed seeds)", () => {
  const tok = smallVocab();
  const scenarios: { name: string; pattern: string; prefix: number[]; scale: number; offset: number }[] = [
    { name: "about half the mass allowed", pattern: "[a-e][a-j]*", prefix: [], scale: 2, offset: 0 },
    { name: "little mass allowed (allowed tokens pushed down by 3 nats)", pattern: "[ab][a-j]*", prefix: [], scale: 1.5, offset: -3 },
    { name: "accepting state: EOS competes with text", pattern: "[a-f]{1,4}", prefix: [1], scale: 1, offset: 0 },
  ];
  for (const sc of scenarios) {
    it(sc.name, () => {
      const c = TokenConstraint.regex(sc.pattern, tok);
      let state = c.initial();
      for (const t of sc.prefix) state = c.advance(state, t) as ConstraintState;
      const logits = gaussianLogits(tok.vocabSize, sc.scale, seededRng(3));
      const allowed = c.mask(state);
      for (let t = 0; t < logits.length; t++) if (allowed[t]) logits[t] += sc.offset;
      const { q, z } = maskedTarget(c, state, logits);

      const awrs = drawMany(N, 1234, (rng) => awrsSample(c, state, logits, rng));
      const fit = chiSquare(awrs.counts, q, N);
      console.log(`AWRS ${sc.name}: Z = ${z.toFixed(4)}, chi2 = ${fit.stat.toFixed(1)}, df = ${fit.df}, p = ${fit.p.toFixed(4)}`);
      expect(fit.p).toBeGreaterThan(0.001);

      const masked = drawMany(N, 1234, (rng) => maskedSample(c, state, logits, rng));
      const maskedFit = chiSquare(masked.counts, q, N);
      console.log(`masked ${sc.name}: chi2 = ${maskedFit.stat.toFixed(1)}, df = ${maskedFit.df}, p = ${maskedFit.p.toFixed(4)}`);
      expect(maskedFit.p).toBeGreaterThan(0.001);
      // full masking's weight is Z itself
      for (const d of masked.draws.slice(0, 10)) expect(Math.exp(d.logWeight)).toBeCloseTo(z, 6);

      // unbiased: E[w] = Z
      const w = awrs.draws.map((d) => Math.exp(d.logWeight));
      const { mean, se } = meanAndSe(w);
      console.log(`AWRS ${sc.name}: mean weight ${mean.toFixed(4)} ± ${se.toFixed(4)} vs Z ${z.toFixed(4)}`);
      expect(Math.abs(mean - z)).toBeLessThan(4 * se + 1e-12);
      // properly weighted: E[w 1(x in S)] = p(S) for S = the allowed tokens with an even id
      const p = softmax(logits);
      let pS = 0;
      for (const t of q.keys()) if (t % 2 === 0) pS += p[t];
      const ws = awrs.draws.map((d, i) => (d.token % 2 === 0 ? w[i] : 0));
      const weighted = meanAndSe(ws);
      expect(Math.abs(weighted.mean - pS)).toBeLessThan(4 * weighted.se + 1e-12);

      // lazy: far fewer checks than the vocabulary
      const perDraw = awrs.draws.reduce((a, d) => a + d.checks, 0) / N;
      console.log(`AWRS ${sc.name}: ${perDraw.toFixed(2)} checks per draw (vocabulary ${tok.vocabSize})`);
      expect(perDraw).toBeLessThan(tok.vocabSize / 2);
    });
  }

  it("with maxRejections, a long rejection run ends in the full mask: still the masked distribution, still unbiased", () => {
    const c = TokenConstraint.regex("[ab][a-j]*", tok);
    const s = c.initial();
    const logits = gaussianLogits(tok.vocabSize, 1.5, seededRng(3));
    const mask = c.mask(s);
    for (let t = 0; t < logits.length; t++) if (mask[t]) logits[t] -= 3;
    const { q, z } = maskedTarget(c, s, logits);
    const { counts, draws } = drawMany(N, 77, (rng) => awrsSample(c, s, logits, rng, { maxRejections: 3 }));
    const fit = chiSquare(counts, q, N);
    const w = meanAndSe(draws.map((d) => Math.exp(d.logWeight)));
    console.log(
      `AWRS maxRejections 3: chi2 = ${fit.stat.toFixed(1)}, df = ${fit.df}, p = ${fit.p.toFixed(4)}; mean weight ${w.mean.toFixed(5)} ± ${w.se.toFixed(5)} vs Z ${z.toFixed(5)}`,
    );
    expect(fit.p).toBeGreaterThan(0.001);
    expect(Math.abs(w.mean - z)).toBeLessThan(4 * w.se + 1e-12);
    // the mask is cached after the first fallback: at most 3 rejections and 1 acceptance, plus the y check
    expect(Math.max(...draws.slice(1).map((d) => d.checks))).toBeLessThanOrEqual(5);
    expect(() => awrsSample(c, s, logits, seededRng(1), { maxRejections: -1 })).toThrow(/maxRejections must be >= 0/);
  });

  it("a token with -Infinity logit is never drawn; when no allowed token has mass the error says so", () => {
    const c = TokenConstraint.regex("[a-e][a-j]*", tok);
    const s = c.initial();
    const mask = c.mask(s);
    const logits = gaussianLogits(tok.vocabSize, 1, seededRng(8));
    const banned = [...mask.keys()].filter((t) => mask[t]).slice(0, 20);
    for (const t of banned) logits[t] = Number.NEGATIVE_INFINITY;
    const { counts } = drawMany(2000, 5, (rng) => awrsSample(c, s, logits, rng));
    for (const t of banned) expect(counts.has(t)).toBe(false);
    for (let t = 0; t < logits.length; t++) if (mask[t]) logits[t] = Number.NEGATIVE_INFINITY;
    expect(() => awrsSample(c, s, logits, seededRng(1))).toThrow(ConstraintError);
    expect(() => awrsSample(c, s, logits, seededRng(1))).toThrow(/every token the constraint allows after the text "" \(automaton state 0\) has probability 0/);
    expect(() => maskedSample(c, s, logits, seededRng(1))).toThrow(/has probability 0/);
    expect(() => awrsSample(c, s, new Float32Array(3), seededRng(1))).toThrow(/logits have 3 entries but the constraint's vocabulary has 160/);
  });

  it("when everything is allowed, a draw costs two checks and weighs exactly 1", () => {
    const c = TokenConstraint.regex("[a-j]*", new BytesTokenizer(["a", "b", "c", "d"], []));
    const logits = Float32Array.of(0, 1, 2, 3);
    const { draws } = drawMany(100, 2, (rng) => awrsSample(c, c.initial(), logits, rng));
    for (const d of draws) {
      expect(d.checks).toBe(2);
      expect(d.logWeight).toBeCloseTo(0, 12);
    }
  });
});

describe("AWRS on TinyStories-656K decoding", () => {
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadTinyStories();
  });

  /** Constrained sampling for `steps` tokens per seed; the total checks and steps. */
  function run(c: TokenConstraint, sample: typeof awrsSample, seeds: number[], steps: number) {
    const { model, tokenizer } = loaded;
    let total = 0;
    let checks = 0;
    const texts: string[] = [];
    for (const seed of seeds) {
      const rng = seededRng(seed);
      model.reset();
      let logits = model.prefill([1, ...tokenizer.encode("Once upon a time,")]).logits;
      let state = c.initial();
      const tokens: number[] = [];
      for (let i = 0; i < steps && !c.isFinished(state); i++) {
        const d = sample(c, state, logits, rng);
        checks += d.checks;
        total++;
        state = c.advance(state, d.token) as ConstraintState;
        if (tokenizer.eosIds.includes(d.token)) break;
        tokens.push(d.token);
        logits = model.step(d.token);
      }
      texts.push(c.text(tokens));
    }
    return { steps: total, checks, texts };
  }

  it.each([
    ["no letter e (a lipogram)", "[^eE\\n]{1,400}", 50],
    ["no digits or newlines", "[^0-9\\n]{1,400}", 50],
    ["a sentence of lower-case words", "[A-Z][a-z]{2,8}( [a-z]{1,8}){2,5}[.!]", 20],
  ])("%s: AWRS checks far fewer tokens than full masking", (_, pattern, minRatio) => {
    const seeds = [0, 1, 2, 3, 4];
    const awrs = run(TokenConstraint.regex(pattern, loaded.tokenizer), awrsSample, seeds, 48);
    const masked = run(TokenConstraint.regex(pattern, loaded.tokenizer), maskedSample, seeds, 48);
    const fullMasking = loaded.tokenizer.vocabSize * awrs.steps;
    const ratio = fullMasking / awrs.checks;
    console.log(
      `${pattern}: AWRS ${awrs.checks} checks in ${awrs.steps} steps (${(awrs.checks / awrs.steps).toFixed(1)} per token); full masking ${fullMasking} (2048 × steps), ratio ${ratio.toFixed(0)}×; masked run with its per-state cache: ${masked.checks} checks in ${masked.steps} steps`,
    );
    for (const t of awrs.texts) expect(new RegExp(`^(?:${pattern})$`, "u").test(t), t).toBe(true);
    expect(ratio).toBeGreaterThanOrEqual(minRatio);
    expect(masked.checks / masked.steps).toBeGreaterThan((10 * awrs.checks) / awrs.steps);
  });

  it("on the model's own next-token logits, AWRS draws fit the masked distribution (lipogram, N = 20000)", () => {
    const { model, tokenizer } = loaded;
    const c = TokenConstraint.regex("[^eE\\n]{1,400}", tokenizer);
    model.reset();
    const logits = model.prefill([1, ...tokenizer.encode("Once upon a time, there was a little")]).logits;
    const s = c.initial();
    const { q, z } = maskedTarget(c, s, logits);
    const before = c.checks;
    const { counts, draws } = drawMany(N, 99, (rng) => awrsSample(c, s, logits, rng));
    const fit = chiSquare(counts, q, N);
    const w = meanAndSe(draws.map((d) => Math.exp(d.logWeight)));
    console.log(
      `TinyStories lipogram: Z = ${z.toFixed(4)}, chi2 = ${fit.stat.toFixed(1)}, df = ${fit.df}, p = ${fit.p.toFixed(4)}; mean weight ${w.mean.toFixed(4)} ± ${w.se.toFixed(4)}; ${((c.checks - before) / N).toFixed(2)} checks per draw`,
    );
    expect(fit.p).toBeGreaterThan(0.001);
    expect(Math.abs(w.mean - z)).toBeLessThan(4 * w.se);
  });
});
