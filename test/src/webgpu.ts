/**
 * WebGPU conformance: the op cases on `createBackend("webgpu", { gpu })`, each compared by
 * NMSE with the reference backend and with the wasm backend of the same host, and a greedy
 * generation of TinyStories-656K that must give the wasm backend's tokens. GPU float math
 * is not the wasm kernels' (other summation orders, other exp/tanh/sin/cos), so the bounds
 * are per op (BOUNDS) instead of byte identity. Every host (Node with the `webgpu` package,
 * Deno, headless Chromium) runs this module and reports which adapter it ran on; a host
 * without an adapter gets a report with `error` set, which the orchestrator fails on.
 */

import type { Backend, DType, RopeStyle, Tensor, WebGPUAdapterSummary } from "@edgespec/runtime";
import { loadLlama } from "../../packages/models/src/load";
import golden from "../../packages/models/test/golden/tinystories-656k.json";
import { MemoryModelSource, TINYSTORIES_FILES } from "./memory-source";
import { nmse, uniform } from "./vectors";

export interface WebGPUHostApi {
  /** the runtime's createBackend; "webgpu" with `{ gpu }` must give the WebGPU backend */
  createBackend(name: "wasm" | "reference" | "webgpu", opts?: { gpu?: unknown; maxBindingBytes?: number }): Promise<Backend>;
  ropeFrequencies(dim: number, theta: number, scaling?: unknown): { invFreq: Float32Array; attentionFactor: number };
  /** the WebGPU entry point (Node: the `webgpu` package's `create([])`); hosts with navigator.gpu leave it out */
  gpu?: unknown;
  /** the runtime's webgpuUnavailableReason, for the message when no backend could be made */
  unavailableReason?(gpu?: unknown): Promise<string | null>;
  /** a file of the TinyStories-656K folder (config.json, model.safetensors) */
  readModelFile(name: string): Promise<Uint8Array>;
}

/** What `backend.adapter` says about the adapter the backend runs on. */
export type AdapterReport = WebGPUAdapterSummary;

