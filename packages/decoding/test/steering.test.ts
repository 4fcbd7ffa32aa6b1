import { describe, expect, it } from "vitest";
import { DecodingOptionsError } from "../src/errors";
import { optimalSteeringStrength, steeringProcessor, steeringVectorFromDistributions } from "../src/steering";
import { loadTinyStories } from "./shared";

// --- independent helpers: plain number[] arithmetic ---

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function randLogits(n: number, seed: number, spread = 6): number[] {
  const r = lcg(seed);
  return Array.from({ length: n }, () => (r() - 0.5) * spread);
}

function probsOf(z: ArrayLike<number>): number[] {
  const a = Array.from(z);
  const m = Math.max(...a);
  const e = a.map((x) => Math.exp(x - m));
  const s = e.reduce((x, y) => x + y, 0);
  return e.map((x) => x / s);
}

/** KL(q ‖ softmax(z)) */
function klTo(q: number[], z: ArrayLike<number>): number {
  const r = probsOf(z);
  return q.reduce((acc, qi, i) => (qi > 0 ? acc + qi * Math.log(qi / r[i]) : acc), 0);
}

function shifted(z: ArrayLike<number>, d: ArrayLike<number>, mu: number): number[] {
  return Array.from(z, (x, i) => x + mu * d[i]);
}

/** argmin of a unimodal f on [a, b] by golden-section search */
function golden(f: (x: number) => number, a: number, b: number): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  for (let i = 0; i < 200; i++) {
    if (f(c) < f(d)) b = d;
    else a = c;
    c = b - g * (b - a);
    d = a + g * (b - a);
  }
  return (a + b) / 2;
}

describe("steeringProcessor", () => {
  it("strength 0 changes nothing", () => {
    const z = Float32Array.from(randLogits(50, 1));
    const y = Float32Array.from(z);
    steeringProcessor(Float32Array.from(randLogits(50, 2)), 0, 50)(y, []);
    expect(y).toEqual(z);
  });

  it("adds strength × vector, keeps −∞ and takes a per-step vector from the context", () => {
    const y = Float32Array.from([1, 2, Number.NEGATIVE_INFINITY]);
    steeringProcessor(Float32Array.from([0.5, -1, 3]), 2)(y, []);
    expect(Array.from(y)).toEqual([2, 0, Number.NEGATIVE_INFINITY]);
    const seen: number[][] = [];
    const dyn = steeringProcessor((ctx) => {
      seen.push([...ctx]);
      return Float32Array.from([ctx.length, 0]);
    }, 0.5);
    const w = new Float32Array(2);
    dyn(w, [7, 8, 9]);
    expect(Array.from(w)).toEqual([1.5, 0]);
    expect(seen).toEqual([[7, 8, 9]]);
  });

  it("rejects a wrong length, a non-finite strength or vector", () => {
    const v = new Float32Array(10);
    expect(() => steeringProcessor(v, 1, 11)).toThrow(DecodingOptionsError);
    expect(() => steeringProcessor(v, 1)(new Float32Array(11), [])).toThrow(DecodingOptionsError);
    expect(() => steeringProcessor((() => new Float32Array(3)) as (c: readonly number[]) => Float32Array, 1)(new Float32Array(4), [])).toThrow(
      DecodingOptionsError,
    );
    expect(() => steeringProcessor(v, Number.NaN)).toThrow(DecodingOptionsError);
    expect(() => steeringProcessor(v, Number.POSITIVE_INFINITY)).toThrow(DecodingOptionsError);
    expect(() => steeringProcessor(Float32Array.from([0, Number.NaN]), 1)).toThrow(DecodingOptionsError);
    expect(() => steeringProcessor([1, 2] as unknown as Float32Array, 1)).toThrow(DecodingOptionsError);
  });
});

