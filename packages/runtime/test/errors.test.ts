/** Bad input gets a typed error naming the problem, before any kernel runs, on both backends. */
import { beforeAll, describe, expect, it } from "vitest";
import {
  AliasError,
  AlignmentError,
  type Backend,
  CanaryError,
  createBackend,
  DTypeError,
  hostSupportsRelaxedSimd,
  KernelLoadError,
  NonFiniteError,
  OutOfRangeError,
  ropeFrequencies,
  ShapeError,
  TensorStateError,
  WasmBackend,
} from "../src/index";
import { backends, type Pair } from "./util";

let P: Pair;
beforeAll(async () => {
  P = await backends();
});

const both = (f: (be: Backend) => void) => () => {
  for (const be of [P.wasm, P.ref] as Backend[]) f(be);
};

describe("tensor creation", () => {
  it(
    "rejects wrong data lengths, types, shapes and dtypes",
    both((be) => {
      expect(() => be.tensor("f32", [2, 3], new Float32Array(5))).toThrow(OutOfRangeError);
      expect(() => be.tensor("f32", [2, 3], new Float32Array(5))).toThrow(/24 bytes/);
      expect(() => be.tensor("f32", [2, 3], new Int32Array(6))).toThrow(DTypeError);
      expect(() => be.tensor("q8_0", [2, 33])).toThrow(ShapeError);
      expect(() => be.tensor("q8_0", [2, 32], new Uint8Array(67))).toThrow(OutOfRangeError);
      expect(() => be.tensor("f32", [2, -1])).toThrow(ShapeError);
      expect(() => be.tensor("f32", [1.5])).toThrow(ShapeError);
      expect(() => be.tensor("bf16" as never, [2])).toThrow(DTypeError);
      expect(() => be.tensor("f16", [2], [1, 2])).toThrow(DTypeError);
    }),
  );

  it(
    "refuses q8_0/q4_0 blocks whose f16 scale is Inf or NaN (a corrupt file)",
    both((be) => {
      const raw = new Uint8Array(34);
      raw[1] = 0x7c; // +Inf
      expect(() => be.tensor("q8_0", [1, 32], raw)).toThrow(NonFiniteError);
      const q4 = new Uint8Array(18 * 2);
      q4[18 + 1] = 0x7e; // NaN in block 1
      expect(() => be.tensor("q4_0", [1, 64], q4)).toThrow(/block 1/);
    }),
  );

  it(
    "refuses to quantize NaN/Inf to a block format",
    both((be) => {
      expect(() =>
        be.fromF32(
          "q8_0",
          [1, 32],
          Float32Array.from({ length: 32 }, (_, i) => (i === 3 ? Number.NaN : i)),
        ),
      ).toThrow(NonFiniteError);
      expect(() =>
        be.fromF32(
          "q4_0",
          [1, 32],
          Float32Array.from({ length: 32 }, (_, i) => (i === 3 ? Number.POSITIVE_INFINITY : i)),
        ),
      ).toThrow(NonFiniteError);
    }),
  );
});

