/**
 * Op-level benchmark against onnxruntime-web (the engine under transformers.js), wasm
 * execution provider, in Node: our WasmBackend.matmul against ORT's MatMul (f32),
 * com.microsoft MatMulNBits (4-bit for q4_0; 8-bit for q8_0) and com.microsoft
 * DynamicQuantizeMatMul (int8 weights per column, uint8 activations: what a dynamically
 * quantized "q8" model such as transformers.js's default wasm download runs; compared with
 * our q8_0), at SmolLM2-135M's matrix shapes, for one token (GEMV, decode) and a prefill batch.
 *
 * Method
 * - Both engines get the same random weights (MatMulNBits's are converted from our q4_0 /
 *   q8_0 blocks exactly, see ./onnx-graph.ts; DynamicQuantizeMatMul's are quantized from
 *   the same f32 values), and the outputs are compared once per shape (nmse_ours_vs_ort).
 * - Weights rotate over copies that together exceed `workingSet` bytes (128 MB, 64 MB with
 *   --quick; the L3 here is 32 MB), so each call streams its weights from memory as a real
 *   model's layers do. Ours: one tensor per copy, one matmul call each. ORT: one session
 *   whose graph holds one node per copy, all reading the same X; a session.run executes
 *   every node and only Y0 is fetched, so the time per node includes ORT's per-node cost
 *   but only 1/copies of its session.run cost, as inside a whole-model graph.
 * - ORT's fixed cost per session.run is measured apart on an Identity graph of one float.
 * - Rounds alternate ours and ORT (and which goes first); each figure is a median.
 * - The memory-bandwidth roofline is measured in the same process as decode.ts does: the
 *   stream_sum kernel over 256 MB, one thread, interleaved with the rounds.
 *
 * ORT's wasm runtime is initialised once per process, so every call in one process must
 * use the same `threads`; run 1 and 2 threads in separate processes. Our kernels are
 * single-threaded whatever `threads` says.
 *
 *   node --import tsx apps/bench/src/peers/ort.ts [--quick] [--threads 2] [--json] [--dtype f32,q4_0,q8_0]
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { type DType, splitmix32, type Tensor, WasmBackend } from "@edgespec/runtime";
import type * as Ort from "onnxruntime-web";
import { bandwidthProbe } from "../roofline";
import { median, rate } from "../stats";
import { identityModel, int8PerColumn, type MatmulWeight, matmulModel, q4_0ToMatMulNBits, q8_0ToMatMulNBits, transposeToKN } from "./onnx-graph";

export type OrtBenchDType = "f32" | "q4_0" | "q8_0";

export interface OrtBenchOptions {
  /** fewer, shorter rounds and a 64 MB working set */
  quick?: boolean;
  /** onnxruntime-web wasm threads (env.wasm.numThreads), default 1; fixed for the process */
  threads?: number;
  /** progress to stderr and one JSON object to stdout, instead of progress and a table on stdout */
  json?: boolean;
  /** weight formats to compare (default f32, q4_0, q8_0) */
  dtypes?: OrtBenchDType[];
  /** rows of X for the prefill measurement (default 16) */
  batch?: number;
  /** print nothing; just return the report */
  silent?: boolean;
}

/** One matrix shape of SmolLM2-135M: y[n, N] = x[n, K] . W. */
export interface OrtShape {
  name: string;
  K: number;
  N: number;
  /** how often it runs per token: per layer (x layers) or once (lm_head) */
  perLayer: number;
  perToken: number;
}

// HuggingFaceTB/SmolLM2-135M: hidden 576, intermediate 1536, 9 heads / 3 kv heads of 64, vocab 49152, 30 layers
export const SMOLLM2_LAYERS = 30;
export const SMOLLM2_SHAPES: readonly OrtShape[] = [
  { name: "q_proj,o_proj", K: 576, N: 576, perLayer: 2, perToken: 0 },
  { name: "k_proj,v_proj", K: 576, N: 192, perLayer: 2, perToken: 0 },
  { name: "gate,up", K: 576, N: 1536, perLayer: 2, perToken: 0 },
  { name: "down", K: 1536, N: 576, perLayer: 1, perToken: 0 },
  { name: "lm_head", K: 576, N: 49152, perLayer: 0, perToken: 1 },
];

