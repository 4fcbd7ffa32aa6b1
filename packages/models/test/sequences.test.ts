/**
 * Many sequences in one model (beams, parallel samples): stepBatch must give every sequence
 * the logits that stepping it alone gives, and copyFrom / rollback must leave a cache that
 * continues exactly like the original.
 */
import { readFileSync } from "node:fs";
import { type Backend, createBackend, OutOfRangeError, ShapeError, splitmix32 } from "@edgespec/runtime";
import { beforeAll, describe, expect, it } from "vitest";
import { readLlama2c } from "../src/formats/llama2c";
import { LlamaModel } from "../src/llama/llama";
import { weightsFromStore } from "../src/weights";
import { relErr } from "./golden";
import { sharedDir } from "./shared";

describe.each(["wasm", "reference"] as const)("sequences on stories260K (%s backend)", (backendName) => {
  let backend: Backend;
  let model: LlamaModel;
  beforeAll(async () => {
    backend = await createBackend(backendName);
    const bytes = new Uint8Array(readFileSync(sharedDir("models/stories260K/stories260K.bin")));
    const { config, store } = readLlama2c("stories260K.bin", bytes);
    model = new LlamaModel(backend, config, weightsFromStore(backend, store), { contextLength: 512 });
  });

  it("stepBatch equals stepping each sequence alone, over prompts of different lengths", () => {
    const rand = splitmix32(7);
    const vocab = model.config.vocabSize;
    const prompts = [[1, 403, 407], [1, 261], [1, 378, 430, 271, 300, 301], [1]];
    const steps = backendName === "wasm" ? 40 : 6;
    const tokens = prompts.map(() => Array.from({ length: steps }, () => 3 + Math.floor(rand() * (vocab - 3))));
    // sequential: the model's own sequence, one prompt at a time
    const alone: Float32Array[][] = prompts.map((p, i) => {
      model.reset();
      model.prefill(p);
      return tokens[i].map((t) => model.step(t).slice());
    });
    const seqs = prompts.map((p) => {
      const s = model.newSequence();
      model.prefillSequence(s, p);
      return s;
    });
    for (let j = 0; j < steps; j++) {
      const r = model.stepBatch(
        seqs,
        seqs.map((_, i) => tokens[i][j]),
      );
      expect(r.rows).toBe(seqs.length);
      for (let i = 0; i < seqs.length; i++) {
        const row = r.logits.subarray(i * vocab, (i + 1) * vocab);
        expect(relErr(row, alone[i][j])).toBeLessThan(1e-5);
      }
    }
    for (const [i, s] of seqs.entries()) expect(s.length).toBe(prompts[i].length + steps);
    for (const s of seqs) s.free();
  });

  it("copyFrom clones a cache: the copy continues like the original, and they then diverge independently", () => {
    const a = model.newSequence();
    const b = model.newSequence();
    model.prefillSequence(a, [1, 403, 407, 261, 378]);
    model.prefillSequence(b, [1, 9, 9, 9, 9, 9, 9, 9, 9]);
    b.copyFrom(a);
    expect(b.length).toBe(a.length);
    const r = model.stepBatch([a, b], [430, 430]);
    const vocab = model.config.vocabSize;
    expect(relErr(r.logits.subarray(vocab), r.logits.subarray(0, vocab))).toBe(0);
    const r2 = model.stepBatch([a, b], [271, 300]);
    model.reset();
    model.prefill([1, 403, 407, 261, 378, 430]);
    const expectB = model.step(300).slice();
    expect(relErr(r2.logits.subarray(vocab), expectB)).toBeLessThan(1e-5);
    // rollback then a different token equals a fresh run
    a.rollback(1);
    const back = model.stepBatch([a], [300]);
    expect(relErr(back.logits, expectB)).toBeLessThan(1e-5);
    a.free();
    b.free();
  });

  it("copyFrom grows a smaller cache to hold a long sequence", () => {
    const long = model.newSequence();
    const ids = Array.from({ length: 300 }, (_, i) => 3 + ((i * 37) % 500));
    model.prefillSequence(long, [1, ...ids]);
    const copy = model.newSequence();
    copy.copyFrom(long);
    const r = model.stepBatch([copy], [42]);
    model.reset();
    model.prefill([1, ...ids]);
    expect(relErr(r.logits, model.step(42))).toBeLessThan(1e-5);
    long.free();
    copy.free();
  });

  it("refuses bad batches with clear errors", () => {
    const a = model.newSequence();
    model.prefillSequence(a, [1]);
    expect(() => model.stepBatch([], [])).toThrow(ShapeError);
    expect(() => model.stepBatch([a], [1, 2])).toThrow(/1 sequences but 2 tokens/);
    expect(() => model.stepBatch([a, a], [5, 6])).toThrow(/appears twice/);
    expect(() => model.stepBatch([a], [model.config.vocabSize])).toThrow(OutOfRangeError);
    a.free();
    expect(() => model.stepBatch([a], [5])).toThrow(/freed/);
    expect(() => a.rollback(1)).not.toThrow(); // rollback on a freed sequence is harmless bookkeeping
  });
});

