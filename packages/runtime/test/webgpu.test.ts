/**
 * The WebGPU backend against the reference backend, op by op (ggml test-backend-ops style),
 * on Dawn + SwiftShader in Node. Every output is a view at an odd place inside a larger
 * buffer filled with a canary pattern, and inputs share that buffer, so a shader writing
 * outside its output, or binding two views of one buffer wrongly, fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  BackendUnavailableError,
  byteSize,
  type DType,
  ReferenceBackend,
  ropeFrequencies,
  type Tensor,
  WebGPUBackend,
  WebGPUError,
} from "../src/index";
import { nmse, rng, uniform } from "./util";
import { nodeGpu } from "./webgpu-gpu";

let gpu: WebGPUBackend;
let small: WebGPUBackend;
const ref = new ReferenceBackend();

beforeAll(async () => {
  const g = nodeGpu();
  gpu = await WebGPUBackend.create({ gpu: g });
  // a 4 KiB binding limit: every weight of the matmul cases is split between buffers
  small = await WebGPUBackend.create({ gpu: g, maxBindingBytes: 4096 });
});

afterAll(() => {
  gpu?.destroy();
  small?.destroy();
});

const CANARY = 0x5a;

/**
 * Tensors for one case, all views into one arena per backend (so ops see shared buffers),
 * each padded by canary bytes.
 */
class Arena {
  private readonly root: Tensor;
  private at = 64;
  readonly views: { t: Tensor; start: number; end: number }[] = [];
  constructor(
    readonly be: Backend,
    bytes: number,
  ) {
    this.root = be.tensor("u8", [bytes + 4096], new Uint8Array(bytes + 4096).fill(CANARY));
  }
  make(dtype: DType, shape: number[], data?: Uint8Array | Float32Array): Tensor {
    const bytes = byteSize(dtype, shape);
    const t = this.be.view(this.root, this.at, dtype, shape);
    if (data) this.be.write(t, data);
    this.views.push({ t, start: this.at, end: this.at + bytes });
    this.at = (this.at + bytes + 64 + 3) & ~3;
    return t;
  }
  async canariesIntact(): Promise<boolean> {
    const all = (await this.be.readAsync(this.root)) as Uint8Array;
    const inside = new Uint8Array(all.length);
    for (const v of this.views) inside.fill(1, v.start, v.end);
    return all.every((b, i) => inside[i] === 1 || b === CANARY);
  }
}

interface Case {
  name: string;
  bound: number;
  /** builds inputs on a backend's arena and runs the op; returns the output tensors */
  run(a: Arena, be: Backend): Tensor[];
}

async function check(c: Case, be: WebGPUBackend = gpu): Promise<number> {
  const ra = new Arena(ref, 1 << 20);
  const want = c.run(ra, ref).map((t) => ref.readF32(t));
  const ga = new Arena(be, 1 << 20);
  const outs = c.run(ga, be);
  const got = await Promise.all(outs.map((t) => be.readF32Async(t)));
  expect(await ga.canariesIntact(), `${c.name}: bytes outside the outputs changed`).toBe(true);
  const err = Math.max(...got.map((g, i) => nmse(g, want[i])));
  expect(err, c.name).toBeLessThanOrEqual(c.bound);
  return err;
}

/** Values stored as dtype: the data tensor() takes for it (f16 as Uint16Array, blocks as bytes). */
function encoded(values: Float32Array, dtype: DType, shape: number[]): Float32Array | Uint8Array {
  if (dtype === "f32") return values;
  const t = ref.fromF32(dtype, shape, values);
  const b = ref.read(t);
  t.free();
  return dtype === "f16" ? (new Uint16Array(b as Uint16Array) as unknown as Uint8Array) : new Uint8Array(b as Uint8Array);
}

