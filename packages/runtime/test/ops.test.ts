/**
 * Every op x dtype x awkward shape, run on the wasm backend and compared with the
 * reference backend by NMSE (ggml test-backend-ops style). Every wasm allocation is
 * fenced by canary bytes that are checked after each op, and the inputs must come back
 * unchanged, so a kernel writing anywhere but its output fails.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type Backend, type DType, f16ToF32, type RopeStyle, ropeFrequencies, type Tensor } from "../src/index";
import { quantizeQ8_0 } from "../src/reference/quant";
import { backends, nmse, type Pair, rng, sameBytes, snapshot, uniform } from "./util";

let P: Pair;
beforeAll(async () => {
  P = await backends();
});

/** One op applied to both backends on the same data. */
interface Case {
  /** create inputs/outputs on a backend */
  setup(be: Backend): { inputs: Tensor[]; outputs: Tensor[]; run(): ArrayLike<number>[] | undefined };
}

function runCase(c: Case, bound: number): { errs: number[]; ref: ArrayLike<number>[]; got: ArrayLike<number>[] } {
  const ref = c.setup(P.ref);
  const refExtra = ref.run() ?? [];
  const refOut = [...ref.outputs.map((t) => P.ref.readF32(t)), ...refExtra];
  const w = c.setup(P.wasm);
  const before = snapshot(w.inputs.filter((t) => !w.outputs.includes(t)));
  const extra = w.run() ?? [];
  P.wasm.checkCanaries();
  const after = snapshot(w.inputs.filter((t) => !w.outputs.includes(t)));
  expect(sameBytes(before, after), "an input changed").toBe(true);
  const got = [...w.outputs.map((t) => P.wasm.readF32(t)), ...extra];
  const errs = got.map((g, i) => nmse(g, refOut[i]));
  for (const t of [...w.inputs, ...w.outputs]) t.free();
  for (const t of [...ref.inputs, ...ref.outputs]) t.free();
  P.wasm.checkCanaries();
  for (const e of errs) expect(e).toBeLessThanOrEqual(bound);
  return { errs, ref: refOut, got };
}

const LENGTHS = [1, 3, 31, 33, 257, 4097];