export interface OrtOpResult {
  matrix: string;
  K: number;
  N: number;
  /** rows of X: 1 = decode GEMV, more = prefill batch */
  n: number;
  dtype: OrtBenchDType;
  ort_op: string;
  /**
   * weight bytes of one matrix in each engine's format, per 32 weights: q4_0 18 B, MatMulNBits
   * 4-bit 20 B (16 + f32 scale); q8_0 34 B, MatMulNBits 8-bit 36 B, DynamicQuantizeMatMul
   * 32 B (+ one f32 scale per column); f32 128 B
   */
  ours_bytes: number;
  ort_bytes: number;
  /** copies the weights rotate over */
  ours_copies: number;
  ort_copies: number;
  /** median time of one matmul */
  ours_us: number;
  ort_us: number;
  ours_gb_s: number;
  ort_gb_s: number;
  /** ort_us / ours_us: > 1 means we are faster */
  ratio: number;
  /** normalised squared difference of the two engines' outputs on the first copy */
  nmse_ours_vs_ort: number;
}

export interface OrtTokenEstimate {
  dtype: OrtBenchDType;
  ort_op: string;
  n: number;
  /** 30 layers x 7 matmuls + lm_head, from the medians above */
  ours_ms: number;
  ort_ms: number;
  /** tokens per second from matmuls alone (n tokens per forward pass) */
  ours_tok_s: number;
  ort_tok_s: number;
  ratio: number;
  /** our weight bytes per forward pass over the measured bandwidth (n = 1 only) */
  roofline_tok_s?: number;
  weight_bytes_ours: number;
  weight_bytes_ort: number;
}

export interface OrtBenchReport {
  ort_version: string;
  ort_threads: number;
  ours_threads: 1;
  simd: string;
  node: string;
  working_set_bytes: number;
  rounds: number;
  roofline_gb_s: number;
  /** median session.run of an Identity graph over one float: ORT's fixed cost per run */
  ort_run_overhead_us: number;
  /** median WasmBackend.matmul of a 32x32 f32 matrix: our fixed cost per call */
  ours_call_overhead_us: number;
  results: OrtOpResult[];
  per_token: OrtTokenEstimate[];
}

type OrtModule = typeof Ort;

let loaded: { ort: OrtModule; threads: number } | undefined;

/**
 * onnxruntime-web for Node with the wasm EP. Node needs no cross-origin isolation for the
 * threaded build: SharedArrayBuffer is always there, and ORT's emscripten module starts
 * its pthreads as worker_threads. The .mjs/.wasm pair is taken from ORT's own dist folder.
 */
export async function loadOrt(threads: number): Promise<OrtModule> {
  if (loaded) {
    if (loaded.threads !== threads) {
      throw new Error(`onnxruntime-web is already initialised with ${loaded.threads} thread(s) in this process; run ${threads} thread(s) in another process`);
    }
    return loaded.ort;
  }
  // a computed specifier keeps bundlers (tsup) from inlining ORT, whose loader finds its
  // wasm next to its own file; it also lets callers without ORT installed get a clear error
  const specifier = "onnxruntime-web";
  let ort: OrtModule;
  try {
    ort = (await import(specifier)) as OrtModule;
  } catch (e) {
    throw new Error(`onnxruntime-web is not installed (a devDependency of @edgespec/bench): ${(e as Error).message}`);
  }
  const dist = dirname(createRequire(import.meta.url).resolve(specifier));
  ort.env.wasm.wasmPaths = `${pathToFileURL(dist).href}/`;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = "error";
  loaded = { ort, threads };
  return ort;
}

interface Ctx {
  be: WasmBackend;
  ort: OrtModule;
  rounds: number;
  roundMs: number;
  workingSet: number;
  batch: number;
  bandwidth: () => number;
  roofSamples: number[];
  log: (s: string) => void;
}