export interface GpuCaseResult {
  name: string;
  op: Op;
  /** NMSE of the WebGPU outputs against the reference backend's, and against wasm's (worst output) */
  nmseRef: number;
  nmseWasm: number;
  boundRef: number;
  boundWasm: number;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface GreedyResult {
  name: string;
  prompt: number[];
  webgpu: number[];
  wasm: number[];
  /** the numpy reference's greedy tokens over the same steps, where the golden has them */
  golden: number[];
  /** worst NMSE between the WebGPU and wasm logits over every step */
  logitsNmse: number;
  bound: number;
  ok: boolean;
  error?: string;
}

export interface WebGPUReport {
  host: string;
  adapter: AdapterReport | null;
  /** set when the host has no WebGPU backend (no navigator.gpu, no adapter): a failure */
  error?: string;
  cases: GpuCaseResult[];
  generation: GreedyResult[];
  ok: boolean;
  ms: number;
}

export type Op =
  | "matmul f32"
  | "matmul f16"
  | "matmul q8_0"
  | "matmul q4_0"
  | "rmsnorm"
  | "layernorm"
  | "softmax"
  | "silu"
  | "gelu"
  | "geluTanh"
  | "swiglu"
  | "add"
  | "mul"
  | "scale"
  | "rope"
  | "attention"
  | "attention f16 kv"
  | "getRows"
  | "quantize"
  | "copy/view"
  | "write";

/**
 * NMSE bounds per op, against the reference backend and against wasm. f32 ops: the GPU
 * sums in other orders and has its own exp/tanh/sqrt (WGSL allows a few ULP), so 1e-9..1e-8
 * where wasm is ~1e-14 from the reference. rope: WGSL sin/cos are only good to ~2^-11 absolute
 * when evaluated on the device. Quantized weights: the wasm kernels quantize the activations
 * to q8 as ggml does and the reference does not, so both bounds leave room for that.
 */
export const BOUNDS: Record<Op, { ref: number; wasm: number }> = {
  "matmul f32": { ref: 1e-9, wasm: 1e-9 },
  "matmul f16": { ref: 1e-6, wasm: 1e-6 },
  "matmul q8_0": { ref: 5e-4, wasm: 5e-4 },
  "matmul q4_0": { ref: 5e-4, wasm: 5e-4 },
  rmsnorm: { ref: 1e-9, wasm: 1e-9 },
  layernorm: { ref: 1e-9, wasm: 1e-9 },
  softmax: { ref: 1e-8, wasm: 1e-8 },
  silu: { ref: 1e-8, wasm: 1e-8 },
  gelu: { ref: 1e-8, wasm: 1e-8 },
  geluTanh: { ref: 1e-8, wasm: 1e-8 },
  swiglu: { ref: 1e-8, wasm: 1e-8 },
  add: { ref: 0, wasm: 0 },
  mul: { ref: 0, wasm: 0 },
  scale: { ref: 0, wasm: 0 },
  rope: { ref: 1e-6, wasm: 1e-6 },
  attention: { ref: 1e-8, wasm: 1e-8 },
  "attention f16 kv": { ref: 1e-8, wasm: 1e-8 },
  getRows: { ref: 0, wasm: 0 },
  quantize: { ref: 1e-6, wasm: 1e-6 },
  "copy/view": { ref: 0, wasm: 0 },
  write: { ref: 0, wasm: 0 },
};

/** greedy logits: WebGPU against wasm, worst step */
export const GREEDY_LOGITS_BOUND = 1e-8;

interface GpuCase {
  name: string;
  op: Op;
  run(be: Backend, api: WebGPUHostApi): Promise<Float32Array[]>;
  /** also run on a backend whose storage bindings are capped at SPLIT_BINDING_BYTES (2-D tensors split between buffers) */
  split?: boolean;
}

/** the binding cap of the split run: every weight of its cases spans several buffers */
export const SPLIT_BINDING_BYTES = 16 << 10;

const read = (be: Backend, t: Tensor): Promise<Float32Array> => be.readF32Async(t);

function gpuCases(): GpuCase[] {
  const out: GpuCase[] = [];
  // GEMV (n = 1) and GEMM (n > 1), odd row counts, long rows, the SmolLM2-135M projections
  const shapes: [number, number, number][] = [
    [1, 32, 1],
    [4, 32, 3],
    [33, 96, 1],
    [33, 96, 2],
    [64, 4096, 1],
    [257, 256, 1],
    [257, 256, 5],
    [576, 1536, 1],
    [1536, 576, 1],
    [1536, 576, 7],
    [96, 576, 33],
  ];
  for (const dt of ["f32", "f16", "q8_0", "q4_0"] as const) {
    const all = dt === "f32" || dt === "f16" ? [...shapes, [3, 33, 2] as [number, number, number], [9, 4097, 1] as [number, number, number]] : shapes;
    for (const [rows, cols, n] of all) {
      out.push({
        name: `matmul ${dt} ${rows}x${cols} n=${n} (${n === 1 ? "GEMV" : "GEMM"})`,
        op: `matmul ${dt}`,
        async run(be) {
          const w = be.fromF32(dt, [rows, cols], uniform(rows * 31 + cols, rows * cols));
          const x = be.tensor("f32", [n, cols], uniform(cols + n, n * cols));
          const y = be.empty("f32", [n, rows]);
          be.matmul(y, w, x);
          // a second product into a fresh output: queued work must not reuse the first's buffers wrongly
          const x2 = be.tensor("f32", [n, cols], uniform(cols + n + 1, n * cols));
          const y2 = be.empty("f32", [n, rows]);
          be.matmul(y2, w, x2);
          return [await read(be, y), await read(be, y2)];
        },
        // activations and outputs stay under the cap (only weights and tables may be split)
        split: (rows === 64 && cols === 4096) || (rows === 257 && n === 5) || (rows === 1536 && n === 1),
      });
    }
  }
  const lens = [1, 3, 33, 257, 4097];
  const rowOp = (op: Op, f: (be: Backend, y: Tensor, x: Tensor, x2: Tensor, w: Tensor, len: number) => void) =>
    out.push({
      name: `${op} [2 x ${lens.join("|")}]`,
      op,
      async run(be) {
        const res: Float32Array[] = [];
        for (const len of lens) {
          const x = be.tensor("f32", [2, len], uniform(len, 2 * len, -4, 4));
          const x2 = be.tensor("f32", [2, len], uniform(len + 7, 2 * len, -4, 4));
          const w = be.tensor("f32", [len], uniform(len + 1, len));
          const y = be.empty("f32", [2, len]);
          f(be, y, x, x2, w, len);
          res.push(await read(be, y));
        }
        return res;
      },
    });
  rowOp("rmsnorm", (be, y, x, _x2, w) => be.rmsnorm(y, x, w, 1e-6));
  rowOp("layernorm", (be, y, x, _x2, w, len) => be.layernorm(y, x, w, be.tensor("f32", [len], uniform(len + 3, len)), 1e-5));
  rowOp("softmax", (be, y, x) => be.softmax(y, x));
  rowOp("silu", (be, y, x) => be.silu(y, x));
  rowOp("gelu", (be, y, x) => be.gelu(y, x));
  rowOp("geluTanh", (be, y, x) => be.geluTanh(y, x));
  rowOp("swiglu", (be, y, x, x2) => be.swiglu(y, x, x2));
  rowOp("add", (be, y, x, x2, w) => {
    be.add(y, x, x2);
    be.add(y, y, w); // in place, b broadcast over the rows
  });
  rowOp("mul", (be, y, x, x2, w) => {
    be.mul(y, x, x2);
    be.mul(y, y, w);
  });
  rowOp("scale", (be, y, x) => be.scale(y, x, -0.3));
  for (const style of ["neox", "interleaved"] as RopeStyle[]) {
    out.push({
      name: `rope ${style} llama3-scaled, partial rotary, positions to 32000`,
      op: "rope",
      async run(be, api) {
        const x = be.tensor("f32", [5, 3, 64], uniform(7, 5 * 3 * 64));
        const f = api.ropeFrequencies(32, 500000, { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
        be.rope(x, [0, 1, 100, 4095, 32000], { invFreq: f.invFreq, style, ropeDim: 32 });
        return [await read(be, x)];
      },
    });
    out.push({
      name: `rope ${style} full rotary, theta 10000, attention factor 1.2`,
      op: "rope",
      async run(be, api) {
        const x = be.tensor("f32", [7, 9, 64], uniform(8, 7 * 9 * 64));
        const f = api.ropeFrequencies(64, 10000);
        be.rope(x, [0, 1, 2, 3, 17, 511, 2047], { invFreq: f.invFreq, style, attentionFactor: 1.2 });
        return [await read(be, x)];
      },
    });
  }
  // tree: node 0 follows the prefix, 1 and 3 follow 0, 2 follows 1, 4 and 5 follow 3
  const tree = new Uint8Array(36);
  const parent = [-1, 0, 1, 0, 3, 3];
  for (let i = 0; i < 6; i++) for (let j = i; j >= 0; j = parent[j]) tree[i * 6 + j] = 1;
  const attn: [string, number, number, number, number, number, number][] = [
    // mask, nQ, kvLen, heads, kv heads, head dim, capacity
    ["none", 6, 6, 8, 2, 64, 48],
    ["causal", 6, 40, 8, 2, 64, 48],
    ["tree", 6, 40, 8, 2, 64, 48],
    ["causal", 1, 1, 9, 3, 64, 16],
    ["causal", 1, 300, 9, 3, 64, 512],
    ["causal", 64, 64, 9, 3, 64, 128],
    ["tree", 6, 6, 4, 4, 32, 8],
  ];
  for (const kvDt of ["f32", "f16"] as DType[]) {
    for (const [mask, nQ, kvLen, nH, nKv, d, cap] of attn) {
      out.push({
        name: `attention ${mask} q=${nQ} kv=${kvLen} gqa ${nH}/${nKv} d=${d} (${kvDt} cache)`,
        op: kvDt === "f32" ? "attention" : "attention f16 kv",
        async run(be) {
          const q = be.tensor("f32", [nQ, nH, d], uniform(1 + nQ, nQ * nH * d));
          const k = be.fromF32(kvDt, [nKv, cap, d], uniform(2 + cap, nKv * cap * d));
          const v = be.fromF32(kvDt, [nKv, cap, d], uniform(3 + cap, nKv * cap * d));
          const o = be.empty("f32", [nQ, nH, d]);
          be.attention(o, q, k, v, { kvLen, mask: mask === "tree" ? tree : (mask as "none" | "causal") });
          return [await read(be, o)];
        },
      });
    }
  }
  for (const dt of ["f32", "f16", "q8_0", "q4_0"] as DType[]) {
    out.push({
      name: `getRows ${dt} table [64 x 576], ids 63,0,17,17`,
      op: "getRows",
      async run(be) {
        const t = be.fromF32(dt, [64, 576], uniform(11, 64 * 576, -2, 2));
        const g = be.empty("f32", [4, 576]);
        be.getRows(g, t, [63, 0, 17, 17]);
        return [await read(be, g)];
      },
      split: true,
    });
  }
  for (const dt of ["f16", "q8_0", "q4_0"] as DType[]) {
    out.push({
      name: `quantize ${dt} [8 x 128] and dequantize`,
      op: "quantize",
      async run(be) {
        const t = be.fromF32(dt, [8, 128], uniform(12, 8 * 128, -5, 5));
        const raw = await be.readAsync(t);
        return [Float32Array.from(raw as ArrayLike<number>), await be.readF32Async(t)];
      },
    });
  }
  out.push({
    name: "copy/view: views into one buffer, a copy between tensors, an overlapping move (memmove)",
    op: "copy/view",
    async run(be) {
      const parent = be.tensor("f32", [8, 64], uniform(13, 8 * 64));
      const rows = (i: number, n: number) => be.view(parent, i * 64 * 4, "f32", [n, 64]);
      const other = be.empty("f32", [2, 64]);
      be.copy(other, rows(6, 2)); // rows 6..7 out
      be.copy(rows(2, 5), rows(0, 5)); // rows 0..4 -> 2..6, overlapping, forwards
      be.copy(rows(0, 3), rows(1, 3)); // rows 1..3 -> 0..2, overlapping, backwards
      const v = rows(3, 2);
      const y = be.empty("f32", [2, 64]);
      be.scale(y, v, 2); // an op reading through a view at an offset
      const bytes = be.tensor(
        "u8",
        [256],
        Uint8Array.from({ length: 256 }, (_, i) => (i * 37) & 255),
      );
      const f = be.view(bytes, 64, "f32", [16]);
      return [await read(be, parent), await read(be, other), await read(be, y), await read(be, f)];
    },
  });
  out.push({
    name: "write: overwrite a tensor, then use it",
    op: "write",
    async run(be) {
      const x = be.tensor("f32", [3, 33], uniform(14, 99));
      const y = be.empty("f32", [3, 33]);
      be.add(y, x, x);
      const first = await read(be, y);
      be.write(x, uniform(15, 99));
      be.add(y, x, x);
      return [first, await read(be, y)];
    },
  });
  return out;
}

/** Greedy decoding with the logits awaited (the only way on WebGPU); the logits of every step are kept. */
async function greedy(
  model: Awaited<ReturnType<typeof loadLlama>>["model"],
  prompt: number[],
  steps: number,
): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  model.reset();
  const logits: Float32Array[] = [];
  let l = (await model.prefillAsync(prompt)).logits.slice();
  const tokens: number[] = [];
  for (let i = 0; i < steps; i++) {
    logits.push(l);
    const t = argmax(l);
    tokens.push(t);
    if (i + 1 < steps) l = (await model.stepAsync(t)).slice();
  }
  return { tokens, logits };
}

function argmax(l: Float32Array): number {
  let best = 0;
  for (let i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
  return best;
}

async function generation(api: WebGPUHostApi, gpu: Backend, wasm: Backend): Promise<GreedyResult[]> {
  const files: Record<string, Uint8Array> = {};
  for (const f of TINYSTORIES_FILES) files[f] = await api.readModelFile(f);
  const source = new MemoryModelSource("tinystories-656k", files);
  const onGpu = (await loadLlama(source, { backend: gpu })).model;
  const onWasm = (await loadLlama(source, { backend: wasm })).model;
  const runs: { name: string; prompt: number[]; steps: number; golden: number[] }[] = [
    { name: "BOS, 64 tokens", prompt: golden.bos_greedy.prompt, steps: 64, golden: golden.bos_greedy.tokens.slice(0, 64) },
    ...golden.cases.map((c) => ({ name: `${JSON.stringify(c.text)}, 16 tokens`, prompt: c.prompt, steps: 16, golden: c.greedy })),
  ];
  const results: GreedyResult[] = [];
  for (const r of runs) {
    const res: GreedyResult = { name: r.name, prompt: r.prompt, webgpu: [], wasm: [], golden: r.golden, logitsNmse: 0, bound: GREEDY_LOGITS_BOUND, ok: false };
    try {
      const a = await greedy(onGpu, r.prompt, r.steps);
      const b = await greedy(onWasm, r.prompt, r.steps);
      res.webgpu = a.tokens;
      res.wasm = b.tokens;
      // where the tokens part, later logits are of other contexts: compare up to the first difference
      for (let i = 0; i < Math.min(a.logits.length, b.logits.length) && a.tokens[i - 1] === b.tokens[i - 1]; i++) {
        res.logitsNmse = Math.max(res.logitsNmse, nmse(a.logits[i], b.logits[i]));
      }
      const sameAsWasm = a.tokens.length === r.steps && a.tokens.every((t, i) => t === b.tokens[i]);
      const sameAsGolden = r.golden.every((t, i) => t === a.tokens[i]);
      res.ok = sameAsWasm && sameAsGolden && res.logitsNmse <= res.bound;
      if (!sameAsWasm) res.error = "WebGPU tokens differ from wasm's";
      else if (!sameAsGolden) res.error = "tokens differ from the numpy reference's greedy tokens";
      else if (res.logitsNmse > res.bound) res.error = `logits NMSE ${res.logitsNmse} > ${res.bound}`;
    } catch (e) {
      res.error = String((e as Error)?.stack ?? e);
    }
    results.push(res);
  }
  // a tree verified in one batched forward after a prompt: the speculative path
  const tree: GreedyResult = {
    name: "verify: 8-node tree after 'Once upon a time'",
    prompt: golden.cases[0].prompt,
    webgpu: [],
    wasm: [],
    golden: [],
    logitsNmse: 0,
    bound: GREEDY_LOGITS_BOUND,
    ok: false,
  };
  try {
    const tokens = [313, 598, 303, 1049, 42, 7, 1468, 267];
    const parents = [-1, 0, 1, 2, 0, 4, 3, 6];
    const logits: Float32Array[] = [];
    for (const m of [onGpu, onWasm]) {
      m.reset();
      await m.prefillAsync(tree.prompt);
      const v = await m.verifyAsync(tokens, parents);
      logits.push(v.logits.slice());
    }
    tree.logitsNmse = nmse(logits[0], logits[1]);
    for (let r = 0; r < tokens.length; r++) {
      tree.webgpu.push(argmax(logits[0].subarray(r * 2048, (r + 1) * 2048)));
      tree.wasm.push(argmax(logits[1].subarray(r * 2048, (r + 1) * 2048)));
    }
    tree.ok = tree.logitsNmse <= tree.bound && tree.webgpu.every((t, i) => t === tree.wasm[i]);
    if (!tree.ok) tree.error = `tree logits NMSE ${tree.logitsNmse} (bound ${tree.bound}) or argmax differ`;
  } catch (e) {
    tree.error = String((e as Error)?.stack ?? e);
  }
  results.push(tree);
  onGpu.free();
  onWasm.free();
  return results;
}

function adapterOf(be: Backend): AdapterReport | null {
  // duck-typed: the host's runtime may be another copy than the one bundled here
  const a = (be as { adapter?: AdapterReport }).adapter;
  return a ? { ...a } : null;
}

/** Run every WebGPU case and the greedy check in this host; never throws. `only` filters cases by name. */
export async function runWebGPUConformance(api: WebGPUHostApi, host: string, opts: { only?: string } = {}): Promise<WebGPUReport> {
  const t0 = Date.now();
  const report: WebGPUReport = { host, adapter: null, cases: [], generation: [], ok: false, ms: 0 };
  let gpu: Backend;
  try {
    gpu = await api.createBackend("webgpu", api.gpu === undefined ? {} : { gpu: api.gpu });
  } catch (e) {
    const reason = await api.unavailableReason?.(api.gpu).catch((r) => String(r));
    const msg = String((e as Error)?.message ?? e);
    report.error = `no WebGPU backend in ${host}: ${msg}${reason && !msg.includes(reason) ? ` (${reason})` : ""}`;
    report.ms = Date.now() - t0;
    return report;
  }
  report.adapter = adapterOf(gpu);
  if (gpu.name !== "webgpu") report.error = `createBackend("webgpu") gave the ${gpu.name} backend`;
  else if (!report.adapter) report.error = "the WebGPU backend has no adapter summary (backend.adapter)";
  const wasm = await api.createBackend("wasm");
  const ref = await api.createBackend("reference");
  // the same cases with every 2-D tensor above SPLIT_BINDING_BYTES split between buffers
  let split: Backend | null = null;
  const all = gpuCases();
  const runs: { c: GpuCase; be: () => Promise<Backend>; name: string }[] = all.map((c) => ({ c, be: async () => gpu, name: c.name }));
  const splitName = (c: GpuCase) => `${c.name} [bindings split at ${SPLIT_BINDING_BYTES >> 10} KiB]`;
  for (const c of all.filter((c) => c.split)) {
    runs.push({ c, be: async () => (split ??= await api.createBackend("webgpu", { gpu: api.gpu, maxBindingBytes: SPLIT_BINDING_BYTES })), name: splitName(c) });
  }
  for (const { c, be, name } of runs) {
    if (opts.only && !name.includes(opts.only)) continue;
    const b = BOUNDS[c.op];
    const r: GpuCaseResult = {
      name,
      op: c.op,
      nmseRef: Number.POSITIVE_INFINITY,
      nmseWasm: Number.POSITIVE_INFINITY,
      boundRef: b.ref,
      boundWasm: b.wasm,
      ok: false,
      ms: 0,
    };
    const t = Date.now();
    try {
      const onGpu = await be();
      const got = await c.run(onGpu, api);
      await onGpu.finish();
      r.ms = Date.now() - t;
      const viaWasm = await c.run(wasm, api);
      const want = await c.run(ref, api);
      r.nmseRef = worst(got, want);
      r.nmseWasm = worst(got, viaWasm);
      r.ok = r.nmseRef <= b.ref && r.nmseWasm <= b.wasm;
    } catch (e) {
      r.error = String((e as Error)?.stack ?? e);
    }
    report.cases.push(r);
  }
  // `only` picks cases by name; the greedy check runs with none, or with only "greedy"
  if (!opts.only || opts.only === "greedy") report.generation = await generation(api, gpu, wasm);
  for (const b of [gpu, split]) (b as unknown as { destroy?(): void } | null)?.destroy?.();
  report.ok = !report.error && report.cases.every((c) => c.ok) && report.generation.every((g) => g.ok);
  report.ms = Date.now() - t0;
  return report;
}

function worst(got: Float32Array[], want: Float32Array[]): number {
  if (got.length !== want.length) return Number.POSITIVE_INFINITY;
  let w = 0;
  for (let i = 0; i < got.length; i++) w = Math.max(w, nmse(got[i], want[i]));
  return w;
}

/** The report's failures, one line each (empty when it passed). */
export function webgpuFailures(r: WebGPUReport): string[] {
  const f: string[] = [];
  if (r.error) f.push(r.error);
  for (const c of r.cases) {
    if (c.ok) continue;
    f.push(
      c.error
        ? `${c.name}: ${c.error.split("\n")[0]}`
        : `${c.name}: nmse vs reference ${c.nmseRef} (bound ${c.boundRef}), vs wasm ${c.nmseWasm} (bound ${c.boundWasm})`,
    );
  }
  for (const g of r.generation) {
    if (!g.ok) f.push(`greedy ${g.name}: ${g.error?.split("\n")[0]}; webgpu ${g.webgpu.join(",")} wasm ${g.wasm.join(",")}`);
  }
  return f;
}