describe("matmul", () => {
  const weightTypes: [DType, number][] = [
    ["f32", 1e-10],
    ["f16", 1e-10],
    // activations are quantized to int8 per block of 32 on this path, as in ggml
    ["q8_0", 5e-4],
    ["q4_0", 5e-4],
  ];
  // n >= 2 runs the GEMM paths (f16: token pairs): odd n leaves a token over, odd cols leave
  // column tails, and rows of 4 and 8 use the x4 layout.
  const tokenCounts = [1, 2, 3, 4, 5, 8, 17];
  for (const [dt, bound] of weightTypes) {
    const quant = dt === "q8_0" || dt === "q4_0";
    const colsList = quant ? [32, 96, 256, 4096] : LENGTHS;
    for (const rows of [1, 3, 4, 8, 31, 33, 257]) {
      for (const cols of colsList) {
        for (const n of tokenCounts) {
          if (rows * cols * n > 3e6) continue;
          it(`${dt} [${rows}x${cols}] x ${n} token(s)`, () => {
            const r = rng(rows * 7919 + cols * 31 + n);
            const W = uniform(r, rows * cols);
            const X = uniform(r, n * cols);
            const mm = (Xin: Float32Array): Case => ({
              setup(be) {
                const w = be.fromF32(dt, [rows, cols], W);
                const x = be.tensor("f32", [n, cols], Xin);
                const y = be.empty("f32", [n, rows]);
                return { inputs: [w, x], outputs: [y], run: () => void be.matmul(y, w, x) };
              },
            });
            // under 8 outputs NMSE is one noisy ratio; those get an elementwise bound instead
            const { got, ref } = runCase(mm(X), rows * n >= 8 ? bound : Number.POSITIVE_INFINITY);
            if (rows * n < 8 && !quant) {
              for (let t = 0; t < n; t++)
                for (let j = 0; j < rows; j++) {
                  // rounding in a dot product grows with the sum of its terms' magnitudes
                  let scale = 0;
                  for (let c = 0; c < cols; c++) scale += Math.abs(W[j * cols + c] * X[t * cols + c]);
                  const i = t * rows + j;
                  expect(Math.abs(got[0][i] - ref[0][i]), `output [${t}, ${j}]`).toBeLessThanOrEqual(1e-6 * scale);
                }
            }
            if (quant) {
              // Exact check of the integer path: the reference fed the activations as the
              // kernel quantizes them (int8 per block of 32, f32 scale) must agree closely.
              const ref = mm(quantizedActivations(X)).setup(P.ref);
              ref.run();
              expect(nmse(got[0], P.ref.readF32(ref.outputs[0]))).toBeLessThan(1e-11);
            }
          });
        }
      }
    }
  }

  for (const dt of ["f32", "f16", "q8_0", "q4_0"] as const) {
    it(`${dt}: each token's output is the same bits whatever n (batch, verify and step agree)`, () => {
      const [rows, cols, n] = [36, dt === "f32" || dt === "f16" ? 99 : 96, 17];
      const r = rng(7);
      const W = uniform(r, rows * cols);
      const X = uniform(r, n * cols);
      const w = P.wasm.fromF32(dt, [rows, cols], W);
      const x = P.wasm.tensor("f32", [n, cols], X);
      const y = P.wasm.empty("f32", [n, rows]);
      P.wasm.matmul(y, w, x);
      const all = P.wasm.read(y) as Float32Array;
      const x1 = P.wasm.empty("f32", [1, cols]);
      const y1 = P.wasm.empty("f32", [1, rows]);
      for (let t = 0; t < n; t++) {
        P.wasm.write(x1, X.subarray(t * cols, (t + 1) * cols));
        P.wasm.matmul(y1, w, x1);
        expect(Array.from(P.wasm.read(y1) as Float32Array)).toEqual(Array.from(all.subarray(t * rows, (t + 1) * rows)));
      }
      for (const t of [w, x, y, x1, y1]) t.free();
    });
  }

  it("q8_0 matches ggml's integer semantics exactly (activations quantized per block)", () => {
    // Σ_b dw_b dx_b Σ_j qw qx, with dx kept in f32: the kernel's documented contract
    const rows = 12;
    const cols = 256;
    const r = rng(42);
    const W = uniform(r, rows * cols);
    const X = uniform(r, cols, -3, 3);
    const w = P.wasm.fromF32("q8_0", [rows, cols], W);
    const wq = P.ref.read(P.ref.fromF32("q8_0", [rows, cols], W)) as Uint8Array;
    const x = P.wasm.tensor("f32", [1, cols], X);
    const y = P.wasm.empty("f32", [1, rows]);
    P.wasm.matmul(y, w, x);
    const got = P.wasm.read(y) as Float32Array;
    const xq = new Uint8Array((cols / 32) * 34);
    quantizeQ8_0(X, xq);
    const want = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      for (let b = 0; b < cols / 32; b++) {
        const wo = ((i * cols) / 32) * 34 + b * 34;
        const dw = f16ToF32(wq[wo] | (wq[wo + 1] << 8));
        // the kernel keeps the activation scale in f32: recompute it as ggml does before the f16 store
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(X[b * 32 + j]));
        const dx = Math.fround(amax / 127);
        let s = 0;
        for (let j = 0; j < 32; j++) s += ((wq[wo + 2 + j] << 24) >> 24) * ((xq[b * 34 + 2 + j] << 24) >> 24);
        want[i] += dw * dx * s;
      }
    }
    expect(nmse(got, want)).toBeLessThan(1e-12);
  });
});

