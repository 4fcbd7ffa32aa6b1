/**
 * The async twins (prefillAsync, stepAsync, verifyAsync, prefillSequenceAsync, stepBatchAsync)
 * run the same forward as the sync methods and must give exactly their logits. On a backend
 * that cannot read synchronously (WebGPU; here a wasm backend whose sync reads throw) the sync
 * methods refuse by name without changing the cache, and everything the model does besides
 * reading logits (loading, derive, VocabTrim heads, dtype conversion) must not read at all.
 */
import { readFileSync } from "node:fs";
import { type Backend, BackendUnavailableError, createBackend, splitmix32 } from "@edgespec/runtime";
import { beforeAll, describe, expect, it } from "vitest";
import { BertModel } from "../src/bert/bert";
import type { BertConfig } from "../src/bert/config";
import { quantizeQ8_0 } from "../src/formats/gguf-write";
import { readLlama2c } from "../src/formats/llama2c";
import { MapTensorStore } from "../src/formats/stored";
import { LlamaModel } from "../src/llama/llama";
import { encoderBackend } from "../src/load";
import { storedToF32, uploadWeight, type WeightSource, weightsFromStore } from "../src/weights";
import { asyncOnly } from "./async-only";
import { sharedDir } from "./shared";

function loadStories(be: Backend, opts: { kvCache?: "f32" | "f16" } = {}): LlamaModel {
  const bytes = new Uint8Array(readFileSync(sharedDir("models/stories260K/stories260K.bin")));
  const { config, store } = readLlama2c("stories260K.bin", bytes);
  return new LlamaModel(be, config, weightsFromStore(be, store), { contextLength: 256, ...opts });
}

const PROMPT = [1, 403, 407, 261, 378, 430, 271];

/** One session of prefill, steps, a verified tree and its commit, rollback; every logits array it saw. */
async function session(m: LlamaModel, mode: "sync" | "async"): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const a = mode === "async";
  m.reset();
  out.push(a ? (await m.prefillAsync(PROMPT)).logits : m.prefill(PROMPT).logits);
  out.push(a ? (await m.prefillAsync([300, 301, 302], { allLogits: true })).logits : m.prefill([300, 301, 302], { allLogits: true }).logits);
  for (const t of [5, 77, 200, 13]) out.push(a ? await m.stepAsync(t) : m.step(t));
  const tokens = [9, 10, 11, 12, 13, 14];
  const parents = [-1, 0, 0, 1, 3, -1];
  const tree = a ? await m.verifyAsync(tokens, parents) : m.verify(tokens, parents);
  expect(tree.rows).toBe(tokens.length);
  out.push(tree.logits);
  m.commit([0, 1, 3, 4]);
  out.push(a ? await m.stepAsync(42) : m.step(42));
  m.rollback(3);
  out.push(a ? await m.stepAsync(43) : m.step(43));
  // several sequences in one forward
  const s1 = m.newSequence();
  const s2 = m.newSequence();
  out.push(a ? await m.prefillSequenceAsync(s1, [1, 50, 51]) : m.prefillSequence(s1, [1, 50, 51]));
  out.push(a ? await m.prefillSequenceAsync(s2, [1, 60]) : m.prefillSequence(s2, [1, 60]));
  for (let j = 0; j < 3; j++) {
    const r = a ? await m.stepBatchAsync([s1, s2], [70 + j, 80 + j]) : m.stepBatch([s1, s2], [70 + j, 80 + j]);
    expect(r.rows).toBe(2);
    out.push(r.logits);
  }
  s1.free();
  s2.free();
  return out;
}

