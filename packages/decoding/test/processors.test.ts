import { describe, expect, it } from "vitest";
import { DecodingOptionsError } from "../src/errors";
import {
  applyProcessors,
  buildProcessors,
  frequencyPresenceProcessor,
  logitBiasProcessor,
  minPProcessor,
  repetitionPenaltyProcessor,
  type SamplingOptions,
  temperatureProcessor,
  tokenMaskProcessor,
  topKProcessor,
  topPProcessor,
  typicalPProcessor,
  validateSamplingOptions,
} from "../src/processors";

const NEG = Number.NEGATIVE_INFINITY;

// --- independent reference: arrays of {id, p} objects sorted with comparators ---

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random float32 logits; `tieStep` quantises them so cut-offs fall on ties; some are -Infinity. */
function randomLogits(n: number, seed: number, tieStep = 0): Float32Array {
  const r = lcg(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = (r() - 0.5) * 12;
    if (tieStep > 0) v = Math.round(v / tieStep) * tieStep;
    x[i] = r() < 0.05 ? NEG : v;
  }
  return x;
}

function refProbs(x: ArrayLike<number>): number[] {
  const vals = Array.from(x);
  const m = Math.max(...vals);
  const e = vals.map((v) => (v === NEG ? 0 : Math.exp(v - m)));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** ranked by `key` ascending, ties by lower id */
function ranked(n: number, key: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => (key(a) === key(b) ? a - b : key(a) < key(b) ? -1 : 1));
}

function maskExcept(x: Float32Array, keep: Iterable<number>): Float32Array {
  const k = new Set(keep);
  return Float32Array.from(x, (v, i) => (k.has(i) ? v : NEG));
}

function refTopK(x: Float32Array, k: number): Float32Array {
  return maskExcept(x, ranked(x.length, (i) => -x[i]).slice(0, k));
}

function refTopP(x: Float32Array, p: number): Float32Array {
  const pr = refProbs(x);
  const order = ranked(x.length, (i) => -pr[i]);
  const keep: number[] = [];
  let before = 0;
  for (const i of order) {
    if (before >= p) break;
    keep.push(i);
    before += pr[i];
  }
  return maskExcept(x, keep);
}

function refMinP(x: Float32Array, mp: number): Float32Array {
  const pr = refProbs(x);
  const top = Math.max(...pr);
  return Float32Array.from(x, (v, i) => (pr[i] >= mp * top ? v : NEG));
}

function refTypical(x: Float32Array, mass: number): Float32Array {
  const pr = refProbs(x);
  const ent = pr.reduce((h, q) => (q > 0 ? h - q * Math.log(q) : h), 0);
  const live = ranked(x.length, (i) => (pr[i] > 0 ? Math.abs(Math.log(pr[i]) + ent) : Number.POSITIVE_INFINITY)).filter((i) => pr[i] > 0);
  const keep: number[] = [];
  let before = 0;
  for (const i of live) {
    if (before >= mass) break;
    keep.push(i);
    before += pr[i];
  }
  return maskExcept(x, keep);
}

function run(p: (l: Float32Array, c: readonly number[]) => void, x: Float32Array, ctx: readonly number[] = []): Float32Array {
  const y = Float32Array.from(x);
  p(y, ctx);
  return y;
}

function finiteCount(x: Float32Array): number {
  return x.filter((v) => v !== NEG).length;
}

const SEEDS = Array.from({ length: 25 }, (_, i) => i + 1);

describe("warpers against a sort-based reference", () => {
  it("topK on random logits, with and without ties", () => {
    for (const seed of SEEDS) {
      for (const tie of [0, 0.5]) {
        const x = randomLogits(64, seed, tie);
        for (const k of [1, 2, 5, 17, 63]) expect(run(topKProcessor(k), x)).toEqual(refTopK(x, k));
      }
    }
  });

  it("topP on random logits, with and without ties", () => {
    for (const seed of SEEDS) {
      for (const tie of [0, 1]) {
        const x = randomLogits(80, seed, tie);
        for (const p of [1e-6, 0.1, 0.5, 0.9, 0.99]) expect(run(topPProcessor(p), x)).toEqual(refTopP(x, p));
      }
    }
  });

  it("minP on random logits", () => {
    for (const seed of SEEDS) {
      const x = randomLogits(80, seed, seed % 2 ? 0.25 : 0);
      for (const mp of [0.01, 0.05, 0.3, 1]) expect(run(minPProcessor(mp), x)).toEqual(refMinP(x, mp));
    }
  });

  it("typicalP on random logits", () => {
    for (const seed of SEEDS) {
      const x = randomLogits(80, seed);
      for (const m of [0.05, 0.2, 0.5, 0.95]) expect(run(typicalPProcessor(m), x)).toEqual(refTypical(x, m));
    }
  });

  it("typicalP prefers tokens near the entropy, not the most likely one", () => {
    // the argmax holds ~0.29 of the mass, 49 others share the rest: the entropy is closer to
    // their surprisal (|−log p − H| = a·Δ for them, (1 − a)·Δ for the argmax, a < 0.5)
    const x = new Float32Array(50).fill(0);
    x[7] = 3;
    const y = run(typicalPProcessor(0.001), x);
    expect(y[7]).toBe(NEG);
    expect(finiteCount(y)).toBe(1);
  });
});

