/**
 * Kernel benchmark: GEMV throughput, as GB/s of weights streamed, for f32, q8_0 and q4_0 at
 * the shapes of SmolLM2-135M's MLP (576x1536, 1536x576) and a 7B-class 4096x4096, next to
 * the memory-bandwidth roofline measured in the same process (a wasm SIMD sum over 256 MB).
 *
 * Weights rotate over copies that together exceed 256 MB, so every call streams its weights
 * from DRAM as a real model's layers do, instead of finding them in cache. Each figure is
 * the median of several timed rounds, interleaved with roofline rounds so that the ratio
 * compares measurements taken under the same machine conditions.
 *
 *   pnpm bench:kernels            table
 *   pnpm --silent bench:kernels --json  {"roofline_gb_s", "results": [{kernel, dtype, shape, gb_s, ratio, ...}]}
 */
import { type DType, type Tensor, WasmBackend } from "@edgespec/runtime";
import { median, rate } from "./stats";

const args = new Set(process.argv.slice(2));
const json = args.has("--json");
const quick = args.has("--quick");
const ROUNDS = quick ? 3 : 7;
const ROUND_MS = quick ? 120 : 300;
const ROOFLINE_BYTES = 256 << 20;
const WORKING_SET = 256 << 20;

const shapes: [number, number][] = [
  [576, 1536],
  [1536, 576],
  [4096, 4096],
];
const variants: { dtype: DType; layout: "x4" | "rows" }[] = [
  { dtype: "f32", layout: "rows" },
  { dtype: "q8_0", layout: "x4" },
  { dtype: "q8_0", layout: "rows" },
  { dtype: "q4_0", layout: "x4" },
  { dtype: "q4_0", layout: "rows" },
];

function log(msg: string): void {
  if (!json) process.stdout.write(`${msg}\n`);
  else process.stderr.write(`${msg}\n`);
}

interface Result {
  kernel: string;
  dtype: DType;
  layout: string;
  shape: string;
  gb_s: number;
  ratio: number;
  roofline_gb_s: number;
  bytes_per_call: number;
}

async function main(): Promise<void> {
  const be = await WasmBackend.create({ simd: args.has("--relaxed") ? "relaxed" : "baseline", initialMemoryBytes: 64 << 20 });
  const k = be.kernels;

  // --- roofline probe: 256 MB of memory touched once, then summed with SIMD loads
  const probe = be.arena.alloc(ROOFLINE_BYTES, 64);
  be.arena.bytes.fill(1, probe, probe + ROOFLINE_BYTES);
  const roofRound = () => (ROOFLINE_BYTES * rate(() => k.stream_sum(probe, ROOFLINE_BYTES), ROUND_MS)) / 1e9;
  // warm up: lets the engine tier the kernels up to optimized code
  for (let i = 0; i < 3; i++) roofRound();
  const roofSamples: number[] = [];

  log(`edgespec kernel benchmark (wasm ${be.variant} simd128, one thread, node ${process.versions.node})`);
  log("weights rotate over >= 256 MB of copies, so each GEMV streams from memory; medians of " + `${ROUNDS} rounds`);
  const results: Result[] = [];
  for (const [rows, cols] of shapes) {
    for (const v of variants) {
      if (v.layout === "x4" && rows % 4 !== 0) continue;
      const r = await measure(be, v.dtype, v.layout, rows, cols, roofRound, roofSamples);
      results.push(r);
      log(
        `  gemv ${v.dtype.padEnd(5)} ${v.layout.padEnd(4)} ${r.shape.padStart(9)}  ${r.gb_s.toFixed(1).padStart(6)} GB/s   ${(r.ratio * 100).toFixed(0).padStart(3)}% of roofline (${r.roofline_gb_s.toFixed(1)} GB/s)`,
      );
    }
  }
  be.arena.release(probe);
  const roofline = median(roofSamples);
  if (json) {
    process.stdout.write(`${JSON.stringify({ roofline_gb_s: round(roofline), simd: be.variant, node: process.versions.node, results })}\n`);
  } else {
    log(`roofline (median of ${roofSamples.length} rounds): ${roofline.toFixed(1)} GB/s`);
    const f32 = results.filter((r) => r.dtype === "f32").map((r) => r.ratio);
    const q8 = results.filter((r) => r.dtype === "q8_0" && r.layout === "x4").map((r) => r.ratio);
    log(`median ratio: f32 ${(median(f32) * 100).toFixed(0)}%, q8_0 ${(median(q8) * 100).toFixed(0)}%`);
  }
}

async function measure(
  be: WasmBackend,
  dtype: DType,
  layout: "x4" | "rows",
  rows: number,
  cols: number,
  roofRound: () => number,
  roofSamples: number[],
): Promise<Result> {
  // random weights, quantized once, then copied so the copies exceed the caches
  const src = new Float32Array(rows * cols);
  for (let i = 0; i < src.length; i++) src[i] = Math.sin(i * 0.7) * 0.05;
  const w0 = be.fromF32(dtype, [rows, cols], src, { layout });
  if (w0.layout !== layout) throw new Error(`expected layout ${layout}, got ${w0.layout}`);
  const copies: Tensor[] = [w0];
  const n = Math.max(2, Math.ceil(WORKING_SET / w0.byteLength));
  const arena = be.arena;
  for (let i = 1; i < n; i++) {
    const t = be.tensor(dtype, [rows, cols], undefined, { layout });
    arena.bytes.copyWithin(t.storage as number, w0.storage as number, (w0.storage as number) + w0.byteLength);
    copies.push(t);
  }
  const x = be.tensor(
    "f32",
    [1, cols],
    Float32Array.from({ length: cols }, (_, i) => Math.cos(i)),
  );
  const y = be.empty("f32", [1, rows]);
  let c = 0;
  const call = () => {
    be.matmul(y, copies[c], x);
    c = c + 1 === copies.length ? 0 : c + 1;
  };
  for (let i = 0; i < 2 * copies.length; i++) call();
  const samples: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const roof = roofRound();
    roofSamples.push(roof);
    const gbs = (w0.byteLength * rate(call, ROUND_MS)) / 1e9;
    samples.push(gbs);
    ratios.push(gbs / roof);
  }
  for (const t of copies) t.free();
  x.free();
  y.free();
  const gb = median(samples);
  const roofline = median(roofSamples.slice(-ROUNDS));
  return {
    kernel: "gemv",
    dtype,
    layout,
    shape: `${rows}x${cols}`,
    gb_s: round(gb),
    ratio: round(median(ratios)),
    roofline_gb_s: round(roofline),
    bytes_per_call: w0.byteLength,
  };
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

main().catch((e) => {
  process.stderr.write(`bench:kernels failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