const matmulCases: Case[] = [];
for (const dtype of ["f32", "f16", "q8_0", "q4_0"] as DType[]) {
  for (const [rows, cols, n] of [
    [1, 32, 1],
    [7, 64, 1],
    [33, 96, 3],
    [64, 256, 9],
    [130, 576, 17],
  ]) {
    matmulCases.push({
      name: `matmul ${dtype} [${rows}x${cols}] x ${n}`,
      bound: 1e-10,
      run(a, be) {
        const r = rng(rows * 131 + cols + n);
        const wv = uniform(r, rows * cols);
        const w = a.make(dtype, [rows, cols], encoded(wv, dtype, [rows, cols]));
        const x = a.make("f32", [n, cols], uniform(r, n * cols));
        const y = a.make("f32", [n, rows]);
        be.matmul(y, w, x);
        return [y];
      },
    });
  }
}

describe("webgpu ops vs the reference (Dawn + SwiftShader)", () => {
  it("reports its adapter", () => {
    expect(gpu.adapter.description.length).toBeGreaterThan(0);
    expect(gpu.syncRead).toBe(false);
  });

  for (const c of matmulCases) it(c.name, async () => void (await check(c)));

  it("matmul with weights split between GPU buffers gives the same values", async () => {
    for (const c of matmulCases.slice(-8)) {
      // weights created directly (not arena views) so they may be split
      const r = rng(5);
      // x and y stay under the 4 KiB binding (only weights and tables may be split)
      const [rows, cols, n] = [130, 576, 1];
      const dtype = c.name.split(" ")[1] as DType;
      const wv = uniform(r, rows * cols);
      const xv = uniform(r, n * cols);
      const data = encoded(wv, dtype, [rows, cols]);
      const want = (() => {
        const w = ref.tensor(dtype, [rows, cols], data);
        const x = ref.tensor("f32", [n, cols], xv);
        const y = ref.tensor("f32", [n, rows]);
        ref.matmul(y, w, x);
        return ref.readF32(y);
      })();
      const w = small.tensor(dtype, [rows, cols], data);
      const x = small.tensor("f32", [n, cols], xv);
      const y = small.tensor("f32", [n, rows]);
      small.matmul(y, w, x);
      expect(nmse(await small.readF32Async(y), want), dtype).toBeLessThanOrEqual(1e-10);
      // a split tensor reads back byte for byte, and getRows finds rows in every chunk
      const back = await small.readAsync(w);
      expect(new Uint8Array(back.buffer, back.byteOffset, back.byteLength)).toEqual(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      const table = ref.tensor(dtype, [rows, cols], data);
      for (const id of [0, rows - 1, 64, 3, 129]) {
        const g = small.tensor("f32", [1, cols]);
        small.getRows(g, w, [id]);
        const rg = ref.tensor("f32", [1, cols]);
        ref.getRows(rg, table, [id]);
        expect(await small.readF32Async(g), `${dtype} row ${id}`).toEqual(ref.readF32(rg));
      }
    }
  });

  const rowOps: Case[] = [
    ...[1, 5].flatMap((n) =>
      [7, 64, 576, 1000].map(
        (dim): Case => ({
          name: `rmsnorm [${n}x${dim}]`,
          bound: 1e-12,
          run(a, be) {
            const r = rng(dim + n);
            const x = a.make("f32", [n, dim], uniform(r, n * dim, -3, 3));
            const w = a.make("f32", [dim], uniform(r, dim));
            const y = a.make("f32", [n, dim]);
            be.rmsnorm(y, x, w, 1e-5);
            be.rmsnorm(x, x, null, 1e-6);
            return [y, x];
          },
        }),
      ),
    ),
    {
      name: "layernorm [3x384]",
      bound: 1e-12,
      run(a, be) {
        const r = rng(9);
        const x = a.make("f32", [3, 384], uniform(r, 3 * 384, -2, 5));
        const w = a.make("f32", [384], uniform(r, 384));
        const b = a.make("f32", [384], uniform(r, 384));
        const y = a.make("f32", [3, 384]);
        be.layernorm(y, x, w, b, 1e-12);
        return [y];
      },
    },
    {
      name: "softmax with -inf, +inf and NaN rows",
      bound: 1e-12,
      run(a, be) {
        const r = rng(3);
        const v = uniform(r, 4 * 300, -20, 20);
        v[5] = Number.NEGATIVE_INFINITY;
        v[300 + 7] = Number.POSITIVE_INFINITY;
        v[600 + 9] = Number.NaN;
        v.fill(Number.NEGATIVE_INFINITY, 900, 1200);
        const x = a.make("f32", [4, 300], v);
        const y = a.make("f32", [4, 300]);
        be.softmax(y, x);
        return [y];
      },
    },
    {
      name: "silu, gelu, gelu_tanh, swiglu, add (broadcast), mul, scale",
      bound: 1e-11,
      run(a, be) {
        const r = rng(4);
        const n = 3 * 257;
        const x = a.make("f32", [3, 257], uniform(r, n, -9, 9));
        const u = a.make("f32", [3, 257], uniform(r, n, -2, 2));
        const b = a.make("f32", [257], uniform(r, 257));
        const outs = Array.from({ length: 7 }, () => a.make("f32", [3, 257]));
        be.silu(outs[0], x);
        be.gelu(outs[1], x);
        be.geluTanh(outs[2], x);
        be.swiglu(outs[3], x, u);
        be.add(outs[4], x, b);
        be.mul(outs[5], x, u);
        be.scale(outs[6], x, 0.3);
        return outs;
      },
    },
    ...(["neox", "interleaved"] as const).map(
      (style): Case => ({
        name: `rope ${style}, partial rotary, attention factor`,
        bound: 1e-12,
        run(a, be) {
          const r = rng(6);
          const ropeDim = 32;
          const f = ropeFrequencies(ropeDim, 10000);
          const x = a.make("f32", [3, 5, 64], uniform(r, 3 * 5 * 64));
          be.rope(x, [0, 17, 19999], { invFreq: f.invFreq, style, ropeDim, attentionFactor: 1.25 });
          return [x];
        },
      }),
    ),
  ];
  for (const c of rowOps) it(c.name, async () => void (await check(c)));

  for (const [mask, cache] of [
    ["causal", "f32"],
    ["none", "f32"],
    ["tree", "f32"],
    ["causal", "f16"],
    ["tree", "f16"],
  ] as const) {
    it(`attention ${mask} mask, ${cache} cache, GQA`, async () => {
      await check({
        name: `attention ${mask} ${cache}`,
        bound: 1e-10,
        run(a, be) {
          const r = rng(7);
          const [nQ, nHeads, nKv, d, cap, kvLen] = [4, 6, 2, 64, 40, 23];
          const q = a.make("f32", [nQ, nHeads, d], uniform(r, nQ * nHeads * d));
          const kv = uniform(r, nKv * cap * d);
          const vv = uniform(r, nKv * cap * d);
          const k = a.make(cache, [nKv, cap, d]);
          const v = a.make(cache, [nKv, cap, d]);
          const kf = a.make("f32", [nKv, cap, d], kv);
          const vf = a.make("f32", [nKv, cap, d], vv);
          be.quantize(k, kf);
          be.quantize(v, vf);
          const o = a.make("f32", [nQ, nHeads, d]);
          // tree: 0 -> 1 -> 2, 0 -> 3
          const tree = new Uint8Array([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1]);
          be.attention(o, q, k, v, { kvLen, mask: mask === "tree" ? tree : mask });
          return [o];
        },
      });
    });
  }

  it("getRows from every table dtype, copy at odd byte offsets, f16 quantize and dequantize", async () => {
    for (const dtype of ["f32", "f16", "q8_0", "q4_0"] as DType[]) {
      await check({
        name: `getRows ${dtype}`,
        bound: 0,
        run(a, be) {
          const r = rng(8);
          const tv = uniform(r, 9 * 64);
          const t = a.make(dtype, [9, 64], encoded(tv, dtype, [9, 64]));
          const y = a.make("f32", [4, 64]);
          be.getRows(y, t, [8, 0, 3, 3]);
          const dq = a.make("f32", [9, 64]);
          be.dequantize(dq, t);
          return [y, dq];
        },
      });
    }
    await check({
      name: "copy u8 at odd offsets, f16 quantize",
      bound: 0,
      run(a, be) {
        const r = rng(10);
        const src = a.make(
          "u8",
          [37],
          Uint8Array.from({ length: 37 }, () => Math.floor(r() * 256)),
        );
        const dst = a.make("u8", [41], new Uint8Array(41).fill(7));
        be.copy(be.view(dst, 3, "u8", [37]), src);
        const x = a.make("f32", [2, 33], uniform(r, 66, -70000, 70000));
        const h = a.make("f16", [2, 33]);
        be.quantize(be.view(h, 0, "f16", [2, 33]), x);
        const back = a.make("f32", [2, 33]);
        be.dequantize(back, h);
        return [dst, back];
      },
    });
  });

  it("batched copies keep sequential order: chains of moves in one buffer, neighbours sharing a word", async () => {
    await check({
      name: "copy batches",
      bound: 0,
      run(a, be) {
        const r = rng(11);
        const src = a.make("f32", [8, 16], uniform(r, 128));
        const dst = a.make("f32", [8, 16]);
        // eight row copies into one buffer (a decode step's K rows, one per head)
        for (let i = 0; i < 8; i++) be.copy(be.view(dst, ((i * 5) % 8) * 64, "f32", [16]), be.view(src, i * 64, "f32", [16]));
        // commit's moves: row 1 <- row 2, row 2 <- row 3, row 3 <- row 6 (each reads what the next overwrites)
        for (const [to, from] of [
          [1, 2],
          [2, 3],
          [3, 6],
        ])
          be.copy(be.view(dst, to * 64, "f32", [16]), be.view(dst, from * 64, "f32", [16]));
        // 3-byte copies side by side: neighbours write bytes of the same words
        const bytes = a.make(
          "u8",
          [32],
          Uint8Array.from({ length: 32 }, (_, i) => i * 7),
        );
        const into = a.make("u8", [32], new Uint8Array(32).fill(255));
        for (let i = 0; i < 8; i++) be.copy(be.view(into, i * 3 + 1, "u8", [3]), be.view(bytes, 29 - i * 3, "u8", [3]));
        return [dst, into];
      },
    });
  });

  it("refuses synchronous reads with a message naming readAsync, and surfaces device loss", async () => {
    const be = await WebGPUBackend.create({ gpu: nodeGpu() });
    const t = be.tensor("f32", [4], new Float32Array([1, 2, 3, 4]));
    expect(() => be.read(t)).toThrow(/readAsync/);
    expect(() => be.argmax(t)).toThrow(BackendUnavailableError);
    expect(Array.from(await be.readF32Async(t))).toEqual([1, 2, 3, 4]);
    be.destroy();
    expect(() => be.scale(t, t, 2)).toThrow(/device is gone/);
    await expect(be.readAsync(t)).rejects.toThrow(BackendUnavailableError);
  });

  it("names a queued op's GPU validation error instead of returning garbage", async () => {
    const be = await WebGPUBackend.create({ gpu: nodeGpu() });
    const t = be.tensor("f32", [4], new Float32Array([1, 2, 3, 4]));
    // a buffer destroyed behind the backend's back makes the next submit invalid
    const root = (t.storage as unknown as { rootRef: { chunks: { buffer: GPUBuffer }[] } }).rootRef.chunks[0].buffer;
    be.scale(t, t, 2);
    root.destroy();
    await expect(be.readAsync(t)).rejects.toThrow(WebGPUError);
    be.destroy();
  });
});
