/**
 * The hand-written ONNX writer (src/peers/onnx-graph.ts), checked by running its graphs in
 * onnxruntime-web (wasm EP, one thread) against a float64 JS reference and against our
 * WasmBackend matmul on the same q4_0 / q8_0 weights.
 *
 * Tolerances (normalised squared error, sum (a - b)^2 / sum b^2):
 * - f32 MatMul and MatMulNBits vs float64 on the exact (dequantized) weights: 1e-10; only
 *   float32 rounding separates them (observed ~1e-13).
 * - DynamicQuantizeMatMul vs float64 on its int8 weights: 1e-4; ORT quantizes X to uint8
 *   with one scale per call (for X uniform in [-1, 1]: (2/255)^2/12 / (1/3) ~ 1.5e-5).
 * - our q4_0 / q8_0 matmul vs ORT MatMulNBits on the same blocks: 1e-4; our kernels
 *   quantize X to int8 per block of 32 (scale max|x|/127: ~1.5e-5 for X uniform in [-1, 1]),
 *   ORT computes with float X.
 * - our f32 matmul vs ORT MatMul: 1e-10.
 */

import { splitmix32, WasmBackend } from "@edgespec/runtime";
import type * as Ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import {
  dequantizeNBits,
  encodeModel,
  identityModel,
  int8PerColumn,
  type MatmulWeight,
  matmulModel,
  ProtoWriter,
  q4_0ToMatMulNBits,
  q8_0ToMatMulNBits,
  transposeToKN,
} from "../src/peers/onnx-graph";
import { loadOrt } from "../src/peers/ort";

let ort: typeof Ort;
let be: WasmBackend;

beforeAll(async () => {
  ort = await loadOrt(1);
  be = await WasmBackend.create();
});

const rand = splitmix32(42);
const uniform = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (2 * rand() - 1) * scale);

/** y[n, N] = x[n, K] . W[N, K]^T in float64. */
function reference(x: Float32Array, w: Float32Array, n: number, K: number, N: number): Float64Array {
  const y = new Float64Array(n * N);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < N; c++) {
      let a = 0;
      for (let k = 0; k < K; k++) a += x[r * K + k] * w[c * K + k];
      y[r * N + c] = a;
    }
  }
  return y;
}

function nmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let e = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return e / s;
}

async function runOrt(weights: MatmulWeight[], x: Float32Array, n: number, K: number, N: number, accuracyLevel?: number): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(matmulModel({ n: "n", K, N, weights, accuracyLevel }));
  try {
    const out = await session.run({ X: new ort.Tensor("float32", x, [n, K]) });
    return weights.map((_, i) => out[`Y${i}`].data as Float32Array);
  } finally {
    await session.release();
  }
}

function ourMatmul(dtype: "f32" | "q4_0" | "q8_0", w: Float32Array, x: Float32Array, n: number, K: number, N: number, layout?: "rows" | "x4") {
  const wt = be.fromF32(dtype, [N, K], w, layout ? { layout } : {});
  const xt = be.tensor("f32", [n, K], x);
  const yt = be.empty("f32", [n, N]);
  be.matmul(yt, wt, xt);
  const y = (be.read(yt) as Float32Array).slice();
  const rows = dtype === "f32" ? new Uint8Array(0) : (be.read(wt) as Uint8Array).slice();
  const deq = be.readF32(wt);
  for (const t of [wt, xt, yt]) t.free();
  return { y, rows, deq };
}

