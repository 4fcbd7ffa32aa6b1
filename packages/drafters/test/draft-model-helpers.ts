/**
 * Shared by the draft-model, early-exit, VocabTrim, RSD and DySpec tests: the model
 * fixtures and tree checks here; the random-weight Llama, the chi-square p-value and the
 * lossless-sampling check (which runs the real speculative engine) come from the decoding
 * package's test helpers.
 */
import { resolve } from "node:path";
import type { DraftTree } from "@edgespec/decoding";
import { type LlamaModel, type LoadedModel, loadCausalLM, loadLlama } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { expect } from "vitest";
import { repoRoot, sharedDir } from "./shared";

export { exactPairs, type LosslessResult, losslessCheck } from "../../decoding/test/lossless";
export { chiSquarePValue } from "../../decoding/test/stats";
export { tinyRandomLlama } from "../../decoding/test/tiny-model";
export { loadTinyStories, sharedDir } from "./shared";

export const FASTDRAFT_DIR = resolve(repoRoot, "packages/drafters/weights/fastdraft-tinystories");

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