describe("op arguments", () => {
  it(
    "matmul checks shapes, dtypes and aliasing",
    both((be) => {
      const w = be.tensor("f32", [4, 8]);
      const x = be.tensor("f32", [2, 8]);
      const y = be.tensor("f32", [2, 4]);
      expect(() => be.matmul(be.tensor("f32", [2, 5]), w, x)).toThrow(ShapeError);
      expect(() => be.matmul(y, w, be.tensor("f32", [2, 7]))).toThrow(ShapeError);
      expect(() => be.matmul(y, be.tensor("f32", [4, 8, 1]), x)).toThrow(ShapeError);
      expect(() => be.matmul(y, be.tensor("i32", [4, 8]), x)).toThrow(DTypeError);
      expect(() => be.matmul(be.tensor("f16", [2, 4]), w, x)).toThrow(DTypeError);
      expect(() => be.matmul(x, be.tensor("f32", [8, 8]), x)).toThrow(AliasError);
    }),
  );

  it(
    "element-wise ops allow exact in-place but not partial overlap",
    both((be) => {
      const buf = be.tensor("u8", [64]);
      const a = be.view(buf, 0, "f32", [8]);
      const b = be.view(buf, 16, "f32", [8]);
      expect(() => be.silu(b, a)).toThrow(AliasError);
      be.silu(a, a);
      expect(() => be.softmax(be.tensor("f32", [3]), be.tensor("f32", [4]))).toThrow(ShapeError);
      expect(() => be.add(be.tensor("f32", [2, 4]), be.tensor("f32", [2, 4]), be.tensor("f32", [3]))).toThrow(ShapeError);
      expect(() => be.rmsnorm(a, a, null, Number.NaN)).toThrow(OutOfRangeError);
      expect(() => be.rmsnorm(a, a, be.tensor("f32", [7]), 1e-5)).toThrow(ShapeError);
    }),
  );

  it(
    "rope checks positions, dims and frequencies",
    both((be) => {
      const x = be.tensor("f32", [2, 3, 8]);
      const { invFreq } = ropeFrequencies(8, 10000);
      expect(() => be.rope(x, [0], { invFreq, style: "neox" })).toThrow(ShapeError);
      expect(() => be.rope(x, [0, -1], { invFreq, style: "neox" })).toThrow(OutOfRangeError);
      expect(() => be.rope(x, [0, 1.5], { invFreq, style: "neox" })).toThrow(OutOfRangeError);
      expect(() => be.rope(x, [0, 1], { invFreq, style: "neox", ropeDim: 6 })).toThrow(ShapeError);
      expect(() => be.rope(x, [0, 1], { invFreq, style: "neox", ropeDim: 10 })).toThrow(ShapeError);
      expect(() => be.rope(x, [0, 1], { invFreq, style: "sideways" as never })).toThrow(OutOfRangeError);
      expect(() => ropeFrequencies(7, 10000)).toThrow(OutOfRangeError);
      expect(() => ropeFrequencies(8, 10000, { type: "llama3", factor: 8, lowFreqFactor: 4, highFreqFactor: 1, originalMaxPositionEmbeddings: 8192 })).toThrow(
        OutOfRangeError,
      );
    }),
  );

  it(
    "attention checks heads, cache length and tree masks",
    both((be) => {
      const q = be.tensor("f32", [3, 4, 8]);
      const k = be.tensor("f32", [2, 10, 8]);
      const v = be.tensor("f32", [2, 10, 8]);
      const o = be.tensor("f32", [3, 4, 8]);
      expect(() => be.attention(o, q, k, v, { kvLen: 11, mask: "causal" })).toThrow(OutOfRangeError);
      expect(() => be.attention(o, q, k, v, { kvLen: 2, mask: "causal" })).toThrow(OutOfRangeError);
      expect(() => be.attention(o, q, be.tensor("f32", [3, 10, 8]), be.tensor("f32", [3, 10, 8]), { kvLen: 5, mask: "causal" })).toThrow(ShapeError);
      expect(() => be.attention(o, q, k, be.tensor("f32", [2, 9, 8]), { kvLen: 5, mask: "causal" })).toThrow(ShapeError);
      const noSelf = new Uint8Array([1, 0, 0, 1, 0, 0, 1, 0, 1]);
      expect(() => be.attention(o, q, k, v, { kvLen: 5, mask: noSelf })).toThrow(/itself/);
      const future = new Uint8Array([1, 1, 0, 0, 1, 0, 0, 0, 1]);
      expect(() => be.attention(o, q, k, v, { kvLen: 5, mask: future })).toThrow(/ancestors/);
      expect(() => be.attention(o, q, k, v, { kvLen: 5, mask: new Uint8Array(4) })).toThrow(ShapeError);
      expect(() => be.attention(q, q, k, v, { kvLen: 5, mask: "causal" })).toThrow(AliasError);
    }),
  );

  it(
    "getRows, topk and argmax check ranges",
    both((be) => {
      const table = be.tensor("f32", [5, 4]);
      expect(() => be.getRows(be.tensor("f32", [2, 4]), table, [0, 5])).toThrow(/id 5 at position 1/);
      expect(() => be.getRows(be.tensor("f32", [2, 4]), table, [0, -1])).toThrow(OutOfRangeError);
      expect(() => be.getRows(be.tensor("f32", [3, 4]), table, [0, 1])).toThrow(ShapeError);
      expect(() => be.topk(table, 0)).toThrow(OutOfRangeError);
      expect(() => be.topk(table, 5)).toThrow(OutOfRangeError);
      expect(() => be.argmax(be.tensor("i32", [4]))).toThrow(DTypeError);
    }),
  );
});

