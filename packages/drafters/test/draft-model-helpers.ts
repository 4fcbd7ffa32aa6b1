/**
 * Shared by the draft-model, early-exit, VocabTrim, RSD and DySpec tests: the model
 * fixtures, a random-weight Llama small enough to enumerate, a chi-square p-value, and the
 * lossless-sampling check that runs the real speculative engine.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildProcessors, type Drafter, type DraftTree, SpeculativeEngine, seededRng, softmax } from "@edgespec/decoding";
import { type LlamaConfig, LlamaModel, type LoadedModel, loadCausalLM, loadLlama, MapTensorStore, type StoredTensor, weightsFromStore } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { createBackend, splitmix32 } from "@edgespec/runtime";
import { expect } from "vitest";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const FASTDRAFT_DIR = resolve(repoRoot, "packages/drafters/weights/fastdraft-tinystories");

/** ../shared (or $EDGESPEC_FIXTURES); a missing folder is an error, never a skip. */
export function sharedDir(...parts: string[]): string {
  const root = process.env.EDGESPEC_FIXTURES ?? resolve(repoRoot, "../shared");
  const p = join(root, ...parts);
  if (!existsSync(p)) throw new Error(`fixture ${p} is missing: these tests need the shared model files (set EDGESPEC_FIXTURES or put them at ../shared)`);
  return p;
}

/** TinyStories-656K (HF folder, 2048-token vocabulary, 2 layers). */
export async function loadTinyStories(): Promise<LoadedModel> {
  return loadCausalLM(await resolveModelSource(sharedDir("models", "tinystories-656k")));
}

/** stories260K (llama2.c, 512-token vocabulary, 5 layers). */
export async function loadStories260K(): Promise<LoadedModel> {
  const source = await resolveModelSource(sharedDir("models", "stories260K", "stories260K.bin"));
  const tok = await resolveModelSource(sharedDir("models", "stories260K"));
  return loadCausalLM(source, { tokenizer: { source: tok, file: "tok512.bin" } });
}

/** The committed FastDraft drafter for TinyStories-656K (tools/fastdraft). */
export async function loadFastDraft(backend?: LlamaModel["backend"]): Promise<LlamaModel> {
  const { model } = await loadLlama(await resolveModelSource(FASTDRAFT_DIR), backend ? { backend } : {});
  return model;
}

/** Story openers for measuring (none of them is one of tools/fastdraft's corpus openers). */
export const EVAL_PROMPTS = [
  "The little dog ran",
  "Lily and Tom went to the park.",
  "One day, a big bear",
  "Sue had a red ball. She liked to",
  "The sun was hot and the",
  'Tim said, "I want to play!" Mom said,',
  "There was a small house",
  "Ben was sad because",
  "The cat and the dog were friends.",
  "Anna found a shiny",
  "In the forest, there was",
  "A girl named Mia",
];

