/**
 * The conformance vectors. Every host (Node, Deno, Chromium, workerd) runs this same
 * module against the same kernel bytes; each case's output bytes are hashed, and the
 * hosts must agree hash for hash. Each case is also checked in-host against the
 * reference backend by NMSE, so agreeing on a wrong answer fails too.
 */

import { type Backend, type DType, type OmpSolver, type RopeStyle, splitmix32 as rng } from "@edgespec/runtime";
import { applyProcessors, buildProcessors } from "../../packages/decoding/src/processors";
import { seededRng } from "../../packages/decoding/src/rng";
import { gumbelSample, sampleLogits } from "../../packages/decoding/src/sampling";
import type { CaseResult, ConformanceReport } from "./report";
import { nmse, uniform } from "./vectors";

export interface HostApi {
  createBackend(name: "wasm" | "reference", opts?: { simd?: "baseline" | "relaxed" | "auto" }): Promise<Backend>;
  createOmp(): Promise<OmpSolver>;
  ropeFrequencies(dim: number, theta: number, scaling?: unknown): { invFreq: Float32Array; attentionFactor: number };
}

type Out = Float32Array | Int32Array | Uint8Array | Uint16Array;

interface Case {
  name: string;
  bound: number;
  run(be: Backend, api: HostApi): Out[] | Promise<Out[]>;
  /** outputs compared by NMSE against the reference backend (default: all) */
  compare?: number[];
}

