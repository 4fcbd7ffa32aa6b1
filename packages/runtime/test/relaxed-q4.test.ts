/**
 * The relaxed-SIMD build's q4_0 matmul (i16x8.relaxed_dot_i8x16_i7x16_s on int8 activations)
 * gives the same bits as the baseline build's (i32x4.dot_i16x8_s on widened activations):
 * q4_0 nibbles are a valid i7 operand, so the relaxed dot is exact on every host and the
 * float math after it is shared. Runs only in the node-relaxed-simd project (vitest.config.ts),
 * where the host has relaxed SIMD.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostSupportsRelaxedSimd, type Tensor, WasmBackend } from "../src/index";
import { rng, uniform } from "./util";

// [rows, cols, n]: rows % 4 == 0 take the x4 kernel, the others the row-major one
const SHAPES: [number, number, number][] = [
  [4, 32, 1],
  [8, 64, 3],
  [36, 96, 17],
  [64, 2592, 3],
  [100, 576, 17],
  [256, 2592, 1],
  [1, 32, 1],
  [3, 64, 3],
  [31, 256, 17],
  [33, 2592, 1],
  [101, 1536, 3],
  [7, 2592, 17],
];

let base: WasmBackend;
let relaxed: WasmBackend;
let relaxedThreads: WasmBackend;

beforeAll(async () => {
  expect(hostSupportsRelaxedSimd(), "this project runs where relaxed SIMD validates").toBe(true);
  base = await WasmBackend.create({ canaries: true });
  relaxed = await WasmBackend.create({ simd: "relaxed", canaries: true });
  relaxedThreads = await WasmBackend.create({ simd: "relaxed", threads: 2, minParallelWork: 0, canaries: true });
});
afterAll(() => relaxedThreads?.close());

/**
 * Weights as baseline-quantized q4_0 blocks (so both backends multiply the same bytes), with
 * a zero row and a row of tiny values (subnormal f16 scales); activations with a zero block,
 * a block whose int8 scale 1/d overflows f32, and a row spanning 1e-30..1e30.
 */
function inputs(rows: number, cols: number, n: number): { W: Uint8Array; X: Float32Array } {
  const r = rng(rows * 7919 + cols * 31 + n);
  const Wf = uniform(r, rows * cols);
  if (rows > 1) Wf.fill(0, cols, 2 * cols);
  if (rows > 2) for (let k = 2 * cols; k < 3 * cols; k++) Wf[k] *= 1e-6;
  const X = uniform(r, n * cols, -3, 3);
  if (cols > 32) X.fill(0, 32, 64);
  if (n > 1) for (let k = cols; k < 2 * cols; k++) X[k] = k < cols + 32 ? X[k] * 1e-38 : X[k] * 1e-30;
  if (n > 2) for (let k = 2 * cols; k < 3 * cols; k += 2) X[k] *= 1e30;
  const w = base.fromF32("q4_0", [rows, cols], Wf, { layout: "rows" });
  const W = (base.read(w) as Uint8Array).slice();
  w.free();
  return { W, X };
}

function matmulBits(b: WasmBackend, rows: number, cols: number, n: number, W: Uint8Array, X: Float32Array): Uint32Array {
  const w = b.tensor("q4_0", [rows, cols], W);
  expect(w.layout).toBe(rows % 4 === 0 ? "x4" : "rows");
  const x = b.tensor("f32", [n, cols], X);
  const y = b.empty("f32", [n, rows]);
  b.matmul(y, w, x);
  const out = new Uint32Array((b.read(y) as Float32Array).slice().buffer);
  b.checkCanaries();
  for (const t of [w, x, y] as Tensor[]) t.free();
  return out;
}

/** Indices where two bit patterns differ, for a readable failure. */
function diff(a: Uint32Array, b: Uint32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

describe("relaxed-SIMD q4_0 matmul", () => {
  it("the relaxed builds carry the relaxed dot and the baseline builds do not", () => {
    expect(relaxed.variant).toBe("relaxed");
    expect(relaxed.kernels.relaxed()).toBe(1);
    // i16x8.relaxed_dot_i8x16_i7x16_s is opcode 0xfd 0x112 (LEB128 0x92 0x02); without it
    // the comparisons below would compare the baseline code with itself
    const count = (file: string) => {
      const b = readFileSync(new URL(`../kernels/${file}`, import.meta.url));
      let c = 0;
      for (let i = 0; i + 2 < b.length; i++) if (b[i] === 0xfd && b[i + 1] === 0x92 && b[i + 2] === 0x02) c++;
      return c;
    };
    expect(count("kernels-relaxed.wasm")).toBeGreaterThan(0);
    expect(count("kernels-relaxed-mt.wasm")).toBeGreaterThan(0);
    expect(count("kernels.wasm")).toBe(0);
    expect(count("kernels-mt.wasm")).toBe(0);
  });

  for (const [rows, cols, n] of SHAPES) {
    it(`[${rows}x${cols}] x ${n}: same bits as baseline, on 1 and 2 threads`, () => {
      const { W, X } = inputs(rows, cols, n);
      const want = matmulBits(base, rows, cols, n, W, X);
      const f = new Float32Array(want.buffer);
      expect(f.some((v) => v !== 0 && Number.isFinite(v))).toBe(true);
      expect(diff(matmulBits(relaxed, rows, cols, n, W, X), want)).toEqual([]);
      expect(diff(matmulBits(relaxedThreads, rows, cols, n, W, X), want)).toEqual([]);
    });
  }

  it("matches on both V8 tiers (Liftoff only, TurboFan only)", () => {
    // V8 compiles a function with Liftoff first and TurboFan once it is hot, and the two
    // lower relaxed instructions separately (Node 20's Liftoff gets
    // i32x4.relaxed_dot_i8x16_i7x16_add_s wrong), so pin each tier in a fresh process.
    const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const script = join(tmpdir(), `edgespec-relaxed-q4-${process.pid}.mjs`);
    writeFileSync(
      script,
      `import { WasmBackend } from ${JSON.stringify(dist)};
const base = await WasmBackend.create();
const rel = await WasmBackend.create({ simd: "relaxed" });
let s = 12345, bad = 0;
const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
for (const [rows, cols, n] of [[8, 96, 1], [12, 2592, 3], [5, 256, 2]]) {
  const W = Float32Array.from({ length: rows * cols }, rand);
  const X = Float32Array.from({ length: n * cols }, () => 3 * rand());
  const w0 = base.fromF32("q4_0", [rows, cols], W, { layout: "rows" });
  const bytes = base.read(w0);
  const run = (b) => {
    const w = b.tensor("q4_0", [rows, cols], bytes);
    const x = b.tensor("f32", [n, cols], X);
    const y = b.empty("f32", [n, rows]);
    b.matmul(y, w, x);
    return new Uint32Array(b.read(y).slice().buffer);
  };
  const want = run(base);
  for (let rep = 0; rep < 3; rep++) {
    const got = run(rel);
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) bad++;
  }
}
console.log(bad);
`,
    );
    const flags = process.execArgv.filter((a) => a === "--experimental-wasm-relaxed-simd");
    for (const tier of ["--liftoff-only", "--no-liftoff"]) {
      const out = execFileSync(process.execPath, [...flags, tier, script], { encoding: "utf8", timeout: 60_000 });
      expect(`${tier}: ${out.trim()} outputs differ`).toBe(`${tier}: 0 outputs differ`);
    }
  });
});