describe("tensor state", () => {
  it(
    "freed tensors and tensors of another backend are refused",
    both((be) => {
      const t = be.tensor("f32", [4]);
      t.free();
      expect(() => be.silu(be.tensor("f32", [4]), t)).toThrow(TensorStateError);
      expect(() => be.read(t)).toThrow(/freed/);
      const other = be === P.wasm ? P.ref : P.wasm;
      expect(() => be.silu(be.tensor("f32", [4]), other.tensor("f32", [4]))).toThrow(/belongs to backend/);
    }),
  );

  it(
    "views must be inside their parent and aligned; they die with it",
    both((be) => {
      const buf = be.tensor("u8", [100]);
      expect(() => be.view(buf, 90, "f32", [4])).toThrow(OutOfRangeError);
      expect(() => be.view(buf, 2, "f32", [4])).toThrow(AlignmentError);
      expect(() => be.view(buf, 1, "q8_0", [32])).toThrow(AlignmentError);
      const v = be.view(buf, 4, "f32", [4]);
      be.write(v, new Float32Array([1, 2, 3, 4]));
      expect(Array.from(be.read(v) as Float32Array)).toEqual([1, 2, 3, 4]);
      const vv = be.view(v, 4, "f32", [2]);
      expect(Array.from(be.read(vv) as Float32Array)).toEqual([2, 3]);
      buf.free();
      expect(() => be.read(v)).toThrow(TensorStateError);
      expect(() => be.read(vv)).toThrow(TensorStateError);
    }),
  );
});

describe("wasm specifics", () => {
  it("a write past an allocation is caught by the canaries", async () => {
    const be = await WasmBackend.create({ canaries: true });
    const t = be.tensor("f32", [4]);
    be.checkCanaries();
    const p = t.storage as number;
    new Uint8Array(be.memory.buffer)[p + 16] ^= 0xff; // one byte past the end
    expect(() => be.checkCanaries()).toThrow(CanaryError);
    expect(() => t.free()).toThrow(CanaryError);
  });

  it("memory exhaustion is an OutOfRangeError, and the backend keeps working", async () => {
    const be = await WasmBackend.create({ initialMemoryBytes: 1 << 20, maximumMemoryBytes: 4 << 20 });
    const a = be.tensor("f32", [256 * 1024]);
    expect(() => be.tensor("f32", [1024 * 1024])).toThrow(/memory exhausted/);
    a.free();
    const b = be.tensor("f32", [512 * 1024]);
    expect(b.numel).toBe(512 * 1024);
  });

  it("loading from a bad source names the source", async () => {
    await expect(WasmBackend.create({ module: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 99]) })).rejects.toThrow(KernelLoadError);
    await expect(WasmBackend.create({ module: new URL("file:///nonexistent/kernels.wasm") })).rejects.toThrow(/could not load the baseline kernels/);
    await expect(WasmBackend.create({ simd: "fast" as never })).rejects.toThrow(KernelLoadError);
    await expect(createBackend("cuda" as never)).rejects.toThrow(TypeError);
  });

  it("relaxed SIMD follows feature detection: 'auto' picks what the host validates, 'relaxed' refuses where missing", async () => {
    const auto = await WasmBackend.create({ simd: "auto" });
    if (hostSupportsRelaxedSimd()) {
      expect(auto.variant).toBe("relaxed");
      expect(auto.kernels.relaxed()).toBe(1);
    } else {
      expect(auto.variant).toBe("baseline");
      expect(auto.kernels.relaxed()).toBe(0);
      await expect(WasmBackend.create({ simd: "relaxed" })).rejects.toThrow(/relaxed SIMD was requested/);
    }
    const base = await WasmBackend.create();
    expect(base.variant).toBe("baseline");
    expect(base.kernels.relaxed()).toBe(0);
  });

  it("a module that is not edgespec's kernels is refused", async () => {
    // an empty but valid module importing nothing
    const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
    await expect(WasmBackend.create({ module: empty })).rejects.toThrow(/lacks "heap_base"/);
  });
});