describe("warper edge cases", () => {
  it("keeps at least one token and breaks ties towards the lower id", () => {
    const flat = new Float32Array(10).fill(1.5);
    expect(Array.from(run(topKProcessor(3), flat)).map((v) => v !== NEG)).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(finiteCount(run(topPProcessor(1e-9), flat))).toBe(1);
    expect(run(topPProcessor(1e-9), flat)[0]).toBe(1.5);
    expect(finiteCount(run(minPProcessor(1), flat))).toBe(10);
    // four equal tokens, p = 0.5 reached exactly after two: the third is dropped (HF's ≤ 1 − p cut)
    expect(finiteCount(run(topPProcessor(0.5), new Float32Array(4)))).toBe(2);
    expect(finiteCount(run(typicalPProcessor(0.5), new Float32Array(4)))).toBe(2);
    const g = run(temperatureProcessor(0), Float32Array.from([0, 3, 3, 1]));
    expect(Array.from(g)).toEqual([NEG, 3, NEG, NEG]);
  });

  it("topK ≥ vocabulary and topP = 1 change nothing", () => {
    const x = randomLogits(30, 9);
    expect(run(topKProcessor(30), x)).toEqual(x);
    expect(run(topKProcessor(1000), x)).toEqual(x);
    expect(run(topPProcessor(1), x)).toEqual(x);
    expect(run(typicalPProcessor(1), x)).toEqual(x);
  });

  it("temperature divides", () => {
    expect(Array.from(run(temperatureProcessor(2), Float32Array.from([2, -4, NEG])))).toEqual([1, -2, NEG]);
  });
});

describe("penalties, bias and masks", () => {
  it("repetition penalty divides positive and multiplies negative logits, once per distinct token", () => {
    const x = Float32Array.from([2, -2, 3, -1, 4]);
    const y = run(repetitionPenaltyProcessor(2), x, [0, 1, 0, 0, 1, 3]);
    expect(Array.from(y)).toEqual([1, -4, 3, -2, 4]);
  });

  it("frequency and presence penalties count occurrences, optionally from an offset", () => {
    const x = new Float32Array(4);
    expect(Array.from(run(frequencyPresenceProcessor(0.5, 1), x, [1, 1, 1, 2]))).toEqual([0, -2.5, -1.5, 0]);
    // from = 2: only [1, 2] are counted
    expect(Array.from(run(frequencyPresenceProcessor(0.5, 1, 2), x, [1, 1, 1, 2]))).toEqual([0, -1.5, -1.5, 0]);
  });

  it("logit bias adds and -Infinity bans; Map and Record are the same", () => {
    const x = Float32Array.from([1, 1, 1]);
    expect(Array.from(run(logitBiasProcessor({ 0: 2, 2: NEG }, 3), x))).toEqual([3, 1, NEG]);
    expect(Array.from(run(logitBiasProcessor(new Map([[1, -0.5]]), 3), x))).toEqual([1, 0.5, 1]);
  });

  it("masks keep allowed minus banned", () => {
    const x = Float32Array.from([1, 2, 3, 4, 5]);
    expect(Array.from(run(tokenMaskProcessor({ allowed: [1, 3, 4], banned: [4] }, 5), x))).toEqual([NEG, 2, NEG, 4, NEG]);
    expect(Array.from(run(tokenMaskProcessor({ banned: new Set([0]) }, 5), x))).toEqual([NEG, 2, 3, 4, 5]);
  });
});

