/**
 * Threads change nothing: a whole greedy generation, a tree verification and a batched
 * step give the same logits bits on 1, 2 and 3 threads (minParallelWork 0 splits every
 * matmul and attention, so the small models exercise the pool on every op).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WasmBackend } from "@edgespec/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLlama } from "../src/load";
import { LocalModelSource } from "../src/sources/node";
import { writeFixture } from "./fixtures/generate";
import { argmax } from "./golden";
import { sharedDir } from "./shared";

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "edgespec-threads-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function modelDir(name: string): Promise<string> {
  if (name === "tinystories-656k") return sharedDir("models/tinystories-656k");
  const dir = join(tmp, name);
  await writeFixture(name, dir);
  return dir;
}

/** Greedy tokens and every step's logits, then a tree verify and a 3-sequence batch step. */
async function trace(name: string, dtype: "f32" | "q4_0", threads: number): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const backend = await WasmBackend.create({ threads, minParallelWork: 0 });
  expect(backend.threads).toBe(threads);
  try {
    const { model } = await loadLlama(await LocalModelSource.fromPath(await modelDir(name)), { backend, dtype });
    const logits: Float32Array[] = [];
    const tokens: number[] = [];
    let last = model.prefill([1, 5, 9, 14, 30, 7]).logits;
    logits.push(last.slice());
    for (let i = 0; i < 40; i++) {
      const t = argmax(last);
      tokens.push(t);
      last = model.step(t);
      logits.push(last.slice());
    }
    const tree = model.verify([3, 4, 5, 6, 7, 8, 9], [-1, 0, 0, 1, 1, 2, 5]);
    logits.push(...rowsOf(tree));
    model.rollback(7);
    const seqs = [model.newSequence(), model.newSequence(), model.newSequence()];
    for (const [i, s] of seqs.entries()) model.prefillSequence(s, [1, 10 + i, 20 + i]);
    logits.push(...rowsOf(model.stepBatch(seqs, [4, 5, 6])));
    for (const s of seqs) s.free();
    model.free();
    return { tokens, logits };
  } finally {
    backend.close();
  }
}

function rowsOf(x: Float32Array | Float32Array[] | { logits: Float32Array }): Float32Array[] {
  if (Array.isArray(x)) return x.map((r) => r.slice());
  if (x instanceof Float32Array) return [x.slice()];
  return [x.logits.slice()];
}

describe("threaded decoding equals single-threaded decoding, bit for bit", () => {
  for (const [name, dtype] of [
    ["tinystories-656k", "f32"],
    ["tinystories-656k", "q4_0"],
    ["llama-gqa3", "f32"],
    ["qwen2-bias", "q4_0"],
  ] as const) {
    it(`${name} ${dtype}`, async () => {
      const want = await trace(name, dtype, 1);
      for (const threads of [2, 3]) {
        const got = await trace(name, dtype, threads);
        expect(got.tokens).toEqual(want.tokens);
        expect(got.logits.length).toBe(want.logits.length);
        for (const [i, row] of got.logits.entries()) expect(new Uint8Array(row.buffer)).toEqual(new Uint8Array(want.logits[i].buffer));
      }
    });
  }
});