function cases(): Case[] {
  const out: Case[] = [];
  const matmulShapes: [number, number, number][] = [
    [1, 32, 1],
    [4, 32, 3],
    [33, 96, 2],
    [64, 4096, 1],
    [257, 256, 2],
  ];
  for (const dt of ["f32", "f16", "q8_0", "q4_0"] as DType[]) {
    const shapes =
      dt === "f32" || dt === "f16" ? [...matmulShapes, [3, 33, 2] as [number, number, number], [9, 4097, 1] as [number, number, number]] : matmulShapes;
    for (const [rows, cols, n] of shapes) {
      for (const layout of dt.startsWith("q") && rows % 4 === 0 ? (["x4", "rows"] as const) : (["rows"] as const)) {
        out.push({
          name: `matmul ${dt} ${layout} ${rows}x${cols} n=${n}`,
          bound: dt.startsWith("q") ? 5e-4 : 1e-10,
          run(be) {
            const w = be.fromF32(dt, [rows, cols], uniform(rows * 31 + cols, rows * cols), { layout: be.name === "wasm" ? layout : "rows" });
            const x = be.tensor("f32", [n, cols], uniform(cols + n, n * cols));
            const y = be.empty("f32", [n, rows]);
            be.matmul(y, w, x);
            return [be.read(y) as Float32Array];
          },
        });
      }
    }
  }
  for (const len of [1, 3, 33, 257, 4097]) {
    const X = uniform(len, 2 * len, -4, 4);
    const B = uniform(len + 1, len);
    out.push({
      name: `row ops [2x${len}]`,
      bound: 1e-10,
      run(be) {
        const x = be.tensor("f32", [2, len], X);
        const w = be.tensor("f32", [len], B);
        const res: Out[] = [];
        const y = be.empty("f32", [2, len]);
        const step = (f: () => void) => {
          f();
          res.push(be.read(y) as Float32Array);
        };
        step(() => be.rmsnorm(y, x, w, 1e-6));
        step(() => be.layernorm(y, x, w, w, 1e-5));
        step(() => be.softmax(y, x));
        step(() => be.silu(y, x));
        step(() => be.gelu(y, x));
        step(() => be.geluTanh(y, x));
        step(() => be.swiglu(y, x, x));
        step(() => be.add(y, x, w));
        step(() => be.mul(y, x, w));
        step(() => be.scale(y, x, -0.3));
        return res;
      },
    });
  }
  for (const style of ["neox", "interleaved"] as RopeStyle[]) {
    out.push({
      name: `rope ${style} llama3-scaled, partial rotary`,
      bound: 1e-10,
      run(be, api) {
        const x = be.tensor("f32", [5, 3, 64], uniform(7, 5 * 3 * 64));
        const f = api.ropeFrequencies(32, 500000, { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
        be.rope(x, [0, 1, 100, 4095, 32000], { invFreq: f.invFreq, style, ropeDim: 32 });
        return [be.read(x) as Float32Array];
      },
    });
  }
  const tree = new Uint8Array(36);
  const parent = [-1, 0, 1, 0, 3, 3];
  for (let i = 0; i < 6; i++) for (let j = i; j >= 0; j = parent[j]) tree[i * 6 + j] = 1;
  for (const [mask, nQ, kvLen] of [
    ["none", 6, 6],
    ["causal", 6, 40],
    ["tree", 6, 40],
  ] as const) {
    out.push({
      name: `attention ${mask} q=${nQ} kv=${kvLen} gqa 8/2 d=64`,
      bound: 1e-10,
      run(be) {
        const q = be.tensor("f32", [nQ, 8, 64], uniform(1, nQ * 8 * 64));
        const k = be.tensor("f32", [2, 48, 64], uniform(2, 2 * 48 * 64));
        const v = be.tensor("f32", [2, 48, 64], uniform(3, 2 * 48 * 64));
        const o = be.empty("f32", [nQ, 8, 64]);
        be.attention(o, q, k, v, { kvLen, mask: mask === "tree" ? tree : mask });
        return [be.read(o) as Float32Array];
      },
    });
  }
  out.push({
    name: "argmax and topk with ties and NaN",
    bound: 0,
    run(be) {
      const r = rng(5);
      const X = Float32Array.from({ length: 3 * 1001 }, () => Math.round(r() * 8));
      X[17] = Number.NaN;
      const x = be.tensor("f32", [3, 1001], X);
      const t = be.topk(x, 50);
      return [be.argmax(x), t.indices, t.values];
    },
  });
  for (const dt of ["f16", "q8_0", "q4_0"] as DType[]) {
    out.push({
      name: `quantize/dequantize/getRows ${dt}`,
      bound: 0,
      run(be) {
        const t = be.fromF32(dt, [8, 128], uniform(11, 8 * 128, -5, 5));
        const raw = be.read(t);
        const g = be.empty("f32", [3, 128]);
        be.getRows(g, t, [7, 0, 3]);
        return [new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), be.readF32(t), be.read(g) as Float32Array];
      },
    });
  }
  out.push({
    // @edgespec/decoding's promise: the same seed gives the same tokens on every host
    // (splitmix32 integers, float64 processors and softmax over the kernels' logits)
    name: "seeded sampling: 200 steps of matmul logits → processors → sample (inverse CDF and keyed Gumbel-max)",
    bound: 0,
    compare: [],
    run(be) {
      const vocab = 512;
      const dim = 64;
      const emb = be.tensor("f32", [vocab, dim], uniform(31, vocab * dim));
      const head = be.fromF32("q8_0", [vocab, dim], uniform(32, vocab * dim, -2, 2));
      const x = be.empty("f32", [1, dim]);
      const logits = be.empty("f32", [1, vocab]);
      const ps = buildProcessors({ temperature: 0.8, topK: 60, topP: 0.92, minP: 0.02, repetitionPenalty: 1.3, frequencyPenalty: 0.1 }, vocab);
      // inverse-CDF draws from the seeded stream (constrained sampling), and the keyed
      // Gumbel-max draws generate() and the speculative engine take (Math.log in every host)
      const draw = (pick: (l: Float32Array, step: number) => number) => {
        const tokens = [1];
        for (let i = 0; i < 200; i++) {
          be.getRows(x, emb, [tokens[tokens.length - 1]]);
          be.matmul(logits, head, x);
          const l = be.read(logits) as Float32Array;
          applyProcessors(ps, l, tokens);
          tokens.push(pick(l, tokens.length));
        }
        return Int32Array.from(tokens);
      };
      const rand = seededRng(2024);
      return [draw((l) => sampleLogits(l, rand)), draw((l, position) => gumbelSample(l, 2024, position))];
    },
  });
  out.push({
    name: "omp (Rust module) 300 atoms x 48 dims, k = 12",
    bound: 0,
    compare: [],
    async run(_be, api) {
      const omp = await api.createOmp();
      const r = omp.solve(uniform(21, 300 * 48), 300, uniform(22, 20 * 48), 20, { k: 12 });
      return [r.indices, r.coefficients, r.residualNorms];
    },
  });
  return out;
}

async function sha256(parts: Out[]): Promise<string> {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), o);
    o += p.byteLength;
  }
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Run every case on the wasm backend (and the reference for NMSE); never throws. */
export async function runConformance(api: HostApi, host: string, simd: "baseline" | "relaxed" = "baseline"): Promise<ConformanceReport> {
  const t0 = Date.now();
  const wasm = await api.createBackend("wasm", { simd });
  const ref = await api.createBackend("reference");
  const results: CaseResult[] = [];
  for (const c of cases()) {
    try {
      const got = await c.run(wasm, api);
      const want = c.compare && c.compare.length === 0 ? got : await c.run(ref, api);
      const idx = c.compare ?? got.map((_, i) => i);
      let worst = 0;
      for (const i of idx) worst = Math.max(worst, nmse(got[i] as ArrayLike<number>, want[i] as ArrayLike<number>));
      results.push({ name: c.name, sha256: await sha256(got), nmse: worst, bound: c.bound, ok: worst <= c.bound });
    } catch (e) {
      results.push({ name: c.name, sha256: `error: ${(e as Error).message}`, nmse: Number.POSITIVE_INFINITY, bound: c.bound, ok: false });
    }
  }
  return { host, simd: (wasm as unknown as { variant: string }).variant, cases: results, ok: results.every((r) => r.ok), ms: Date.now() - t0 };
}

export { type CaseResult, type ConformanceReport, compareReports } from "./report";