/** A real LlamaModel with random weights and a vocabulary small enough to enumerate. */
export async function tinyRandomLlama(opts: { vocab: number; seed: number; scale?: number; layers?: number }): Promise<LlamaModel> {
  const hidden = 16;
  const config: LlamaConfig = {
    modelType: "llama",
    hiddenSize: hidden,
    intermediateSize: 32,
    numLayers: opts.layers ?? 2,
    numHeads: 2,
    numKvHeads: 1,
    headDim: 8,
    vocabSize: opts.vocab,
    maxPositions: 64,
    rmsEps: 1e-6,
    ropeTheta: 10000,
    ropeScaling: { type: "default" },
    ropeStyle: "neox",
    tieWordEmbeddings: false,
    attentionBias: false,
    bosTokenId: null,
    eosTokenIds: [0],
  };
  const rand = splitmix32(opts.seed);
  const scale = opts.scale ?? 1;
  const tensors = new Map<string, StoredTensor>();
  const add = (name: string, shape: number[], fill?: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = fill ?? (rand() * 2 - 1) * scale;
    tensors.set(name, { name, dtype: "F32", shape, data: new Uint8Array(v.buffer) });
  };
  add("model.embed_tokens.weight", [opts.vocab, hidden]);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}.`;
    add(`${p}input_layernorm.weight`, [hidden], 1);
    add(`${p}self_attn.q_proj.weight`, [16, hidden]);
    add(`${p}self_attn.k_proj.weight`, [8, hidden]);
    add(`${p}self_attn.v_proj.weight`, [8, hidden]);
    add(`${p}self_attn.o_proj.weight`, [hidden, 16]);
    add(`${p}post_attention_layernorm.weight`, [hidden], 1);
    add(`${p}mlp.gate_proj.weight`, [32, hidden]);
    add(`${p}mlp.up_proj.weight`, [32, hidden]);
    add(`${p}mlp.down_proj.weight`, [hidden, 32]);
  }
  add("model.norm.weight", [hidden], 1);
  add("lm_head.weight", [opts.vocab, hidden]);
  const backend = await createBackend("wasm");
  return new LlamaModel(backend, config, weightsFromStore(backend, new MapTensorStore("tiny-random", tensors)));
}

/** Upper tail of chi-square with k degrees of freedom (Wilson–Hilferty normal approximation). */
export function chiSquarePValue(x: number, k: number): number {
  const z = ((x / k) ** (1 / 3) - (1 - 2 / (9 * k))) / Math.sqrt(2 / (9 * k));
  return 0.5 * erfc(z / Math.SQRT2);
}

function erfc(x: number): number {
  // Numerical Recipes' erfcc, |error| < 1.2e-7
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** Exact p(a, b | context) of the next two tokens at temperature 1. */
export function exactPairs(model: LlamaModel, context: readonly number[]): Float64Array {
  const V = model.config.vocabSize;
  const out = new Float64Array(V * V);
  model.reset();
  const pa = softmax(model.prefill(context).logits);
  for (let a = 0; a < V; a++) {
    model.reset();
    const pb = softmax(model.prefill([...context, a]).logits);
    for (let b = 0; b < V; b++) out[a * V + b] = pa[a] * pb[b];
  }
  return out;
}

export interface LosslessResult {
  p: number;
  stat: number;
  df: number;
  proposed: number;
  accepted: number;
}

/**
 * Runs the real speculative engine `n` times from the same context at temperature 1 with
 * `drafter`, and compares the next two tokens with their exact distribution (chi-square).
 */
export function losslessCheck(target: LlamaModel, drafter: Drafter, opts: { n: number; budget: number; seed: number }): LosslessResult {
  const V = target.config.vocabSize;
  const prompt = [1, 2, 3];
  const context = [...prompt, 4];
  const want = exactPairs(target, context);
  const counts = new Float64Array(V * V);
  const rng = seededRng(opts.seed);
  let proposed = 0;
  let accepted = 0;
  drafter.begin(prompt);
  for (let i = 0; i < opts.n; i++) {
    target.reset();
    target.prefill(prompt);
    const engine = new SpeculativeEngine(target, drafter, { budget: opts.budget, greedy: false, processors: buildProcessors({}, V), warpers: [], rng });
    const got: number[] = [];
    const ctx = [...context];
    while (got.length < 2) {
      const produced = engine.step(ctx).map((p) => p.token);
      got.push(...produced);
      ctx.push(...produced);
    }
    counts[got[0] * V + got[1]]++;
    const s = engine.stats();
    proposed += s.proposed;
    accepted += s.accepted;
  }
  let stat = 0;
  let bins = 0;
  for (let k = 0; k < V * V; k++) {
    const e = opts.n * want[k];
    if (e < 5) continue;
    stat += (counts[k] - e) ** 2 / e;
    bins++;
  }
  return { p: chiSquarePValue(stat, bins - 1), stat, df: bins - 1, proposed, accepted };
}

/** parents first, distinct siblings, within the budget; returns each node's depth (1 = child of the pending token) */
export function checkTree(tree: DraftTree, budget: number, vocab: number): number[] {
  expect(tree.tokens.length).toBe(tree.parents.length);
  expect(tree.tokens.length).toBeLessThanOrEqual(budget);
  const depth: number[] = [];
  const seen = new Set<string>();
  tree.tokens.forEach((t, i) => {
    const p = tree.parents[i];
    expect(Number.isInteger(t) && t >= 0 && t < vocab).toBe(true);
    expect(p >= -1 && p < i).toBe(true);
    depth.push(p < 0 ? 1 : depth[p] + 1);
    const key = `${p}:${t}`;
    expect(seen.has(key), `node ${i} repeats token ${t} under ${p}`).toBe(false);
    seen.add(key);
  });
  if (tree.mode !== "deterministic") {
    const dist = tree.childDist as (n: number) => Float32Array;
    for (let i = 0; i < tree.tokens.length; i++) {
      const q = dist(tree.parents[i]);
      expect(q.length).toBe(vocab);
      let s = 0;
      for (const x of q) s += x;
      expect(s).toBeCloseTo(1, 4);
      expect(q[tree.tokens[i]]).toBeGreaterThan(0);
    }
  }
  return depth;
}