describe("buildProcessors", () => {
  it("no options → no processors", () => {
    expect(buildProcessors({}, 10)).toEqual([]);
    expect(buildProcessors({ temperature: 1, topP: 1, topK: 0, minP: 0, repetitionPenalty: 1 }, 10)).toEqual([]);
  });

  it("applies the chain in HF order (penalty, bias, mask, temperature, top-k, top-p, min-p, typical)", () => {
    for (const seed of SEEDS) {
      const x = randomLogits(60, seed);
      const ctx = [3, 3, 5, 7, 11, 3];
      const opts: SamplingOptions = {
        repetitionPenalty: 1.3,
        frequencyPenalty: 0.2,
        presencePenalty: 0.1,
        logitBias: { 4: 2, 5: -1 },
        bannedTokens: [0, 1],
        temperature: 0.7,
        topK: 30,
        topP: 0.95,
        minP: 0.02,
        typicalP: 0.9,
      };
      // reference chain written out step by step
      let ref: Float32Array = Float32Array.from(x);
      for (const id of new Set(ctx)) ref[id] = ref[id] < 0 ? ref[id] * 1.3 : ref[id] / 1.3;
      const count = new Map<number, number>();
      for (const id of ctx) count.set(id, (count.get(id) ?? 0) + 1);
      for (const [id, c] of count) ref[id] -= 0.2 * c + 0.1;
      ref[4] += 2;
      ref[5] -= 1;
      ref[0] = NEG;
      ref[1] = NEG;
      ref = ref.map((v) => v / 0.7);
      ref = refTypical(refMinP(refTopP(refTopK(ref, 30), 0.95), 0.02), 0.9);

      const y = Float32Array.from(x);
      applyProcessors(buildProcessors(opts, 60), y, ctx);
      expect(y).toEqual(ref);
    }
  });

  it("temperature 0 leaves only the argmax after penalties", () => {
    const x = Float32Array.from([5, 4, 1]);
    const y = Float32Array.from(x);
    applyProcessors(buildProcessors({ temperature: 0, repetitionPenalty: 2, topP: 0.5 }, 3), y, [0]);
    expect(Array.from(y)).toEqual([NEG, 4, NEG]);
  });
});

describe("validation", () => {
  const bad: [string, SamplingOptions][] = [
    ["temperature", { temperature: -0.1 }],
    ["temperature", { temperature: Number.NaN }],
    ["temperature", { temperature: Number.POSITIVE_INFINITY }],
    ["topK", { topK: 2.5 }],
    ["topK", { topK: -1 }],
    ["topP", { topP: 0 }],
    ["topP", { topP: 1.01 }],
    ["topP", { topP: Number.NaN }],
    ["minP", { minP: -0.1 }],
    ["minP", { minP: 1.5 }],
    ["typicalP", { typicalP: 0 }],
    ["repetitionPenalty", { repetitionPenalty: 0 }],
    ["repetitionPenalty", { repetitionPenalty: -1 }],
    ["frequencyPenalty", { frequencyPenalty: Number.NaN }],
    ["presencePenalty", { presencePenalty: Number.POSITIVE_INFINITY }],
    ["logitBias", { logitBias: { 10: 1 } }],
    ["logitBias", { logitBias: new Map([[-1, 1]]) }],
    ["logitBias", { logitBias: { 1.5: 1 } }],
    ["logitBias[2]", { logitBias: { 2: Number.POSITIVE_INFINITY } }],
    ["allowedTokens", { allowedTokens: [3, 10] }],
    ["bannedTokens", { bannedTokens: [0.5] }],
    ["allowedTokens is empty", { allowedTokens: [] }],
    ["exclude every token", { allowedTokens: [1, 2], bannedTokens: [2, 1] }],
    ["exclude every token", { bannedTokens: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }],
    ["exclude every token", { allowedTokens: [1, 2], bannedTokens: [1], logitBias: { 2: NEG } }],
  ];
  for (const [name, opts] of bad) {
    it(`rejects ${JSON.stringify(opts, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v instanceof Map ? [...v] : v))}`, () => {
      expect(() => validateSamplingOptions(opts, 10)).toThrow(DecodingOptionsError);
      expect(() => buildProcessors(opts, 10)).toThrow(name);
    });
  }

  it("accepts the boundaries", () => {
    expect(() =>
      validateSamplingOptions({ temperature: 0, topK: 0, topP: 1, minP: 0, typicalP: 1, logitBias: { 9: NEG }, allowedTokens: [9, 8], bannedTokens: [9] }, 10),
    ).not.toThrow();
  });

  it("factories validate too", () => {
    expect(() => topKProcessor(0)).toThrow(DecodingOptionsError);
    expect(() => topPProcessor(2)).toThrow(DecodingOptionsError);
    expect(() => temperatureProcessor(-1)).toThrow(DecodingOptionsError);
    expect(() => tokenMaskProcessor({ allowed: [1], banned: [1] }, 3)).toThrow(DecodingOptionsError);
    expect(() => logitBiasProcessor({ 3: 1 }, 3)).toThrow(DecodingOptionsError);
  });
});