describe("steering vector and strength", () => {
  it("the vector is softmax(tuned) − softmax(base) = −∇_z KL(q ‖ softmax(z)) (finite differences)", () => {
    for (const seed of [3, 4, 5]) {
      const base = randLogits(40, seed);
      const tuned = randLogits(40, seed + 100);
      const d = steeringVectorFromDistributions(base, tuned);
      const p = probsOf(base);
      const q = probsOf(tuned);
      for (let i = 0; i < 40; i++) expect(d[i]).toBeCloseTo(q[i] - p[i], 6);
      // central differences of the KL, in float64, entry by entry
      const h = 1e-5;
      for (let i = 0; i < 40; i++) {
        const up = base.slice();
        const dn = base.slice();
        up[i] += h;
        dn[i] -= h;
        const grad = (klTo(q, up) - klTo(q, dn)) / (2 * h);
        expect(d[i]).toBeCloseTo(-grad, 5);
      }
    }
  });

  it("a small step along the vector lowers the KL to the target at rate ‖δ‖²", () => {
    for (const seed of [6, 7, 8, 9]) {
      const base = randLogits(60, seed);
      const tuned = randLogits(60, seed + 50);
      const q = probsOf(tuned);
      const d = steeringVectorFromDistributions(base, tuned);
      const k0 = klTo(q, base);
      const norm2 = Array.from(d).reduce((s, x) => s + x * x, 0);
      for (const mu of [1e-3, 1e-2, 0.1]) {
        const y = Float32Array.from(base);
        steeringProcessor(d, mu)(y, []);
        const k = klTo(q, y);
        expect(k).toBeLessThan(k0);
        if (mu === 1e-3) expect((k0 - k) / mu).toBeCloseTo(norm2, 2);
      }
      // the opposite direction moves away
      const away = Float32Array.from(base);
      steeringProcessor(d, -0.1)(away, []);
      expect(klTo(q, away)).toBeGreaterThan(k0);
    }
  });

  it("the closed-form strength is ‖δ‖² / Var_p(δ); the exact method reaches the minimiser", () => {
    for (const seed of [10, 11, 12, 13]) {
      const base = randLogits(80, seed);
      const tuned = randLogits(80, seed + 7, 3);
      const q = probsOf(tuned);
      const p = probsOf(base);
      const d = Array.from(steeringVectorFromDistributions(base, tuned));
      const norm2 = d.reduce((s, x) => s + x * x, 0);
      const mean = d.reduce((s, x, i) => s + p[i] * x, 0);
      const varP = d.reduce((s, x, i) => s + p[i] * x * x, 0) - mean * mean;
      const gn = optimalSteeringStrength(base, d, tuned, { method: "gauss-newton" });
      expect(gn).toBeCloseTo(norm2 / varP, 4);
      const exact = optimalSteeringStrength(base, d, tuned);
      const f = (mu: number) => klTo(q, shifted(base, d, mu));
      const ref = golden(f, 0, 10 * Math.max(gn, 1));
      expect(Math.abs(exact - ref)).toBeLessThan(1e-3 * Math.max(1, ref));
      expect(f(exact)).toBeLessThanOrEqual(f(ref) + 1e-12);
      expect(f(exact)).toBeLessThanOrEqual(f(gn) + 1e-12);
      expect(f(exact)).toBeLessThan(f(0));
      console.log(
        `seed ${seed}: KL(q‖p) ${f(0).toFixed(4)} → ${f(gn).toFixed(4)} at Gauss-Newton μ=${gn.toFixed(3)}, ${f(exact).toFixed(4)} at exact μ=${exact.toFixed(3)}`,
      );
    }
  });

  it("removes most of the KL when the target is the base with one logit raised", () => {
    const base = randLogits(30, 21);
    const tuned = base.slice();
    tuned[4] += 2;
    const d = steeringVectorFromDistributions(base, tuned);
    const mu = optimalSteeringStrength(base, d, tuned);
    const q = probsOf(tuned);
    // δ is not parallel to e_4, so the KL stays above 0, but most of it is gone
    expect(klTo(q, shifted(base, d, mu))).toBeLessThan(0.1 * klTo(q, base));
  });

  it("minProb zeroes the entries neither distribution makes plausible", () => {
    const base = [5, 0, -5, -6];
    const tuned = [0, 5, -6, -5];
    const d = steeringVectorFromDistributions(base, tuned, { minProb: 0.01 });
    const p = probsOf(base);
    const q = probsOf(tuned);
    expect(d[0]).toBeCloseTo(q[0] - p[0], 6);
    expect(d[1]).toBeCloseTo(q[1] - p[1], 6);
    expect(Array.from(d.slice(2))).toEqual([0, 0]);
  });

  it("rejects mismatched lengths and bad options", () => {
    expect(() => steeringVectorFromDistributions([1, 2], [1, 2, 3])).toThrow(DecodingOptionsError);
    expect(() => steeringVectorFromDistributions([1, 2], [1, 2], { minProb: 2 })).toThrow(DecodingOptionsError);
    expect(() => optimalSteeringStrength([1, 2], [1], [1, 2])).toThrow(DecodingOptionsError);
    expect(() => optimalSteeringStrength([1, 2], [1, 0], [1, 2], { method: "newton" as "exact" })).toThrow(DecodingOptionsError);
    expect(optimalSteeringStrength([1, 2], [0, 0], [2, 1])).toBe(0);
  });
});

describe("steering TinyStories-656K's next-token distribution", () => {
  it("moves the model's distribution towards a target on real logits", async () => {
    const { model, tokenizer } = await loadTinyStories();
    model.reset();
    const prompt = [tokenizer.bosId as number, ...tokenizer.encode("Once upon a time, there was a little")];
    const base = Array.from(model.prefill(prompt).logits);
    // the target: the same context with its 4th most likely token strongly preferred
    const boosted = Array.from(base.keys()).sort((a, b) => base[b] - base[a])[3];
    const tuned = base.slice();
    tuned[boosted] += 3;
    const q = probsOf(tuned);
    const d = steeringVectorFromDistributions(base, tuned);
    const mu = optimalSteeringStrength(base, d, tuned);
    const y = Float32Array.from(base);
    steeringProcessor(d, mu, model.config.vocabSize)(y, prompt);
    const before = klTo(q, base);
    const after = klTo(q, y);
    const pBefore = probsOf(base)[boosted];
    const pAfter = probsOf(y)[boosted];
    console.log(
      `TinyStories: KL to target ${before.toFixed(4)} → ${after.toFixed(4)} (μ=${mu.toFixed(2)}); p("${tokenizer.decode([boosted])}") ${pBefore.toFixed(4)} → ${pAfter.toFixed(4)} (target ${q[boosted].toFixed(4)})`,
    );
    expect(after).toBeLessThan(0.5 * before);
    expect(pAfter).toBeGreaterThan(pBefore);
  });
});