describe("norms and activations", () => {
  for (const rows of [1, 3]) {
    for (const dim of LENGTHS) {
      const r = rng(dim * 13 + rows);
      const X = uniform(r, rows * dim, -4, 4);
      const Wt = uniform(r, dim, 0.5, 1.5);
      const B = uniform(r, dim);
      it(`rmsnorm [${rows}x${dim}]`, () => {
        runCase(
          {
            setup(be) {
              const x = be.tensor("f32", [rows, dim], X);
              const w = be.tensor("f32", [dim], Wt);
              const y = be.empty("f32", [rows, dim]);
              return { inputs: [x, w], outputs: [y], run: () => void be.rmsnorm(y, x, w, 1e-6) };
            },
          },
          1e-10,
        );
      });
      it(`layernorm [${rows}x${dim}]`, () => {
        runCase(
          {
            setup(be) {
              const x = be.tensor("f32", [rows, dim], X);
              const w = be.tensor("f32", [dim], Wt);
              const b = be.tensor("f32", [dim], B);
              const y = be.empty("f32", [rows, dim]);
              return { inputs: [x, w, b], outputs: [y], run: () => void be.layernorm(y, x, w, b, 1e-12) };
            },
          },
          1e-10,
        );
      });
      it(`softmax [${rows}x${dim}] (in place)`, () => {
        runCase(
          {
            setup(be) {
              const x = be.tensor(
                "f32",
                [rows, dim],
                X.map((v) => v * 8),
              );
              return { inputs: [x], outputs: [x], run: () => void be.softmax(x, x) };
            },
          },
          1e-10,
        );
      });
      for (const op of ["silu", "gelu", "geluTanh"] as const) {
        it(`${op} [${rows}x${dim}]`, () => {
          runCase(
            {
              setup(be) {
                const x = be.tensor(
                  "f32",
                  [rows, dim],
                  X.map((v) => v * 3),
                );
                const y = be.empty("f32", [rows, dim]);
                return { inputs: [x], outputs: [y], run: () => void be[op](y, x) };
              },
            },
            1e-10,
          );
        });
      }
      it(`swiglu, add, mul (broadcast), scale [${rows}x${dim}]`, () => {
        const G = uniform(r, rows * dim, -5, 5);
        runCase(
          {
            setup(be) {
              const g = be.tensor("f32", [rows, dim], G);
              const u = be.tensor("f32", [rows, dim], X);
              const b = be.tensor("f32", [dim], B);
              const y1 = be.empty("f32", [rows, dim]);
              const y2 = be.empty("f32", [rows, dim]);
              const y3 = be.empty("f32", [rows, dim]);
              const y4 = be.empty("f32", [rows, dim]);
              return {
                inputs: [g, u, b],
                outputs: [y1, y2, y3, y4],
                run: () => {
                  be.swiglu(y1, g, u);
                  be.add(y2, u, b);
                  be.mul(y3, g, b);
                  be.scale(y4, g, 0.125);
                  return undefined;
                },
              };
            },
          },
          1e-12,
        );
      });
    }
  }

  it("softmax of rows with -Inf entries gives exact zeros there; all -Inf gives NaN like PyTorch", () => {
    const x = P.wasm.tensor("f32", [2, 5], [0, Number.NEGATIVE_INFINITY, 1, -200, Number.NEGATIVE_INFINITY, ...new Array(5).fill(Number.NEGATIVE_INFINITY)]);
    P.wasm.softmax(x, x);
    const v = P.wasm.read(x) as Float32Array;
    expect(v[1]).toBe(0);
    expect(v[4]).toBe(0);
    expect(v[0] + v[2] + v[3]).toBeCloseTo(1, 6);
    expect(Array.from(v.subarray(5)).every(Number.isNaN)).toBe(true);
  });
});