/** Run the benchmark; prints a table (or JSON with `json`) unless `silent`, and returns the report. */
export async function benchOrtOps(opts: OrtBenchOptions = {}): Promise<OrtBenchReport> {
  const quick = opts.quick ?? false;
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  const dtypes = opts.dtypes ?? ["f32", "q4_0", "q8_0"];
  const batch = opts.batch ?? 16;
  const out = opts.silent ? null : opts.json ? process.stderr : process.stdout;
  const log = (s: string) => out?.write(`${s}\n`);

  const ort = await loadOrt(threads);
  const be = await WasmBackend.create({ initialMemoryBytes: 64 << 20 });

  // roofline probe, as in decode.ts: a SIMD sum over 256 MB, interleaved with the measurements
  // (decode.ts keeps its probe inside benchDecode, not exported, so it is restated here)
  const probe = bandwidthProbe(be);
  const bandwidth = () => probe.measure(quick ? 120 : 200);

  const ctx: Ctx = {
    be,
    ort,
    rounds: quick ? 3 : 7,
    roundMs: quick ? 120 : 300,
    workingSet: quick ? 64 << 20 : 128 << 20,
    batch,
    bandwidth,
    roofSamples: [],
    log,
  };
  log(
    `onnxruntime-web ${ort.env.versions.web} wasm EP (${threads} thread${threads > 1 ? "s" : ""}) vs edgespec wasm ${be.variant} simd128 (1 thread), node ${process.versions.node}`,
  );
  log(`weights rotate over >= ${ctx.workingSet >> 20} MB of copies; medians of ${ctx.rounds} alternating rounds`);

  const ortOverhead = await runOverhead(ctx);
  const oursOverhead = callOverhead(ctx);
  log(`fixed cost: ORT session.run ${ortOverhead.toFixed(1)} us (Identity of 1 float), our matmul call ${oursOverhead.toFixed(2)} us (32x32 f32)`);

  const results: OrtOpResult[] = [];
  for (const shape of SMOLLM2_SHAPES) {
    for (const dtype of dtypes) {
      for (const r of await measureShape(ctx, shape, dtype)) {
        results.push(r);
        log(
          `  ${r.matrix.padEnd(13)} ${`${r.K}->${r.N}`.padStart(10)} ${r.dtype.padEnd(4)} n=${String(r.n).padEnd(2)}  ours ${fmtUs(r.ours_us)} ${r.ours_gb_s.toFixed(1).padStart(5)} GB/s   ORT ${r.ort_op.padEnd(18)} ${fmtUs(r.ort_us)} ${r.ort_gb_s.toFixed(1).padStart(5)} GB/s   x${r.ratio.toFixed(2)}  nmse ${r.nmse_ours_vs_ort.toExponential(1)}`,
        );
      }
    }
  }
  probe.release();
  const roofline = median(ctx.roofSamples);
  const report: OrtBenchReport = {
    ort_version: ort.env.versions.web ?? "?",
    ort_threads: threads,
    ours_threads: 1,
    simd: be.variant,
    node: process.versions.node,
    working_set_bytes: ctx.workingSet,
    rounds: ctx.rounds,
    roofline_gb_s: round(roofline),
    ort_run_overhead_us: round(ortOverhead),
    ours_call_overhead_us: round(oursOverhead),
    results,
    per_token: perToken(results, [1, batch], roofline),
  };
  if (!opts.silent) {
    if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(formatOrtReport(report));
  }
  return report;
}

