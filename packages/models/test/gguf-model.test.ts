/**
 * One model, two files: tools/reference/write_gguf.py converts the llama-gqa3 fixture to GGUF
 * the way llama.cpp's converter does (q/k rows permuted for interleaved RoPE, ggml's
 * reference quantizers). Our GGUF path and our safetensors path must give the same logits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBackend } from "@edgespec/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLlama } from "../src/load";
import { LocalModelSource } from "../src/sources/node";
import { writeFixture } from "./fixtures/generate";
import { GOLDEN_DIR, readGolden, relErr } from "./golden";

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgespec-gguf-"));
  await writeFixture("llama-gqa3", dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("GGUF and safetensors give the same logits (llama-gqa3)", () => {
  const golden = readGolden("llama-gqa3");
  const cases = golden.cases.map((c) => [...c.prompt, ...c.greedy]);
  it.each([
    ["f16", undefined, 1e-5],
    ["q8_0", "q8_0", 1e-5],
    ["q4_0", "q4_0", 1e-5],
  ] as const)("%s GGUF vs safetensors loaded as the same dtype", async (file, dtype, tol) => {
    const backend = await createBackend("wasm");
    const gguf = await loadLlama(await LocalModelSource.fromPath(join(GOLDEN_DIR, "gguf", `llama-gqa3.${file}.gguf`)), { backend });
    const st = await loadLlama(await LocalModelSource.fromPath(dir), { backend, dtype });
    expect(gguf.format).toBe("gguf");
    expect(gguf.config.ropeStyle).toBe("interleaved");
    expect(st.config.ropeStyle).toBe("neox");
    let worst = 0;
    for (const ids of cases) {
      gguf.model.reset();
      st.model.reset();
      const a = gguf.model.prefill(ids, { allLogits: true }).logits;
      const b = st.model.prefill(ids, { allLogits: true }).logits;
      worst = Math.max(worst, relErr(a, b));
    }
    gguf.model.free();
    st.model.free();
    expect(worst).toBeLessThan(tol);
  });

  it("the f16 GGUF also matches the numpy reference", async () => {
    const gguf = await loadLlama(await LocalModelSource.fromPath(join(GOLDEN_DIR, "gguf", "llama-gqa3.f16.gguf")));
    let worst = 0;
    for (const c of golden.cases) {
      gguf.model.reset();
      const got = gguf.model.prefill(c.prompt, { allLogits: true }).logits;
      const want = golden.floats.subarray(c.prompt_logits.offset, c.prompt_logits.offset + got.length);
      worst = Math.max(worst, relErr(got, want));
    }
    expect(worst).toBeLessThan(1e-4);
  });
});