describe.each(["f32", "f16"] as const)("async twins on stories260K (wasm, %s KV cache)", (kvCache) => {
  let wasm: Backend;
  let model: LlamaModel;
  let sync: Float32Array[];
  beforeAll(async () => {
    wasm = await createBackend("wasm");
    model = loadStories(wasm, { kvCache });
    sync = await session(model, "sync");
  });

  it("give exactly the sync methods' logits on the same backend", async () => {
    const got = await session(model, "async");
    expect(got.length).toBe(sync.length);
    for (const [i, l] of got.entries()) expect(l, `logits #${i}`).toEqual(sync[i]);
  });

  it("give exactly the same logits on a backend that reads asynchronously only", async () => {
    const be = asyncOnly(wasm);
    const m = loadStories(be, { kvCache });
    expect(m.syncRead).toBe(false);
    const got = await session(m, "async");
    for (const [i, l] of got.entries()) expect(l, `logits #${i}`).toEqual(sync[i]);
    m.free();
  });

  it("an async-only backend refuses the sync methods by name, leaving the cache as it was", async () => {
    const m = loadStories(asyncOnly(wasm), { kvCache });
    await m.prefillAsync(PROMPT);
    const seq = m.newSequence();
    const refusals: [() => unknown, string][] = [
      [() => m.prefill([5]), "prefillAsync"],
      [() => m.step(5), "stepAsync"],
      [() => m.verify([5, 6], [-1, 0]), "verifyAsync"],
      [() => m.prefillSequence(seq, [1]), "prefillSequenceAsync"],
      [() => m.stepBatch([seq], [1]), "stepBatchAsync"],
    ];
    for (const [call, use] of refusals) {
      expect(call).toThrow(BackendUnavailableError);
      expect(call).toThrow(new RegExp(`cannot read synchronously; use ${use}$`));
    }
    expect(m.length).toBe(PROMPT.length);
    expect(seq.length).toBe(0);
    // the next async step continues from the prompt as if nothing had been tried
    model.reset();
    model.prefill(PROMPT);
    expect(await m.stepAsync(5)).toEqual(model.step(5));
    m.free();
  });

  it("derive (early exit, VocabTrim) works without reading, and equals the same derive on the sync backend", async () => {
    const rows = Array.from({ length: 64 }, (_, i) => (i * 37 + 5) % model.config.vocabSize);
    const plain = model.derive({ layers: 3, vocabRows: rows });
    plain.prefill(PROMPT);
    const want = plain.step(9);
    const m = loadStories(asyncOnly(wasm), { kvCache });
    const d = m.derive({ layers: 3, vocabRows: rows });
    await d.prefillAsync(PROMPT);
    expect(await d.stepAsync(9)).toEqual(want);
    d.free();
    m.free();
    plain.free();
  });
});

describe("reads outside the forward on an async-only backend", () => {
  let wasm: Backend;
  beforeAll(async () => {
    wasm = await createBackend("wasm");
  });

  it("a VocabTrim head of a q8_0 model has the bytes fromF32 of its rows gives", async () => {
    const bytes = new Uint8Array(readFileSync(sharedDir("models/stories260K/stories260K.bin")));
    const { config, store } = readLlama2c("stories260K.bin", bytes);
    const be = asyncOnly(wasm);
    const m = new LlamaModel(be, config, weightsFromStore(be, store, "q8_0"));
    const rows = [5, 3, 400, 17];
    const d = m.derive({ vocabRows: rows });
    // what trimHead did before: gather as f32, read back, quantize the values
    const f32 = be.empty("f32", [rows.length, config.hiddenSize]);
    be.getRows(f32, m.lm_head, rows);
    const old = be.fromF32("q8_0", [rows.length, config.hiddenSize], (await be.readAsync(f32)) as Float32Array);
    expect(d.lm_head.dtype).toBe("q8_0");
    expect(await be.readAsync(d.lm_head)).toEqual(await be.readAsync(old));
    for (const t of [f32, old]) t.free();
    d.free();
    m.free();
  });

  it.each(["f32", "f16", "q4_0"] as const)("a stored Q8_0 tensor loaded as %s equals dequantize-then-fromF32, without a sync read", async (dtype) => {
    const rand = splitmix32(3);
    const values = Float32Array.from({ length: 8 * 64 }, () => rand() * 2 - 1);
    const store = new MapTensorStore("t", new Map([["w", { name: "w", dtype: "Q8_0" as const, shape: [8, 64], data: quantizeQ8_0(values) }]]));
    const be = asyncOnly(wasm);
    const got = uploadWeight(be, store, "w", { dtype });
    // what uploadWeight did before: storedToF32 (a sync read) then fromF32
    const f32 = storedToF32(wasm, store.get("w"));
    const want = dtype === "f32" ? wasm.tensor("f32", [8, 64], f32) : wasm.fromF32(dtype, [8, 64], f32);
    expect(got.dtype).toBe(dtype);
    expect(await be.readAsync(got)).toEqual(wasm.read(want));
    got.free();
    want.free();
  });

  it('BERT refuses an async-only backend before touching its weights; encoders refuse backend: "webgpu"', async () => {
    const untouched: WeightSource = {
      label: "none",
      has: () => {
        throw new Error("weights were read");
      },
      matrix: () => {
        throw new Error("weights were read");
      },
      vector: () => {
        throw new Error("weights were read");
      },
    };
    expect(() => new BertModel(asyncOnly(wasm), {} as BertConfig, untouched)).toThrow(BackendUnavailableError);
    expect(() => new BertModel(asyncOnly(wasm), {} as BertConfig, untouched)).toThrow(/BERT encoders read their outputs synchronously.*wasm/);
    await expect(encoderBackend({ backend: "webgpu" })).rejects.toThrow(/encoders \(BERT\) run on the wasm backend only/);
    expect((await encoderBackend({ backend: "auto" })).name).toBe("wasm");
    await expect(encoderBackend({ backend: "metal" as never })).rejects.toThrow(/backend must be a Backend/);
  });
});
