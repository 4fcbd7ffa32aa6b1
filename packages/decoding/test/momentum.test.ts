import type { Tokenizer } from "@edgespec/models";
import { beforeAll, describe, expect, it } from "vitest";
import { DecodingOptionsError } from "../src/errors";
import type { CausalLM } from "../src/model";
import { type MomentumOptions, momentumCandidates, momentumDecode } from "../src/momentum";
import { loadTinyStories } from "./shared";

// --- independent reference pieces (plain scans, no incremental index) ---

/** the authors' GPT2-XL resistance table at publication, f(0..5) */
const PAPER_F = [0, 1, 3, 4, 5, 5];

/** Longest n ≤ maxLoop such that context's last n−1 tokens + v occur as an earlier n-gram; 0 if v is new. */
function bruteLoop(ctx: readonly number[], v: number, maxLoop: number): number {
  if (!ctx.includes(v)) return 0;
  let best = 1;
  const seq = [...ctx, v];
  for (let n = 2; n <= maxLoop && n <= ctx.length + 1; n++) {
    const tail = seq.slice(seq.length - n).join(" ");
    for (let s = 0; s + n <= ctx.length; s++) if (ctx.slice(s, s + n).join(" ") === tail) best = n;
  }
  return best;
}

function probs(logits: Float32Array): number[] {
  const m = Math.max(...logits);
  const e = Array.from(logits, (x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

/** One step of the paper's rule: argmax over the top-k of p − α·f(L), written with a sort. */
function refStep(logits: Float32Array, ctx: readonly number[], k: number, alpha: number, f: number[], maxLoop: number): number {
  const p = probs(logits);
  const top = Array.from(p.keys())
    .sort((a, b) => p[b] - p[a] || a - b)
    .slice(0, k);
  const scored = top.map((t, rank) => ({ t, rank, s: p[t] - alpha * (f[bruteLoop(ctx, t, maxLoop)] ?? Number.POSITIVE_INFINITY) }));
  scored.sort((a, b) => b.s - a.s || a.rank - b.rank);
  return scored[0].t;
}

/** rep-n: the share of n-grams in `t` that repeat an earlier one (0 = none) */
function repN(t: readonly number[], n: number): number {
  const seen = new Set<string>();
  let total = 0;
  let dup = 0;
  for (let i = 0; i + n <= t.length; i++) {
    const key = t.slice(i, i + n).join(",");
    if (seen.has(key)) dup++;
    seen.add(key);
    total++;
  }
  return total === 0 ? 0 : dup / total;
}

/** A bigram "model": the next logits depend on the last token only, from a fixed table. */
class BigramLM implements CausalLM {
  readonly config: { vocabSize: number; eosTokenIds: number[] };
  readonly contextLength = 1000;
  private seq: number[] = [];
  constructor(
    private readonly table: Float32Array[],
    eos: number,
  ) {
    this.config = { vocabSize: table.length, eosTokenIds: [eos] };
  }
  get length(): number {
    return this.seq.length;
  }
  prefill(tokens: readonly number[]) {
    this.seq.push(...tokens);
    return { logits: Float32Array.from(this.table[this.seq[this.seq.length - 1]]), rows: 1 };
  }
  step(token: number): Float32Array {
    this.seq.push(token);
    return Float32Array.from(this.table[token]);
  }
  rollback(n: number): void {
    this.seq.length -= n;
  }
  reset(): void {
    this.seq = [];
  }
}

function randomTable(vocab: number, seed: number, spread: number): Float32Array[] {
  let s = seed;
  const r = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: vocab }, () => Float32Array.from({ length: vocab }, () => (r() - 0.5) * spread));
}

describe("momentum decoding on a hand-built graph", () => {
  // the authors' README example: prefix 1 2 3, then a loop 2 3 7 8 …
  const ctx = [1, 2, 3, 7, 8, 2, 3, 7];
  const logits = Float32Array.from([-1, 0.5, 1.0, 0.2, -3, -3, -3, -3, 3.0, 0.8]);

  it("loop lengths and scores follow p − α·f(L)", () => {
    const cands = momentumCandidates(logits, ctx);
    const p = probs(logits);
    // top-5 by probability: 8, 2, 9, 1, 3
    expect(cands.map((c) => c.token)).toEqual([8, 2, 9, 1, 3]);
    // 8 closes the 4-gram 2 3 7 8; 2 and 1 and 3 are old nodes with no repeated n-gram ≥ 2; 9 is new
    expect(cands.map((c) => c.loop)).toEqual([4, 1, 0, 1, 1]);
    for (const c of cands) {
      expect(c.loop).toBe(bruteLoop(ctx, c.token, 5));
      expect(c.prob).toBeCloseTo(p[c.token], 12);
      expect(c.score).toBeCloseTo(p[c.token] - 0.2 * PAPER_F[c.loop], 12);
    }
    // p(8) ≈ 0.62 − 0.2·5 < 0: momentum leaves the loop for the new node 9 (score p(9) ≈ 0.07)
    // even though 2 is more likely, because 2 is an old node (p(2) − 0.2 ≈ −0.05)
    const best = [...cands].sort((a, b) => b.score - a.score)[0];
    expect(best.token).toBe(9);
  });

  it("α, k, maxLoop and a custom resistance change the scores as the formula says", () => {
    const p = probs(logits);
    const f = (L: number) => L * L;
    const cands = momentumCandidates(logits, ctx, { alpha: 0.05, k: 3, maxLoop: 3, resistance: f });
    expect(cands.map((c) => c.token)).toEqual([8, 2, 9]);
    // with loops capped at 3 the 4-gram is seen as the 3-gram 3 7 8
    expect(cands.map((c) => c.loop)).toEqual([3, 1, 0]);
    for (const c of cands) expect(c.score).toBeCloseTo(p[c.token] - 0.05 * (c.loop === 0 ? 0 : f(c.loop)), 12);
    // a table shorter than maxLoop forbids longer loops (f = ∞)
    const blocked = momentumCandidates(logits, ctx, { resistance: [1, 1, 1] });
    expect(blocked[0].score).toBe(Number.NEGATIVE_INFINITY);
  });

  it("when every candidate is blocked (f = ∞) it takes the most likely; −∞ logits are never candidates", () => {
    const NEG = Number.NEGATIVE_INFINITY;
    // tokens 1 and 2 alternate greedily; 0 (EOS) and 3 have probability 0
    const table = [
      Float32Array.from([NEG, 0, 1, NEG]),
      Float32Array.from([NEG, 0, 1, NEG]),
      Float32Array.from([NEG, 1, 0, NEG]),
      Float32Array.from([NEG, 0, 1, NEG]),
    ];
    const res = momentumDecode(new BigramLM(table, 0), [1, 2], { maxTokens: 6, k: 4, maxLoop: 1, resistance: [Number.POSITIVE_INFINITY] });
    expect(res.tokens).toEqual([1, 2, 1, 2, 1, 2]);
    expect(res.loops).toEqual([1, 1, 1, 1, 1, 1]);
    expect(res.resisted).toBe(0);
  });

  it("decodes a bigram model exactly as the step rule, and escapes its loop", () => {
    let resisted = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const table = randomTable(12, seed, 6);
      const lm = new BigramLM(table, 0);
      const prompt = [1 + (seed % 11)];
      const res = momentumDecode(lm, prompt, { maxTokens: 40 });
      const ctx2 = [...prompt];
      const want: number[] = [];
      for (let i = 0; i < 40; i++) {
        const t = refStep(table[ctx2[ctx2.length - 1]], ctx2, 5, 0.2, PAPER_F, 5);
        if (t === 0) break;
        want.push(t);
        ctx2.push(t);
      }
      expect(res.tokens).toEqual(want);
      expect(res.finishReason).toBe(want.length < 40 ? "eos" : "length");
      expect(res.loops).toEqual(want.map((t, i) => bruteLoop([...prompt, ...want.slice(0, i)], t, 5)));
      expect(res.revisits).toBe(res.loops.filter((l) => l > 0).length);
      for (let i = 0; i < want.length; i++) {
        const prev = i === 0 ? prompt[0] : want[i - 1];
        expect(res.logprobs[i]).toBeCloseTo(Math.log(probs(table[prev])[want[i]]), 6);
      }
      resisted += res.resisted;
    }
    // a bigram model loops under greedy: the resistance must have changed picks
    expect(resisted).toBeGreaterThan(5);
  });
});

