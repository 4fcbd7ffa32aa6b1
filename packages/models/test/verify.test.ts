/**
 * Tree verification is what speculative decoding stands on: every node's logits from one
 * batched `verify` must equal what sequential `step`s along that node's path give, and
 * `commit` must leave the cache exactly as if the path had been stepped. Both with an f32
 * and an f16 KV cache.
 */
import { readFileSync } from "node:fs";
import { type Backend, createBackend, splitmix32 } from "@edgespec/runtime";
import { beforeAll, describe, expect, it } from "vitest";
import { readLlama2c } from "../src/formats/llama2c";
import { LlamaModel } from "../src/llama/llama";
import { weightsFromStore } from "../src/weights";
import { relErr } from "./golden";
import { sharedDir } from "./shared";

function randomTree(rand: () => number, n: number, vocab: number): { tokens: number[]; parents: number[] } {
  const tokens: number[] = [];
  const parents: number[] = [];
  for (let i = 0; i < n; i++) {
    // bias towards recent nodes so trees get deep as well as wide
    parents.push(i === 0 || rand() < 0.2 ? -1 : Math.max(0, i - 1 - Math.floor(rand() * rand() * i)));
    tokens.push(3 + Math.floor(rand() * (vocab - 3)));
  }
  return { tokens, parents };
}

function pathTo(parents: readonly number[], node: number): number[] {
  const path: number[] = [];
  for (let i = node; i >= 0; i = parents[i]) path.unshift(i);
  return path;
}

describe.each([
  ["wasm", "f32"],
  ["wasm", "f16"],
  ["reference", "f32"],
  ["reference", "f16"],
] as const)("verify on stories260K (%s backend, %s KV cache)", (backendName, kvCache) => {
  let backend: Backend;
  let model: LlamaModel;
  beforeAll(async () => {
    backend = await createBackend(backendName);
    const bytes = new Uint8Array(readFileSync(sharedDir("models/stories260K/stories260K.bin")));
    const { config, store } = readLlama2c("stories260K.bin", bytes);
    model = new LlamaModel(backend, config, weightsFromStore(backend, store), { kvCache });
  });

  const prompt = [1, 403, 407, 261, 378, 430, 271];
  const sizes = backendName === "wasm" ? [1, 5, 16, 33] : [7];
  it.each(sizes)("every node of a random %i-node tree equals stepping its path", (n) => {
    const rand = splitmix32(1000 + n);
    const vocab = model.config.vocabSize;
    const { tokens, parents } = randomTree(rand, n, vocab);
    model.reset();
    model.prefill(prompt);
    const tree = model.verify(tokens, parents);
    expect(tree.rows).toBe(n);
    let worst = 0;
    for (let node = 0; node < n; node++) {
      const path = pathTo(parents, node);
      model.rollback(model.length - prompt.length);
      let last: Float32Array = new Float32Array(0);
      for (const i of path) last = model.step(tokens[i]);
      const got = tree.logits.subarray(node * vocab, (node + 1) * vocab);
      worst = Math.max(worst, relErr(got, last));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it("commit(path) leaves the cache as stepping the path would", () => {
    const rand = splitmix32(77);
    const vocab = model.config.vocabSize;
    const { tokens, parents } = randomTree(rand, 24, vocab);
    // the deepest node's path, so commit has to move slots
    let deepest = 0;
    for (let i = 0; i < tokens.length; i++) if (pathTo(parents, i).length >= pathTo(parents, deepest).length) deepest = i;
    const path = pathTo(parents, deepest);
    expect(path.some((node, j) => node !== j)).toBe(true);

    model.reset();
    model.prefill(prompt);
    model.verify(tokens, parents);
    model.commit(path);
    expect(model.length).toBe(prompt.length + path.length);
    const afterCommit = model.step(42);

    model.reset();
    model.prefill(prompt);
    for (const i of path) model.step(tokens[i]);
    const sequential = model.step(42);
    expect(relErr(afterCommit, sequential)).toBeLessThan(1e-5);
  });

  it("rejects malformed trees and commits", () => {
    model.reset();
    model.prefill(prompt);
    expect(() => model.verify([5, 6], [-1, 1])).toThrow(/parent of node 1/);
    expect(() => model.verify([5, 6], [-1])).toThrow(/2 tokens but 1 parents/);
    expect(() => model.commit([0])).toThrow(/no verified tree/);
    model.verify([5, 6, 7], [-1, -1, 0]);
    expect(() => model.commit([1, 2])).toThrow(/does not follow node 1/);
    expect(() => model.commit([9])).toThrow(/not in the verified tree/);
    expect(() => model.rollback(100)).toThrow(/rollback/);
    expect(() => model.step(100000)).toThrow(/outside the vocabulary/);
  });
});
