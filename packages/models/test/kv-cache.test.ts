/**
 * The f16 KV cache: half the cache's bytes, the same model. Logits stay close to the f32
 * cache's (only what is stored is rounded), greedy text agrees, and a sequence copies, grows
 * and commits with 2-byte rows.
 */
import { WasmBackend } from "@edgespec/runtime";
import { describe, expect, it } from "vitest";
import { loadLlama } from "../src/load";
import { LocalModelSource } from "../src/sources/node";
import { argmax, relErr } from "./golden";
import { sharedDir } from "./shared";

async function tiny(kvCache: "f32" | "f16") {
  const backend = await WasmBackend.create();
  return (await loadLlama(await LocalModelSource.fromPath(sharedDir("models/tinystories-656k")), { backend, kvCache })).model;
}

describe("f16 KV cache", () => {
  it("TinyStories-656K: logits within 1e-2 of the f32 cache over 200 steps, same greedy tokens", async () => {
    const [a, b] = [await tiny("f32"), await tiny("f16")];
    expect(a.kvRowBytes).toBe(2 * b.kvRowBytes);
    let la = a.prefill([1, 428, 389, 264]).logits;
    let lb = b.prefill([1, 428, 389, 264]).logits;
    let worst = relErr(lb, la);
    const ta: number[] = [];
    const tb: number[] = [];
    for (let i = 0; i < 200; i++) {
      ta.push(argmax(la));
      tb.push(argmax(lb));
      // teacher-forced on the f32 tokens so one near-tie does not derail the comparison
      la = a.step(ta[i]);
      lb = b.step(ta[i]);
      worst = Math.max(worst, relErr(lb, la));
    }
    expect(worst).toBeGreaterThan(0); // the cache really is rounded
    expect(worst).toBeLessThan(1e-2);
    const agree = ta.filter((t, i) => t === tb[i]).length;
    expect(agree).toBeGreaterThanOrEqual(195);
    a.free();
    b.free();
  });

  it("a sequence grows past its first capacity and copies with 2-byte rows", async () => {
    const m = await tiny("f16");
    const prompt = Array.from({ length: 300 }, (_, i) => 5 + ((i * 37) % 2000));
    const whole = m.prefill(prompt).logits.slice();
    const seq = m.newSequence();
    m.prefillSequence(seq, prompt.slice(0, 150));
    const copy = m.newSequence();
    copy.copyFrom(seq);
    const rest = m.prefillSequence(copy, prompt.slice(150));
    expect(relErr(rest, whole)).toBeLessThan(1e-5);
    m.free();
  });

  it("rejects an unknown cache type", async () => {
    const backend = await WasmBackend.create();
    await expect(loadLlama(await LocalModelSource.fromPath(sharedDir("models/tinystories-656k")), { backend, kvCache: "q8_0" as "f16" })).rejects.toThrow(
      /kvCache must be/,
    );
  });
});
