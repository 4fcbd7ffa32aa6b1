/**
 * VocabTrim: the most frequent tokens of a calibration set, a trimmed-head drafter that only
 * drafts kept tokens (and maps its rows back to target ids), and the measurement the issue
 * asks for: drafting time saved and acceptance lost, on TinyStories-656K (2048 tokens; an
 * early-exit and the FastDraft drafter) and stories260K (512 tokens; early exit).
 */
import { DecodingOptionsError, type Drafter, generate, seededRng } from "@edgespec/decoding";
import type { LlamaModel, LoadedModel } from "@edgespec/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DraftModelDrafter, earlyExitDrafter, topTokensByFrequency, vocabCoverage, vocabTrimDrafter } from "../src/index";
import { EVAL_PROMPTS, loadFastDraft, loadStories260K, loadTinyStories } from "./draft-model-helpers";

describe("topTokensByFrequency", () => {
  it("ranks by count, ties to the lower id, keeps `always` ids first, and accepts one list or many", () => {
    expect(topTokensByFrequency([5, 3, 5, 9, 3, 5, 7], 3)).toEqual([5, 3, 7]);
    expect(topTokensByFrequency([[5, 3], [5, 9, 3], [5]], 2)).toEqual([5, 3]);
    expect(topTokensByFrequency([5, 3, 5, 9, 3, 5, 7], 3, { always: [2] })).toEqual([2, 5, 3]);
    expect(topTokensByFrequency(Uint16Array.from([4, 4, 1]), 10)).toEqual([4, 1]);
    expect(topTokensByFrequency([], 4, { always: [0, 2] })).toEqual([0, 2]);
    expect(vocabCoverage([[1, 2, 3, 4]], [1, 2])).toBe(0.5);
    expect(() => topTokensByFrequency([1, 2], 0)).toThrow(DecodingOptionsError);
    expect(() => topTokensByFrequency([1, 2, 3000], 2, { vocabSize: 2048 })).toThrow(/3000 is not an id in \[0, 2048\)/);
    expect(() => topTokensByFrequency([1, -1], 2)).toThrow(/-1/);
  });
});

/** target-generated calibration text (VocabTrim's best calibration source): openers unlike EVAL_PROMPTS */
async function calibration(m: LoadedModel, n: number): Promise<number[][]> {
  const openers = ["Once upon a time", "One day,", "There was a", "Lily wanted to", "Tom and his friend", "The bird", "Mom and Dad", "A little boy"];
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const r = await generate(m.model, m.tokenizer, openers[i % openers.length], { temperature: 0.8, seed: 1000 + i, maxTokens: 200 });
    out.push(r.tokens);
  }
  return out;
}

interface Measure {
  drafter: string;
  rows: number;
  coverage: string;
  MAT: number;
  "µs/draft token": number;
  "µs/draft forward": number;
  "nodes/step": number;
}

/** greedy MAT over the eval prompts (checking the output is plain greedy's), and draft time per drafted token */
async function measure(m: LoadedModel, drafter: Drafter & { free(): void }, plain: Map<string, number[]>, budget: number) {
  let steps = 0;
  let accepted = 0;
  let proposed = 0;
  let draftMs = 0;
  for (const p of EVAL_PROMPTS) {
    const r = await generate(m.model, m.tokenizer, p, { temperature: 0, maxTokens: 100, drafter, draftBudget: budget });
    expect(r.tokens).toEqual(plain.get(p));
    const s = r.stats.speculative;
    if (!s) throw new Error("no stats");
    steps += s.steps;
    accepted += s.accepted;
    proposed += s.proposed;
    draftMs += s.draftMs;
  }
  return { mat: (accepted + steps) / steps, usPerToken: (draftMs * 1000) / proposed, nodes: proposed / steps };
}

/** median time of one decode step of a draft model (its own cache, 64 tokens in) */
function forwardMicros(model: LlamaModel, ids: readonly number[]): number {
  model.reset();
  model.prefill(ids.slice(0, 64));
  const times: number[] = [];
  for (let rep = 0; rep < 7; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) {
      model.prefill([ids[i % ids.length]]);
      model.rollback(1);
    }
    times.push(((performance.now() - t0) * 1000) / 200);
  }
  model.reset();
  return times.sort((a, b) => a - b)[3];
}

async function trimTable(
  m: LoadedModel,
  label: string,
  sizes: number[],
  make: (rows: readonly number[] | null) => { drafter: DraftModelDrafter; model: LlamaModel },
): Promise<Measure[]> {
  const V = m.model.config.vocabSize;
  const cal = await calibration(m, 48);
  const plain = new Map<string, number[]>();
  for (const p of EVAL_PROMPTS) plain.set(p, (await generate(m.model, m.tokenizer, p, { temperature: 0, maxTokens: 100 })).tokens);
  const evalTokens = [...plain.values()];
  const ids = evalTokens.flat();
  const out: Measure[] = [];
  for (const k of [V, ...sizes]) {
    const rows = k === V ? null : topTokensByFrequency(cal, k, { always: m.model.config.eosTokenIds, vocabSize: V });
    const { drafter, model } = make(rows);
    const r = await measure(m, drafter, plain, 8);
    const fwd = forwardMicros(model, ids);
    out.push({
      drafter: label,
      rows: rows ? rows.length : V,
      coverage: rows ? `${(100 * vocabCoverage(evalTokens, rows)).toFixed(1)}%` : "100%",
      MAT: +r.mat.toFixed(3),
      "µs/draft token": +r.usPerToken.toFixed(1),
      "µs/draft forward": +fwd.toFixed(1),
      "nodes/step": +r.nodes.toFixed(2),
    });
    drafter.free();
  }
  return out;
}