describe("protobuf wire format", () => {
  const bytesOf = (f: (w: ProtoWriter) => void) => {
    const w = new ProtoWriter();
    f(w);
    return Array.from(w.finish());
  };

  it("writes varints low group first", () => {
    expect(bytesOf((w) => w.varint(1, 0))).toEqual([0x08, 0x00]);
    expect(bytesOf((w) => w.varint(1, 150))).toEqual([0x08, 0x96, 0x01]);
    expect(bytesOf((w) => w.varint(2, 300))).toEqual([0x10, 0xac, 0x02]);
    expect(bytesOf((w) => w.varint(1, 2 ** 40))).toEqual([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    // negative int64: ten bytes of two's complement
    expect(bytesOf((w) => w.varint(1, -1))).toEqual([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it("writes length-delimited fields, floats and nested messages", () => {
    expect(bytesOf((w) => w.string(2, "ab"))).toEqual([0x12, 0x02, 0x61, 0x62]);
    expect(bytesOf((w) => w.float(2, 1))).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
    const inner = new ProtoWriter().varint(1, 1);
    expect(bytesOf((w) => w.message(3, inner))).toEqual([0x1a, 0x02, 0x08, 0x01]);
    // big payloads are kept by reference and land intact
    const big = Uint8Array.from({ length: 300 }, (_, i) => i & 255);
    const out = bytesOf((w) => w.bytes(9, big).varint(1, 7));
    expect(out.slice(0, 3)).toEqual([0x4a, 0xac, 0x02]);
    expect(out.slice(3, 303)).toEqual(Array.from(big));
    expect(out.slice(303)).toEqual([0x08, 0x07]);
  });

  it("encodes a model that onnxruntime loads (Identity)", async () => {
    const s = await ort.InferenceSession.create(identityModel(4));
    const out = await s.run({ X: new ort.Tensor("float32", Float32Array.of(1, 2, 3, 4), [1, 4]) });
    expect(Array.from(out.Y.data as Float32Array)).toEqual([1, 2, 3, 4]);
    await s.release();
  });

  it("encodes float, ints and string attributes (a Gemm with alpha, a Transpose with perm)", async () => {
    const bytes = encodeModel({
      name: "attrs",
      nodes: [
        { opType: "Transpose", inputs: ["X"], outputs: ["T"], attributes: [{ name: "perm", ints: [1, 0] }] },
        { opType: "Gemm", inputs: ["T", "I"], outputs: ["Y"], attributes: [{ name: "alpha", float: 2 }] },
      ],
      initializers: [{ name: "I", dataType: 1, dims: [2, 2], raw: new Uint8Array(Float32Array.of(1, 0, 0, 1).buffer) }],
      inputs: [{ name: "X", elemType: 1, shape: [2, 2] }],
      outputs: [{ name: "Y", elemType: 1, shape: [2, 2] }],
    });
    const s = await ort.InferenceSession.create(bytes);
    const out = await s.run({ X: new ort.Tensor("float32", Float32Array.of(1, 2, 3, 4), [2, 2]) });
    expect(Array.from(out.Y.data as Float32Array)).toEqual([2, 6, 4, 8]);
    await s.release();
  });
});

describe("MatMul (f32)", () => {
  it("matches a float64 reference and our f32 matmul", async () => {
    const n = 3;
    const K = 96;
    const N = 40;
    const w = uniform(N * K, 0.1);
    const x = uniform(n * K);
    const [y] = await runOrt([{ kind: "f32", w: transposeToKN(w, N, K) }], x, n, K, N);
    expect(nmse(y, reference(x, w, n, K, N))).toBeLessThan(1e-10);
    expect(nmse(ourMatmul("f32", w, x, n, K, N).y, y)).toBeLessThan(1e-10);
  });

  it("runs several weight copies in one session, one output each", async () => {
    const n = 2;
    const K = 32;
    const N = 8;
    const ws = [uniform(N * K), uniform(N * K), uniform(N * K)];
    const x = uniform(n * K);
    const ys = await runOrt(
      ws.map((w) => ({ kind: "f32" as const, w: transposeToKN(w, N, K) })),
      x,
      n,
      K,
      N,
    );
    for (const [i, y] of ys.entries()) expect(nmse(y, reference(x, ws[i], n, K, N))).toBeLessThan(1e-10);
  });
});

describe("MatMulNBits from GGUF blocks", () => {
  const n = 4;
  const K = 128;
  const N = 36;

  it("q4_0 -> bits=4: the conversion keeps every weight, and ORT matches float64 and our q4_0 matmul", async () => {
    const w = uniform(N * K, 0.05);
    const x = uniform(n * K);
    for (const layout of ["rows", "x4"] as const) {
      const ours = ourMatmul("q4_0", w, x, n, K, N, layout);
      const nb = q4_0ToMatMulNBits(ours.rows, N, K);
      expect(nb.b.length).toBe(N * (K / 32) * 16);
      // exact: (nibble - 8) * f16 scale decodes to the same f32 in both formats
      expect(Array.from(dequantizeNBits(nb, N, K))).toEqual(Array.from(ours.deq));
      for (const acc of [undefined, 4]) {
        const [y] = await runOrt([nb], x, n, K, N, acc);
        expect(nmse(y, reference(x, ours.deq, n, K, N))).toBeLessThan(1e-10);
        expect(nmse(ours.y, y)).toBeLessThan(1e-4);
      }
    }
  });

  it("q4_0's nibble order is not MatMulNBits's: unshuffled blocks give wrong results", async () => {
    const w = uniform(N * K, 0.05);
    const x = uniform(n * K);
    const ours = ourMatmul("q4_0", w, x, n, K, N, "rows");
    const nb = q4_0ToMatMulNBits(ours.rows, N, K);
    const raw = new Uint8Array(nb.b.length);
    for (let i = 0; i < nb.scales.length; i++) raw.set(ours.rows.subarray(i * 18 + 2, i * 18 + 18), i * 16);
    const [y] = await runOrt([{ ...nb, b: raw }], x, n, K, N);
    expect(nmse(y, reference(x, ours.deq, n, K, N))).toBeGreaterThan(0.1);
  });

  it("q8_0 -> bits=8 (zero point 128): ORT matches float64 and our q8_0 matmul", async () => {
    const w = uniform(N * K, 0.05);
    const x = uniform(n * K);
    const ours = ourMatmul("q8_0", w, x, n, K, N, "rows");
    const nb = q8_0ToMatMulNBits(ours.rows, N, K);
    expect(Array.from(dequantizeNBits(nb, N, K))).toEqual(Array.from(ours.deq));
    const [y] = await runOrt([nb], x, n, K, N);
    expect(nmse(y, reference(x, ours.deq, n, K, N))).toBeLessThan(1e-10);
    expect(nmse(ours.y, y)).toBeLessThan(1e-4);
  });
});

describe("DynamicQuantizeMatMul (int8 per column)", () => {
  it("matches float64 on its int8 weights within uint8 activation rounding", async () => {
    const n = 3;
    const K = 96;
    const N = 40;
    const w = uniform(N * K, 0.05);
    const x = uniform(n * K);
    const q = int8PerColumn(w, N, K);
    const deq = new Float32Array(N * K);
    for (let r = 0; r < N; r++) for (let k = 0; k < K; k++) deq[r * K + k] = q.b[k * N + r] * q.scales[r];
    expect(nmse(deq, w)).toBeLessThan(1e-4); // int8 per row of 96 values
    const [y] = await runOrt([q], x, n, K, N);
    expect(nmse(y, reference(x, deq, n, K, N))).toBeLessThan(1e-4);
  });
});