describe("momentum decoding with TinyStories-656K", () => {
  let model: CausalLM;
  let tok: Tokenizer;
  const ids = (text: string) => [...(tok.addBos && tok.bosId !== null ? [tok.bosId] : []), ...tok.encode(text)];

  beforeAll(async () => {
    const loaded = await loadTinyStories();
    model = loaded.model;
    tok = loaded.tokenizer;
  });

  function greedy(prompt: number[], n: number): { tokens: number[]; logprobs: number[] } {
    model.reset();
    let logits = model.prefill(prompt).logits;
    const tokens: number[] = [];
    const logprobs: number[] = [];
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      if (model.config.eosTokenIds.includes(best)) break;
      tokens.push(best);
      logprobs.push(Math.log(probs(logits)[best]));
      logits = model.step(best);
    }
    return { tokens, logprobs };
  }

  it("α = 0 is greedy decoding", () => {
    for (const prompt of ["Once upon a time", "The little dog"]) {
      const p = ids(prompt);
      const want = greedy(p, 150);
      const got = momentumDecode(model, p, { maxTokens: 150, alpha: 0 });
      expect(got.tokens).toEqual(want.tokens);
      for (let i = 0; i < want.tokens.length; i++) expect(got.logprobs[i]).toBeCloseTo(want.logprobs[i], 4);
      expect(got.resisted).toBe(0);
    }
  });

  it("repeats far fewer n-grams than greedy over 150 tokens", () => {
    // greedy falls into "He tried to climb the tree, but he did not know how." forever
    const p = ids("The little dog");
    const g = greedy(p, 150).tokens;
    const m = momentumDecode(model, p, { maxTokens: 150 });
    expect(g.length).toBe(150);
    expect(m.tokens.length).toBe(150);
    const rows = [2, 3, 4].map((n) => ({ n, greedy: repN(g, n), momentum: repN(m.tokens, n) }));
    console.log("rep-n, TinyStories-656K, 'The little dog', 150 tokens:", JSON.stringify(rows));
    expect(rows[0].greedy).toBeGreaterThan(0.3);
    for (const r of rows) expect(r.momentum).toBeLessThan(r.greedy / 5);
    expect(m.resisted).toBeGreaterThan(0);
    // it never took a candidate outside the top 5: every logprob is finite and the text is still story-like
    for (const lp of m.logprobs) expect(Number.isFinite(lp)).toBe(true);
  });

  it("a resistance of ∞ for loops of length 2 blocks every repeated bigram", () => {
    const p = ids("The little dog");
    const m = momentumDecode(model, p, { maxTokens: 120, maxLoop: 2, resistance: [0, Number.POSITIVE_INFINITY], k: 20 });
    const all = [...p, ...m.tokens];
    const bigrams = new Set<string>();
    for (let i = 0; i + 2 <= all.length; i++) {
      const key = `${all[i]},${all[i + 1]}`;
      expect(bigrams.has(key)).toBe(false);
      bigrams.add(key);
    }
    expect(m.tokens.length).toBeGreaterThan(20);
  });

  it("stops on EOS (not included), on maxTokens and on abort", () => {
    const p = ids("Once upon a time");
    const full = momentumDecode(model, p, { maxTokens: 300 });
    expect(full.finishReason).toBe("eos");
    expect(full.tokens).not.toContain(2);
    expect(momentumDecode(model, p, { maxTokens: 7 }).tokens).toEqual(full.tokens.slice(0, 7));
    expect(momentumDecode(model, p, { maxTokens: 0 }).tokens).toEqual([]);
    const ac = new AbortController();
    ac.abort();
    const aborted = momentumDecode(model, p, { maxTokens: 10, signal: ac.signal });
    expect(aborted).toMatchObject({ tokens: [], finishReason: "abort" });
    // an extra stop id ends it where that token would have been picked
    const stopAt = full.tokens[5];
    const stopped = momentumDecode(model, p, { maxTokens: 300, stopIds: [stopAt] });
    expect(stopped.finishReason).toBe("eos");
    expect(stopped.tokens).toEqual(full.tokens.slice(0, full.tokens.indexOf(stopAt)));
  });

  it("rejects bad options before decoding", () => {
    const p = ids("Hi");
    const bad: Partial<MomentumOptions>[] = [
      { maxTokens: -1 },
      { maxTokens: 1.5 },
      { k: 0 },
      { k: 2.5 },
      { alpha: -0.1 },
      { alpha: Number.NaN },
      { alpha: Number.POSITIVE_INFINITY },
      { maxLoop: 0 },
      { resistance: [1, -1] },
      { resistance: () => Number.NaN },
      { stopIds: [5000] },
    ];
    for (const b of bad) expect(() => momentumDecode(model, p, { maxTokens: 5, ...b }), JSON.stringify(b)).toThrow(DecodingOptionsError);
    expect(() => momentumDecode(model, [], { maxTokens: 5 })).toThrow(DecodingOptionsError);
    expect(() => momentumDecode(model, [1, 99999], { maxTokens: 5 })).toThrow(DecodingOptionsError);
  });
});