describe("VocabTrim on TinyStories-656K", () => {
  let tiny: LoadedModel;
  let fast: LlamaModel;
  beforeAll(async () => {
    tiny = await loadTinyStories();
    fast = await loadFastDraft(tiny.model.backend);
  });
  afterAll(() => {
    fast.free();
    tiny.model.free();
  });

  it("a trimmed drafter drafts only kept tokens, in target ids, with zero draft mass elsewhere", () => {
    const rows = [2, ...Array.from({ length: 299 }, (_, i) => 1000 + i)];
    const drafter = vocabTrimDrafter(tiny.model, rows, { layers: 1, maxDepth: 6 });
    expect(drafter.name).toBe("early-exit-1-trim300");
    const rng = seededRng(5);
    const ctx = [1, ...tiny.tokenizer.encode("Once upon a time")];
    const greedy = drafter.propose({ tokens: ctx, budget: 8, rng, sampling: false });
    // the trimmed head's argmax is the full head's argmax over the kept rows
    const full = tiny.model.derive({ layers: 1 });
    let logits = full.prefill(ctx).logits;
    for (const t of greedy.tokens) {
      let best = rows[0];
      for (const r of rows) if (logits[r] > logits[best]) best = r;
      expect(t).toBe(best);
      logits = full.step(t);
    }
    full.free();
    const sampled = drafter.propose({ tokens: ctx, budget: 8, rng, sampling: true });
    const keep = new Set(rows);
    for (const t of sampled.tokens) expect(keep.has(t)).toBe(true);
    const q = (sampled.childDist as (n: number) => Float32Array)(-1);
    expect(q.length).toBe(2048);
    let s = 0;
    for (let t = 0; t < 2048; t++) {
      if (!keep.has(t)) expect(q[t]).toBe(0);
      s += q[t];
    }
    expect(s).toBeCloseTo(1, 4);
    drafter.free();
    expect(() => vocabTrimDrafter(tiny.model, [1, 2, 2048])).toThrow(/2048 is outside the target's 2048-token/);
    expect(() => vocabTrimDrafter(tiny.model, [1, 2, 2])).toThrow(/repeat/);
    expect(() => vocabTrimDrafter(tiny.model, [])).toThrow(DecodingOptionsError);
    expect(() => vocabTrimDrafter(tiny.model, [1], { layers: 3 })).toThrow(/layers must be an integer in \[1, 2\]/);
    expect(() => vocabTrimDrafter(tiny.model, [1], { targetVocabSize: 512 })).toThrow(/2048-token vocabulary but the target has 512/);
  });

  it("measures drafting time saved and acceptance lost (early exit after 1 layer, and FastDraft)", async () => {
    const sizes = [1024, 512, 256];
    const table = [
      ...(await trimTable(tiny, "early-exit-1", sizes, (rows) => {
        const d = rows ? vocabTrimDrafter(tiny.model, rows, { layers: 1, maxDepth: 8 }) : earlyExitDrafter(tiny.model, 1, { maxDepth: 8 });
        return { drafter: d, model: d.model as LlamaModel };
      })),
      ...(await trimTable(tiny, "fastdraft", sizes, (rows) => {
        const d = rows ? vocabTrimDrafter(fast, rows, { maxDepth: 8 }) : new DraftModelDrafter({ model: fast, targetVocabSize: 2048, maxDepth: 8 });
        return { drafter: d, model: d.model as LlamaModel };
      })),
    ];
    console.log("VocabTrim on TinyStories-656K (vocab 2048): greedy chains of 8, 12 prompts × 100 tokens; rows from 48 target samples");
    console.table(table);
    for (const r of table) expect(r.MAT).toBeGreaterThan(1);
  });
});

describe("VocabTrim on stories260K", () => {
  it("measures drafting time saved and acceptance lost (early exit after 2 of 5 layers)", async () => {
    const m = await loadStories260K();
    const table = await trimTable(m, "early-exit-2", [256, 128], (rows) => {
      const d = rows ? vocabTrimDrafter(m.model, rows, { layers: 2, maxDepth: 8 }) : earlyExitDrafter(m.model, 2, { maxDepth: 8 });
      return { drafter: d, model: d.model as LlamaModel };
    });
    console.log("VocabTrim on stories260K (vocab 512): greedy chains of 8, 12 prompts × 100 tokens; rows from 48 target samples");
    console.table(table);
    for (const r of table) expect(r.MAT).toBeGreaterThan(1);
    m.model.free();
  });
});