describe("rope", () => {
  const cases: [number, number, number, number, RopeStyle][] = [];
  for (const style of ["neox", "interleaved"] as RopeStyle[]) {
    for (const [nTok, nHeads, headDim, ropeDim] of [
      [1, 1, 2, 2],
      [3, 4, 8, 8],
      [7, 3, 64, 64],
      [5, 2, 96, 32],
      [2, 8, 128, 128],
    ])
      cases.push([nTok, nHeads, headDim, ropeDim, style]);
  }
  for (const [nTok, nHeads, headDim, ropeDim, style] of cases) {
    for (const scaling of ["default", "llama3"] as const) {
      it(`${style} tok=${nTok} heads=${nHeads} head=${headDim} rot=${ropeDim} ${scaling}`, () => {
        const r = rng(nTok * 100 + headDim + ropeDim);
        const X = uniform(r, nTok * nHeads * headDim);
        const pos = Array.from({ length: nTok }, () => Math.floor(r() * 20000));
        const f =
          scaling === "default"
            ? ropeFrequencies(ropeDim, 10000)
            : ropeFrequencies(ropeDim, 500000, { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
        runCase(
          {
            setup(be) {
              const x = be.tensor("f32", [nTok, nHeads, headDim], X);
              return { inputs: [x], outputs: [x], run: () => void be.rope(x, pos, { invFreq: f.invFreq, style, ropeDim, attentionFactor: 1.25 }) };
            },
          },
          1e-10,
        );
      });
    }
  }
});

describe("rope angle table (kept between calls)", () => {
  // the wasm backend keeps the last cos/sin table: a stale one would rotate by wrong angles
  it("follows changes of positions, frequencies (also in place), factor and token count", () => {
    const r = rng(4242);
    const [nTok, nHeads, headDim] = [3, 2, 16];
    const X = uniform(r, 6 * nTok * nHeads * headDim);
    const posA = [5, 900, 17];
    const posB = [5, 901, 17];
    runCase(
      {
        setup(be) {
          const xs = Array.from({ length: 6 }, (_, i) => be.tensor("f32", [nTok, nHeads, headDim], X.subarray(i * 96, (i + 1) * 96)));
          const x1 = be.tensor("f32", [1, nHeads, headDim], X.subarray(0, 32));
          const freq = ropeFrequencies(headDim, 10000).invFreq.slice();
          return {
            inputs: [...xs, x1],
            outputs: [...xs, x1],
            run: () => {
              be.rope(xs[0], posA, { invFreq: freq, style: "neox" });
              be.rope(xs[1], posA, { invFreq: freq, style: "neox" });
              for (let i = 0; i < freq.length; i++) freq[i] *= 0.5;
              be.rope(xs[2], posA, { invFreq: freq, style: "neox" });
              be.rope(xs[3], posB, { invFreq: freq, style: "interleaved" });
              be.rope(xs[4], posB, { invFreq: freq, style: "neox", attentionFactor: 0.5 });
              be.rope(x1, [901], { invFreq: freq, style: "neox", attentionFactor: 0.5 });
              be.rope(xs[5], posB, { invFreq: freq.subarray(0, 4), style: "neox", ropeDim: 8, attentionFactor: 0.5 });
              return undefined;
            },
          };
        },
      },
      1e-10,
    );
  });
});

describe("attention", () => {
  const grid: [number, number, number, number, number][] = [];
  for (const [nQ, kvLen] of [
    [1, 1],
    [1, 33],
    [3, 3],
    [3, 257],
    [8, 40],
  ]) {
    for (const [nHeads, nKv] of [
      [1, 1],
      [4, 2],
      [8, 1],
    ]) {
      for (const headDim of [3, 8, 64]) grid.push([nQ, kvLen, nHeads, nKv, headDim]);
    }
  }
  for (const [nQ, kvLen, nHeads, nKv, headDim] of grid) {
    for (const [maskKind, cache] of [
      ["none", "f32"],
      ["causal", "f32"],
      ["tree", "f32"],
      ["causal", "f16"],
      ["tree", "f16"],
    ] as const) {
      if (maskKind === "tree" && nQ < 3) continue;
      it(`${maskKind} q=${nQ} kv=${kvLen} heads=${nHeads}/${nKv} d=${headDim} ${cache} cache`, () => {
        const r = rng(nQ * 1000 + kvLen * 10 + nHeads + headDim);
        const cap = kvLen + 5;
        const Q = uniform(r, nQ * nHeads * headDim, -2, 2);
        const K = uniform(r, nKv * cap * headDim, -2, 2);
        const V = uniform(r, nKv * cap * headDim);
        let mask: "none" | "causal" | Uint8Array = maskKind === "tree" ? randomTree(r, nQ) : maskKind;
        if (maskKind === "none") mask = "none";
        runCase(
          {
            setup(be) {
              const q = be.tensor("f32", [nQ, nHeads, headDim], Q);
              // an f16 cache holds f16-rounded values in both backends, so the kernels are compared on the same inputs
              const k = be.fromF32(cache, [nKv, cap, headDim], K);
              const v = be.fromF32(cache, [nKv, cap, headDim], V);
              const o = be.empty("f32", [nQ, nHeads, headDim]);
              return { inputs: [q, k, v], outputs: [o], run: () => void be.attention(o, q, k, v, { kvLen, mask }) };
            },
          },
          1e-10,
        );
      });
    }
  }

  it("a tree mask is the same as running each root-to-leaf path causally", () => {
    // tree: 0 -> 1 -> 2, 0 -> 3; query 2 must equal causal attention over prefix + [0,1,2]
    const be = P.wasm;
    const r = rng(9);
    const [nHeads, d, prefix] = [2, 8, 4];
    const nodes = 4;
    const cap = prefix + nodes;
    const K = uniform(r, nHeads * cap * d);
    const V = uniform(r, nHeads * cap * d);
    const Q = uniform(r, nodes * nHeads * d);
    const parent = [-1, 0, 1, 0];
    const mask = new Uint8Array(nodes * nodes);
    for (let i = 0; i < nodes; i++) for (let j = i; j >= 0; j = parent[j]) mask[i * nodes + j] = 1;
    const q = be.tensor("f32", [nodes, nHeads, d], Q);
    const k = be.tensor("f32", [nHeads, cap, d], K);
    const v = be.tensor("f32", [nHeads, cap, d], V);
    const o = be.empty("f32", [nodes, nHeads, d]);
    be.attention(o, q, k, v, { kvLen: cap, mask });
    const tree = be.read(o) as Float32Array;
    // path 0,1,2 laid out contiguously after the prefix: same K/V rows as slots 4,5,6
    const qp = be.tensor("f32", [3, nHeads, d], Q.slice(0, 3 * nHeads * d));
    const op = be.empty("f32", [3, nHeads, d]);
    be.attention(op, qp, k, v, { kvLen: prefix + 3, mask: "causal" });
    const path = be.read(op) as Float32Array;
    expect(nmse(tree.subarray(0, 3 * nHeads * d), path)).toBeLessThan(1e-14);
    for (const t of [q, k, v, o, qp, op]) t.free();
  });
});

/** x -> d * round(x / d) per block of 32, d = amax / 127 in f32: what the q8_0/q4_0 matmul multiplies. */
function quantizedActivations(X: Float32Array): Float32Array {
  const out = new Float32Array(X.length);
  for (let b = 0; b < X.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(X[b * 32 + j]));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    for (let j = 0; j < 32; j++) {
      const v = Math.fround(X[b * 32 + j] * id);
      out[b * 32 + j] = d * (Math.sign(v) * Math.floor(Math.abs(v) + 0.5));
    }
  }
  return out;
}

function randomTree(r: () => number, n: number): Uint8Array {
  const mask = new Uint8Array(n * n);
  const parent = [-1];
  for (let i = 1; i < n; i++) parent.push(Math.floor(r() * i));
  for (let i = 0; i < n; i++) for (let j = i; j >= 0; j = parent[j]) mask[i * n + j] = 1;
  return mask;
}

describe("selection", () => {
  for (const dim of LENGTHS) {
    it(`argmax and topk over [3x${dim}] with ties and NaN`, () => {
      const r = rng(dim);
      // few distinct values -> many ties; a NaN and -Inf sprinkled in
      const X = Float32Array.from({ length: 3 * dim }, () => Math.round(r() * 6) - 3);
      X[Math.floor(r() * X.length)] = Number.NaN;
      X[Math.floor(r() * X.length)] = Number.NEGATIVE_INFINITY;
      for (const k of [1, Math.min(dim, 5), Math.min(dim, 40), dim]) {
        const a = P.wasm.tensor("f32", [3, dim], X);
        const b = P.ref.tensor("f32", [3, dim], X);
        expect(Array.from(P.wasm.argmax(a))).toEqual(Array.from(P.ref.argmax(b)));
        const tw = P.wasm.topk(a, k);
        const tr = P.ref.topk(b, k);
        expect(Array.from(tw.indices)).toEqual(Array.from(tr.indices));
        expect(Array.from(tw.values)).toEqual(Array.from(tr.values));
        P.wasm.checkCanaries();
        a.free();
        b.free();
      }
    });
  }

  it("an all-NaN row has argmax -1 and topk padded with -1/-Inf", () => {
    const a = P.wasm.tensor("f32", [1, 6], new Float32Array(6).fill(Number.NaN));
    expect(Array.from(P.wasm.argmax(a))).toEqual([-1]);
    const t = P.wasm.topk(a, 2);
    expect(Array.from(t.indices)).toEqual([-1, -1]);
    expect(Array.from(t.values)).toEqual([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  });
});

describe("conversions (bit-exact)", () => {
  for (const dt of ["f16", "q8_0", "q4_0"] as const) {
    for (const [rows, cols] of [
      [1, 32],
      [3, 64],
      [4, 96],
      [8, 256],
      [33, 128],
    ]) {
      it(`${dt} quantize, dequantize, getRows [${rows}x${cols}]`, () => {
        const r = rng(rows * cols);
        const X = uniform(r, rows * cols, -10, 10);
        // edge values: exact zeros block, tiny values (f16 subnormal scales), halves
        X.fill(0, 0, Math.min(32, X.length));
        if (X.length > 64) for (let i = 32; i < 64; i++) X[i] = (i - 48) * 1e-6;
        const bytes: Uint8Array[] = [];
        const deq: Float32Array[] = [];
        const rowsOut: Float32Array[] = [];
        const ids = [rows - 1, 0, Math.floor(rows / 2), rows - 1];
        for (const be of [P.wasm, P.ref] as Backend[]) {
          const t = be.fromF32(dt, [rows, cols], X);
          const raw = be.read(t);
          bytes.push(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice());
          deq.push(be.readF32(t));
          const g = be.empty("f32", [ids.length, cols]);
          be.getRows(g, t, ids);
          rowsOut.push(be.read(g) as Float32Array);
          t.free();
          g.free();
        }
        expect(bytes[0]).toEqual(bytes[1]);
        expect(Array.from(deq[0])).toEqual(Array.from(deq[1]));
        expect(Array.from(rowsOut[0])).toEqual(Array.from(rowsOut[1]));
        P.wasm.checkCanaries();
      });
    }
  }

  it("f16 conversion is exact for every one of the 65536 bit patterns", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const t = P.wasm.tensor("f16", [65536], all);
    const got = P.wasm.readF32(t);
    for (let i = 0; i < 65536; i++) {
      const want = f16ToF32(i);
      if (!(Object.is(got[i], want) || (Number.isNaN(got[i]) && Number.isNaN(want)))) throw new Error(`f16 0x${i.toString(16)}: got ${got[i]} want ${want}`);
    }
    // and back: every finite f16 value round-trips exactly
    const back = P.wasm.fromF32(
      "f16",
      [65536],
      got.map((v) => (Number.isFinite(v) ? v : 0)),
    );
    const bits = P.wasm.read(back) as Uint16Array;
    for (let i = 0; i < 65536; i++) {
      if (Number.isFinite(got[i]) && bits[i] !== i && !(got[i] === 0 && (bits[i] & 0x7fff) === 0))
        throw new Error(`f16 0x${i.toString(16)} came back as 0x${bits[i].toString(16)}`);
    }
  });
});

describe("copy", () => {
  it("copies bytes between views, overlapping ones as memmove, on both backends", () => {
    const src = Float32Array.from({ length: 64 }, (_, i) => i + 0.5);
    // expected: what a memmove of 40 floats from offset 4 to offset 12 gives
    const want = Float32Array.from(src);
    want.copyWithin(12, 4, 44);
    for (const be of [P.wasm, P.ref] as Backend[]) {
      const t = be.tensor("f32", [64], src);
      be.copy(be.view(t, 12 * 4, "f32", [40]), be.view(t, 4 * 4, "f32", [5, 8]));
      expect(Array.from(be.read(t) as Float32Array)).toEqual(Array.from(want));
      // and backwards (destination before source)
      const u = be.tensor("f32", [64], src);
      be.copy(be.view(u, 0, "f32", [40]), be.view(u, 16, "f32", [40]));
      expect(Array.from((be.read(u) as Float32Array).subarray(0, 40))).toEqual(Array.from(src.subarray(4, 44)));
      expect(() => be.copy(be.view(t, 0, "f32", [4]), be.view(t, 0, "f32", [5]))).toThrow(/sizes differ/);
      expect(() => be.copy(be.view(t, 0, "u8", [16]), be.view(t, 16, "f32", [4]))).toThrow(/dtypes differ/);
      t.free();
      u.free();
    }
    P.wasm.checkCanaries();
  });
});
