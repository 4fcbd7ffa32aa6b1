/**
 * Both backends against golden outputs computed by numpy (tools/reference/ops_golden.py),
 * so the reference backend itself is checked by an independent implementation.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { type Backend, ropeFrequencies } from "../src/index";
import { backends, nmse, type Pair } from "./util";

const G = JSON.parse(readFileSync(new URL("./golden/ops.json", import.meta.url), "utf8"));
let P: Pair;
beforeAll(async () => {
  P = await backends();
});

const each = (name: string, f: (be: Backend) => void) => {
  it(`${name} (reference backend)`, () => f(P.ref));
  it(`${name} (wasm backend)`, () => {
    f(P.wasm);
    P.wasm.checkCanaries();
  });
};

describe("golden: numpy", () => {
  const R = G.rowops;
  each("rmsnorm, layernorm, softmax, silu, gelu, gelu_tanh", (be) => {
    const x = be.tensor("f32", R.shape, R.x);
    const w = be.tensor("f32", [R.shape[1]], R.w);
    const b = be.tensor("f32", [R.shape[1]], R.b);
    const y = be.empty("f32", R.shape);
    const check = (want: number[], bound = 1e-12) => expect(nmse(be.read(y) as Float32Array, want)).toBeLessThan(bound);
    be.rmsnorm(y, x, w, 1e-6);
    check(R.rmsnorm);
    be.layernorm(y, x, w, b, 1e-12);
    check(R.layernorm);
    be.scale(y, x, 3);
    be.softmax(y, y);
    check(R.softmax_of_3x);
    be.silu(y, x);
    check(R.silu);
    be.gelu(y, x);
    check(R.gelu);
    be.geluTanh(y, x);
    check(R.gelu_tanh);
  });

  const Rp = G.rope;
  it("RoPE inverse frequencies match Hugging Face's float32 computation (to the ulp of powf)", () => {
    // float32 pow is not correctly rounded everywhere: libms differ by an ulp, 2 after the reciprocal
    const ulp = (v: number) => 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);
    const ulpClose = (got: Float32Array, want: number[]) =>
      got.length === want.length && Array.from(got).every((g, i) => Math.abs(g - want[i]) <= 2 * ulp(want[i]));
    expect(ulpClose(ropeFrequencies(16, 10000).invFreq, Rp.inv_freq_default)).toBe(true);
    const l3 = ropeFrequencies(16, 500000, { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(ulpClose(l3.invFreq, Rp.inv_freq_llama3)).toBe(true);
    // and the scaling really happened: low frequencies divided by 8, high ones kept
    expect(l3.invFreq[0]).toBe(Math.fround(1));
    expect(l3.invFreq[7]).toBeCloseTo(Rp.inv_freq_llama3[7], 12);
  });
  each("rope neox (default) and interleaved (llama3)", (be) => {
    const x = be.tensor("f32", Rp.shape, Rp.x);
    be.rope(x, Rp.positions, { invFreq: ropeFrequencies(16, 10000).invFreq, style: "neox" });
    expect(nmse(be.read(x) as Float32Array, Rp.neox_default)).toBeLessThan(1e-13);
    const x2 = be.tensor("f32", Rp.shape, Rp.x);
    const l3 = ropeFrequencies(16, 500000, { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    be.rope(x2, Rp.positions, { invFreq: l3.invFreq, style: "interleaved" });
    expect(nmse(be.read(x2) as Float32Array, Rp.interleaved_llama3)).toBeLessThan(1e-13);
  });

  const A = G.attention;
  each("attention: none, causal, tree", (be) => {
    const q = be.tensor("f32", A.q_shape, A.q);
    const k = be.tensor("f32", A.kv_shape, A.k);
    const v = be.tensor("f32", A.kv_shape, A.v);
    const o = be.empty("f32", A.q_shape);
    for (const [mask, want] of [
      ["none", A.none],
      ["causal", A.causal],
      [Uint8Array.from(A.tree), A.tree_out],
    ] as const) {
      be.attention(o, q, k, v, { kvLen: A.kv_len, mask });
      expect(nmse(be.read(o) as Float32Array, want)).toBeLessThan(1e-12);
    }
  });

  const Q = G.quant;
  each("ggml q8_0 / q4_0 quantizers and f16 conversion, byte for byte", (be) => {
    expect(Array.from(be.read(be.fromF32("q8_0", Q.shape, Q.x)))).toEqual(Q.q8_0);
    expect(Array.from(be.read(be.fromF32("q4_0", Q.shape, Q.x)))).toEqual(Q.q4_0);
    expect(Array.from(be.read(be.fromF32("f16", Q.shape, Q.x)))).toEqual(Q.f16);
  });

  const M = G.matmul_q8_0;
  it("q8_0 matmul (reference backend is exact)", () => {
    const w = P.ref.tensor("q8_0", M.w_shape, Uint8Array.from(M.w_q8_0));
    const x = P.ref.tensor("f32", M.x_shape, M.x);
    const y = P.ref.empty("f32", [M.x_shape[0], M.w_shape[0]]);
    P.ref.matmul(y, w, x);
    expect(nmse(P.ref.read(y) as Float32Array, M.y)).toBeLessThan(1e-13);
  });
  it("q8_0 matmul (wasm backend, activations quantized per block)", () => {
    const w = P.wasm.tensor("q8_0", M.w_shape, Uint8Array.from(M.w_q8_0));
    const x = P.wasm.tensor("f32", M.x_shape, M.x);
    const y = P.wasm.empty("f32", [M.x_shape[0], M.w_shape[0]]);
    P.wasm.matmul(y, w, x);
    expect(nmse(P.wasm.read(y) as Float32Array, M.y)).toBeLessThan(5e-4);
  });
});