/** Calls per second of an async call, run back to back for about `ms` (the async twin of stats.ts's rate). */
async function asyncRate(f: () => Promise<unknown>, ms: number): Promise<number> {
  await f();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    await f();
    n++;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

async function runOverhead(ctx: Ctx): Promise<number> {
  const { ort } = ctx;
  const s = await ort.InferenceSession.create(identityModel(1), { executionProviders: ["wasm"] });
  const feeds = { X: new ort.Tensor("float32", new Float32Array(1), [1, 1]) };
  const run = () => s.run(feeds);
  for (let i = 0; i < 200; i++) await run();
  const us: number[] = [];
  for (let r = 0; r < ctx.rounds; r++) us.push(1e6 / (await asyncRate(run, ctx.roundMs)));
  await s.release();
  return median(us);
}

function callOverhead(ctx: Ctx): number {
  const { be } = ctx;
  const w = be.fromF32("f32", [32, 32], new Float32Array(32 * 32).fill(0.01));
  const x = be.tensor("f32", [1, 32], new Float32Array(32).fill(1));
  const y = be.empty("f32", [1, 32]);
  const call = () => be.matmul(y, w, x);
  const us: number[] = [];
  for (let r = 0; r < ctx.rounds; r++) us.push(1e6 / rate(call, ctx.roundMs));
  for (const t of [w, x, y]) t.free();
  return median(us);
}

/** A copy of `a` rotated by `by` elements: same values, different bytes, so no engine can share copies. */
function rotated<T extends Float32Array | Uint8Array | Int8Array>(a: T, by: number): T {
  const out = new (a.constructor as new (n: number) => T)(a.length);
  const k = by % a.length;
  out.set(a.subarray(k) as T, 0);
  out.set(a.subarray(0, k) as T, a.length - k);
  return out;
}

interface OrtVariant {
  op: string;
  bytes: number;
  copies: number;
  session: Ort.InferenceSession;
}

/** The ORT ops that stand for one of our weight formats, with the weights converted. */
function ortWeightsFor(be: WasmBackend, dtype: OrtBenchDType, base: Float32Array, w0: Tensor, N: number, K: number): { op: string; w: MatmulWeight }[] {
  if (dtype === "f32") return [{ op: "MatMul", w: { kind: "f32", w: transposeToKN(base, N, K) } }];
  const rows = be.read(w0) as Uint8Array; // GGUF row layout, whatever the stored layout
  if (dtype === "q4_0") return [{ op: "MatMulNBits(4)", w: q4_0ToMatMulNBits(rows, N, K) }];
  return [
    { op: "MatMulNBits(8)", w: q8_0ToMatMulNBits(rows, N, K) },
    // what a dynamically quantized ("q8", transformers.js's default on wasm) model runs
    { op: "DynQuantMatMul(i8)", w: int8PerColumn(base, N, K) },
  ];
}

function weightBytes(w: MatmulWeight): number {
  return w.kind === "f32" ? w.w.byteLength : w.b.byteLength + w.scales.byteLength;
}

/** Copy c of a weight: its arrays rotated, so every copy has distinct bytes and no engine can share them. */
function weightCopy(w: MatmulWeight, c: number): MatmulWeight {
  if (w.kind === "f32") return { kind: "f32", w: rotated(w.w, c * 97) };
  if (w.kind === "int8") return { kind: "int8", b: rotated(w.b, c * 97), scales: rotated(w.scales, c * 7) };
  return { ...w, b: rotated(w.b, c * 7 * (w.b.length / w.scales.length)), scales: rotated(w.scales, c * 7) };
}

async function measureShape(ctx: Ctx, shape: OrtShape, dtype: OrtBenchDType): Promise<OrtOpResult[]> {
  const { be, ort } = ctx;
  const { K, N } = shape;
  const rand = splitmix32(K * 7919 + N);
  const scale = 1 / Math.sqrt(K);
  const base = new Float32Array(N * K); // [N = out, K = in], our orientation
  for (let i = 0; i < base.length; i++) base[i] = (2 * rand() - 1) * scale;

  // ours: one matrix in the backend's default layout (x4 for q4_0/q8_0), copied byte for byte
  const w0 = be.fromF32(dtype as DType, [N, K], base);
  const oursCopies = Math.max(1, Math.ceil(ctx.workingSet / w0.byteLength));
  const copies: Tensor[] = [w0];
  for (let i = 1; i < oursCopies; i++) {
    const t = be.tensor(dtype as DType, [N, K], undefined, { layout: w0.layout });
    be.arena.bytes.copyWithin(t.storage as number, w0.storage as number, (w0.storage as number) + w0.byteLength);
    copies.push(t);
  }

  // ORT: the same weights converted, then distinct copies, one node each, in one session per op
  const variants: OrtVariant[] = [];
  try {
    for (const { op, w } of ortWeightsFor(be, dtype, base, w0, N, K)) {
      const bytes = weightBytes(w);
      const n = Math.max(1, Math.ceil(ctx.workingSet / bytes));
      const weights: MatmulWeight[] = [w];
      for (let c = 1; c < n; c++) weights.push(weightCopy(w, c));
      const t0 = performance.now();
      const model = matmulModel({ n: "n", K, N, weights });
      weights.length = 0;
      const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"] });
      variants.push({ op, bytes, copies: n, session });
      ctx.log(
        `  ${shape.name} ${K}->${N} ${dtype}: ORT ${op} ${n} nodes of ${fmtBytes(bytes)} (model ${fmtBytes(model.byteLength)}, session ${((performance.now() - t0) / 1000).toFixed(1)} s); ours ${oursCopies} copies of ${fmtBytes(w0.byteLength)}`,
      );
    }
    return await measureRounds(ctx, shape, dtype, copies, variants, rand);
  } finally {
    for (const v of variants) await v.session.release();
    for (const t of copies) t.free();
  }
}

async function measureRounds(
  ctx: Ctx,
  shape: OrtShape,
  dtype: OrtBenchDType,
  copies: Tensor[],
  variants: OrtVariant[],
  rand: () => number,
): Promise<OrtOpResult[]> {
  const { be, ort } = ctx;
  const { K, N } = shape;
  const w0 = copies[0];
  const results: OrtOpResult[] = [];
  for (const n of [1, ctx.batch]) {
    const xs = new Float32Array(n * K);
    for (let i = 0; i < xs.length; i++) xs[i] = 2 * rand() - 1;
    const x = be.tensor("f32", [n, K], xs);
    const y = be.empty("f32", [n, N]);
    const feeds = { X: new ort.Tensor("float32", xs, [n, K]) };
    const fetches = ["Y0"];

    // agreement on the first copy (the same weights in both engines, up to each op's own quantization)
    be.matmul(y, w0, x);
    const ours0 = (be.read(y) as Float32Array).slice();
    const agreement: number[] = [];
    for (const v of variants) agreement.push(nmse(ours0, (await v.session.run(feeds, fetches)).Y0.data as Float32Array));

    let c = 0;
    const oursCall = () => {
      be.matmul(y, copies[c], x);
      c = c + 1 === copies.length ? 0 : c + 1;
    };
    for (let i = 0; i < Math.min(2 * copies.length, 4000); i++) oursCall();
    for (const v of variants) for (let i = 0; i < 2; i++) await v.session.run(feeds, fetches);

    const oursUs: number[] = [];
    const ortUs: number[][] = variants.map(() => []);
    const steps: (() => Promise<void>)[] = [
      async () => {
        oursUs.push(1e6 / rate(oursCall, ctx.roundMs));
      },
      ...variants.map((v, i) => async () => {
        ortUs[i].push(1e6 / ((await asyncRate(() => v.session.run(feeds, fetches), ctx.roundMs)) * v.copies));
      }),
    ];
    for (let r = 0; r < ctx.rounds; r++) {
      ctx.roofSamples.push(ctx.bandwidth());
      // alternate which engine goes first
      for (const step of r % 2 === 0 ? steps : [...steps].reverse()) await step();
    }
    x.free();
    y.free();
    const ours = median(oursUs);
    variants.forEach((v, i) => {
      const theirs = median(ortUs[i]);
      results.push({
        matrix: shape.name,
        K,
        N,
        n,
        dtype,
        ort_op: v.op,
        ours_bytes: w0.byteLength,
        ort_bytes: v.bytes,
        ours_copies: copies.length,
        ort_copies: v.copies,
        ours_us: round(ours),
        ort_us: round(theirs),
        ours_gb_s: round(w0.byteLength / ours / 1e3),
        ort_gb_s: round(v.bytes / theirs / 1e3),
        ratio: round(theirs / ours),
        nmse_ours_vs_ort: Number(agreement[i].toPrecision(3)),
      });
    });
  }
  return results;
}

function nmse(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return s > 0 ? e / s : e;
}

/** Matmul time per forward pass: 30 layers x (q, k, v, o, gate, up, down) + lm_head. */
function perToken(results: OrtOpResult[], ns: number[], roofline: number): OrtTokenEstimate[] {
  const out: OrtTokenEstimate[] = [];
  const ops = [...new Set(results.map((r) => `${r.dtype} ${r.ort_op}`))];
  for (const key of ops) {
    const [dtype, op] = key.split(" ") as [OrtBenchDType, string];
    for (const n of ns) {
      let ours = 0;
      let theirs = 0;
      let bytesOurs = 0;
      let bytesOrt = 0;
      let complete = true;
      for (const s of SMOLLM2_SHAPES) {
        const r = results.find((x) => x.matrix === s.name && x.dtype === dtype && x.ort_op === op && x.n === n);
        if (!r) {
          complete = false;
          break;
        }
        const times = s.perLayer * SMOLLM2_LAYERS + s.perToken;
        ours += times * r.ours_us;
        theirs += times * r.ort_us;
        bytesOurs += times * r.ours_bytes;
        bytesOrt += times * r.ort_bytes;
      }
      if (!complete) continue;
      const e: OrtTokenEstimate = {
        dtype,
        ort_op: op,
        n,
        ours_ms: round(ours / 1e3),
        ort_ms: round(theirs / 1e3),
        ours_tok_s: round((n * 1e6) / ours),
        ort_tok_s: round((n * 1e6) / theirs),
        ratio: round(theirs / ours),
        weight_bytes_ours: bytesOurs,
        weight_bytes_ort: bytesOrt,
      };
      if (n === 1) e.roofline_tok_s = round((roofline * 1e9) / bytesOurs);
      out.push(e);
    }
  }
  return out;
}

/** The report as a plain-text table. */
export function formatOrtReport(r: OrtBenchReport): string {
  const lines: string[] = [];
  lines.push("");
  lines.push(
    `onnxruntime-web ${r.ort_version} wasm (${r.ort_threads} thread${r.ort_threads > 1 ? "s" : ""}) vs edgespec wasm ${r.simd} (1 thread), node ${r.node}`,
  );
  lines.push(
    `roofline ${r.roofline_gb_s.toFixed(1)} GB/s (stream_sum, 1 thread); fixed cost per call: ORT session.run ${r.ort_run_overhead_us.toFixed(1)} us, our matmul ${r.ours_call_overhead_us.toFixed(2)} us`,
  );
  lines.push("ORT times are per node inside one session.run over the copies; ratio = ORT time / our time (> 1: we are faster)");
  lines.push("");
  lines.push(
    `${"matrix".padEnd(14)}${"K->N".padStart(10)}  ${"dtype".padEnd(6)}${"n".padStart(3)}  ${"ours us".padStart(9)} ${"GB/s".padStart(6)}  ${"ORT us".padStart(9)} ${"GB/s".padStart(6)}  ${"ratio".padStart(6)}  ORT op`,
  );
  for (const x of r.results) {
    lines.push(
      `${x.matrix.padEnd(14)}${`${x.K}->${x.N}`.padStart(10)}  ${x.dtype.padEnd(6)}${String(x.n).padStart(3)}  ${x.ours_us.toFixed(1).padStart(9)} ${x.ours_gb_s.toFixed(1).padStart(6)}  ${x.ort_us.toFixed(1).padStart(9)} ${x.ort_gb_s.toFixed(1).padStart(6)}  ${x.ratio.toFixed(2).padStart(6)}  ${x.ort_op}`,
    );
  }
  lines.push("");
  lines.push(`per forward pass, matmuls only (${SMOLLM2_LAYERS} layers x 7 + lm_head):`);
  lines.push(
    `${"dtype".padEnd(6)}${"ORT op".padEnd(20)}${"n".padStart(3)}  ${"ours ms".padStart(8)} ${"tok/s".padStart(8)}  ${"ORT ms".padStart(8)} ${"tok/s".padStart(8)}  ${"ratio".padStart(6)}  roofline tok/s (our bytes)`,
  );
  for (const t of r.per_token) {
    lines.push(
      `${t.dtype.padEnd(6)}${t.ort_op.padEnd(20)}${String(t.n).padStart(3)}  ${t.ours_ms.toFixed(2).padStart(8)} ${t.ours_tok_s.toFixed(1).padStart(8)}  ${t.ort_ms.toFixed(2).padStart(8)} ${t.ort_tok_s.toFixed(1).padStart(8)}  ${t.ratio.toFixed(2).padStart(6)}  ${t.roofline_tok_s === undefined ? "" : t.roofline_tok_s.toFixed(1)}`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

function fmtUs(us: number): string {
  return `${us.toFixed(1).padStart(8)} us`;
}

function fmtBytes(b: number): string {
  return b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MB` : `${(b / 1024).toFixed(1)} KB`;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

// direct run: node --import tsx apps/bench/src/peers/ort.ts [--quick] [--threads N] [--json] [--dtype f32,q4_0,q8_0]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dtypes = value("--dtype")?.split(",") as OrtBenchDType[] | undefined;
  for (const d of dtypes ?? []) if (!["f32", "q4_0", "q8_0"].includes(d)) throw new Error(`unknown --dtype ${JSON.stringify(d)} (f32, q4_0, q8_0)`);
  benchOrtOps({ quick: argv.includes("--quick"), json: argv.includes("--json"), threads: Number(value("--threads") ?? 1), dtypes }).then(
    // ORT's pthread workers would keep the process alive
    () => process.exit(0),
    (e) => {
      process.stderr.write(`bench ort failed: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