describe("derived models (early exit, trimmed head) on stories260K", () => {
  let backend: Backend;
  let bytes: Uint8Array;
  beforeAll(async () => {
    backend = await createBackend("wasm");
    bytes = new Uint8Array(readFileSync(sharedDir("models/stories260K/stories260K.bin")));
  });

  it("the first n layers + final norm + head equal a model built with only those layers", () => {
    const { config, store } = readLlama2c("stories260K.bin", bytes);
    const full = new LlamaModel(backend, config, weightsFromStore(backend, store));
    const exit2 = full.derive({ layers: 2 });
    const twoLayer = new LlamaModel(backend, { ...config, numLayers: 2 }, weightsFromStore(backend, store));
    const prompt = [1, 403, 407, 261, 378];
    const a = exit2.prefill(prompt).logits.slice();
    const b = twoLayer.prefill(prompt).logits;
    expect(relErr(a, b)).toBe(0);
    // its own caches: stepping the derived model leaves the full model's untouched
    expect(full.length).toBe(0);
    expect(relErr(exit2.step(430), twoLayer.step(430))).toBe(0);
    // and the full derivation is the model itself
    const all = full.derive({});
    expect(relErr(all.prefill(prompt).logits.slice(), full.prefill(prompt).logits)).toBe(0);
    exit2.free();
    all.free();
    // the base still works after its derived models are freed
    expect(full.step(430).length).toBe(config.vocabSize);
    full.free();
    twoLayer.free();
  });

  it("a trimmed head gives the chosen rows of the full logits, in order (f32 and q8_0 heads)", () => {
    for (const dtype of ["f32", "q8_0"] as const) {
      const { config, store } = readLlama2c("stories260K.bin", bytes);
      const full = new LlamaModel(backend, config, weightsFromStore(backend, store, dtype));
      const rows = [5, 1, 300, 2, 511, 64, 9, 100];
      const trimmed = full.derive({ vocabRows: rows, layers: 3 });
      expect(trimmed.config.vocabSize).toBe(rows.length);
      const prompt = [1, 403, 407, 261];
      const want = full.derive({ layers: 3 }).prefill(prompt).logits;
      const got = trimmed.prefill(prompt).logits;
      expect(got.length).toBe(rows.length);
      for (let j = 0; j < rows.length; j++)
        expect(Math.abs(got[j] - want[rows[j]])).toBeLessThan(dtype === "f32" ? 1e-6 : 1e-3 * Math.max(1, Math.abs(want[rows[j]])));
      expect(() => full.derive({ layers: 0 })).toThrow(OutOfRangeError);
      expect(() => full.derive({ layers: 99 })).toThrow(/\[1, 5\]/);
      expect(() => full.derive({ vocabRows: [1, 1] })).toThrow(/twice/);
      expect(() => full.derive({ vocabRows: [512] })).toThrow(/outside/);
      trimmed.free();
      full.free();
    }
  });
});
