/**
 * WebGPU against wasm on the same machine: a random-weight model at a real architecture's
 * exact shapes (default SmolLM2-135M), decode and prefill tokens/s on each backend per weight
 * dtype (medians of rounds that alternate between the backends), and the ratios; then the
 * TinyStories-656K greedy check: the same tokens on WebGPU as on wasm (and as the numpy
 * reference's, over the steps the golden file calls reliable). Both backends decode through
 * the async model API (stepAsync / prefillAsync), as a WebGPU caller must.
 *
 * In Node, WebGPU comes from the optional `webgpu` package (Dawn); where the host has
 * navigator.gpu (Deno, browsers) that is used instead. The Vulkan driver Dawn picks can be
 * forced with VK_ICD_FILENAMES / VK_DRIVER_FILES.
 *
 *   edgespec bench webgpu [--shape smollm2-135m|tinystories-656k] [--dtype f32,q8_0,q4_0,f16]
 *                         [--rounds N] [--decode-tokens N] [--prefill-tokens N] [--threads N]
 *                         [--model DIR] [--no-greedy] [--greedy-only] [--require-hardware] [--quick] [--json]
 */
import { type LlamaConfig, LlamaModel, loadLlama, type WeightDType } from "@edgespec/models";
import { LocalModelSource } from "@edgespec/models/node";
import { type Backend, nodeWebGPU, WasmBackend, type WebGPUAdapterSummary, WebGPUBackend, type WebGPUBackendOptions } from "@edgespec/runtime";
import golden from "../../../packages/models/test/golden/tinystories-656k.json";
import { randomWeights, SHAPES } from "./decode";
import { fixtures } from "./paths";
import { median } from "./stats";

/** SHAPES plus TinyStories-656K's (for quick runs on software adapters) */
export const WEBGPU_SHAPES: Record<string, LlamaConfig> = {
  ...SHAPES,
  "tinystories-656k": {
    modelType: "llama",
    hiddenSize: 128,
    intermediateSize: 384,
    numLayers: 2,
    numHeads: 8,
    numKvHeads: 4,
    headDim: 16,
    vocabSize: 2048,
    maxPositions: 512,
    rmsEps: 1e-6,
    ropeTheta: 10000,
    ropeScaling: { type: "default" },
    ropeStyle: "neox",
    tieWordEmbeddings: true,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
  },
};

export interface BackendRates {
  decode_tok_s: number;
  prefill_tok_s: number;
  /** every round's rate, in order */
  decode_runs: number[];
  prefill_runs: number[];
  /** building the model: making the random weights, converting and uploading them */
  build_s: number;
}

export interface WebgpuDtypeResult {
  dtype: WeightDType;
  weight_bytes_per_token: number;
  wasm: BackendRates;
  webgpu: BackendRates;
  /** webgpu ÷ wasm (above 1: WebGPU is faster) */
  decode_ratio: number;
  prefill_ratio: number;
}

export interface GreedyRun {
  name: string;
  prompt: number[];
  steps: number;
  webgpu: number[];
  wasm: number[];
  equal: boolean;
  /** the numpy reference's tokens over the same steps where it has them, and whether WebGPU's match */
  golden: number[];
  golden_equal: boolean;
  /** worst NMSE between the two backends' logits over the steps before the tokens part (if they do) */
  logits_nmse: number;
}

export interface GreedyCheck {
  model: string;
  runs: GreedyRun[];
  ok: boolean;
  webgpu_ms_per_token: number;
  wasm_ms_per_token: number;
}

export interface WebgpuBenchResult {
  bench: "webgpu";
  shape: string;
  node: string | undefined;
  adapter: WebGPUAdapterSummary;
  wasm: { variant: string; threads: number };
  rounds: number;
  decode_tokens: number;
  prefill_tokens: number;
  results: WebgpuDtypeResult[];
  greedy: GreedyCheck | null;
  ok: boolean;
}

/** navigator.gpu's type, as the runtime declares it (the bench does not depend on the WebGPU types itself) */
type Gpu = NonNullable<WebGPUBackendOptions["gpu"]>;

/** navigator.gpu where the host has it, else the `webgpu` package's Dawn (Node). */
export async function hostGpu(): Promise<Gpu> {
  const nav = (globalThis as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
  if (nav) return nav;
  // Dawn's own options, space-separated (e.g. "backend=opengles" where Vulkan finds no driver)
  return nodeWebGPU((process.env.EDGESPEC_DAWN_FLAGS ?? "").split(" ").filter(Boolean));
}

export async function benchWebgpu(argv: string[]): Promise<number> {
  const args = new Set(argv.filter((a) => a.startsWith("--")));
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (flag: string, fallback: number) => {
    const v = value(flag);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const json = args.has("--json");
  const quick = args.has("--quick");
  const shapeName = value("--shape") ?? "smollm2-135m";
  const config = WEBGPU_SHAPES[shapeName];
  if (!config) throw new Error(`unknown --shape ${JSON.stringify(shapeName)}; available: ${Object.keys(WEBGPU_SHAPES).join(", ")}`);
  const greedyOnly = args.has("--greedy-only");
  const dtypes = greedyOnly ? [] : ((value("--dtype") ?? "f32,q8_0,q4_0").split(",") as WeightDType[]);
  for (const d of dtypes) if (!["f32", "f16", "q8_0", "q4_0"].includes(d)) throw new Error(`unknown --dtype ${JSON.stringify(d)} (f32, f16, q8_0, q4_0)`);
  const rounds = int("--rounds", quick ? 3 : 5);
  const decodeTokens = int("--decode-tokens", quick ? 16 : 48);
  const prefillTokens = int("--prefill-tokens", 64);
  const threads = int("--threads", 1);
  const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);

  const gpu = await hostGpu();
  const webgpu = await WebGPUBackend.create({ gpu, powerPreference: "high-performance" });
  const wasm = await WasmBackend.create({ initialMemoryBytes: 64 << 20, threads, simd: "baseline" });
  try {
    const a = webgpu.adapter;
    log(
      `edgespec WebGPU benchmark: adapter "${a.description || a.architecture}" (${a.vendor}${a.isFallbackAdapter ? ", software fallback" : ""}, shader-f16 ${a.shaderF16 ? "yes" : "no"}) vs wasm ${wasm.variant} on ${wasm.threads} thread(s), node ${process.versions.node}`,
    );
    if (args.has("--require-hardware") && a.isFallbackAdapter)
      throw new Error(`bench webgpu --require-hardware: the adapter is a software fallback (${a.description || a.architecture})`);

    const greedy = args.has("--no-greedy") ? null : await greedyCheck(value("--model") ?? fixtures("webgpu", "models", "tinystories-656k"), wasm, webgpu, log);

    const results: WebgpuDtypeResult[] = [];
    const prompt = Array.from({ length: prefillTokens }, (_, i) => 3 + ((i * 7919) % (config.vocabSize - 3)));
    for (const dtype of dtypes) {
      const build = async (be: Backend) => {
        const t0 = performance.now();
        const model = new LlamaModel(be, config, randomWeights(be, dtype, 1234), { contextLength: Math.max(512, prefillTokens + decodeTokens + 16) });
        await be.finish();
        return { model, build_s: (performance.now() - t0) / 1000 };
      };
      const onWasm = await build(wasm);
      const onGpu = await build(webgpu);
      const bytes = onWasm.model.weightBytes();
      log(
        `  ${dtype}: ${(bytes / 1e6).toFixed(1)} MB of weights per token; built in ${onWasm.build_s.toFixed(1)} s (wasm), ${onGpu.build_s.toFixed(1)} s (webgpu)`,
      );
      const runs = { wasm: { d: [] as number[], p: [] as number[] }, webgpu: { d: [] as number[], p: [] as number[] } };
      // warm-up: pipelines compiled, buffers made, caches touched
      for (const m of [onWasm.model, onGpu.model]) {
        m.reset();
        await m.prefillAsync(prompt.slice(0, 8));
        await m.stepAsync(5);
        await m.stepAsync(6);
      }
      for (let r = 0; r < rounds; r++) {
        // alternate which backend goes first, so drift in the machine's state hits both alike
        const order = r % 2 === 0 ? (["wasm", "webgpu"] as const) : (["webgpu", "wasm"] as const);
        for (const which of order) {
          const m = which === "wasm" ? onWasm.model : onGpu.model;
          m.reset();
          let t = performance.now();
          await m.prefillAsync(prompt);
          runs[which].p.push((prefillTokens * 1000) / (performance.now() - t));
          t = performance.now();
          for (let i = 0; i < decodeTokens; i++) await m.stepAsync(prompt[i % prompt.length]);
          runs[which].d.push((decodeTokens * 1000) / (performance.now() - t));
        }
      }
      const rates = (which: "wasm" | "webgpu", build_s: number): BackendRates => ({
        decode_tok_s: round(median(runs[which].d)),
        prefill_tok_s: round(median(runs[which].p)),
        decode_runs: runs[which].d.map(round),
        prefill_runs: runs[which].p.map(round),
        build_s: round(build_s),
      });
      const res: WebgpuDtypeResult = {
        dtype,
        weight_bytes_per_token: bytes,
        wasm: rates("wasm", onWasm.build_s),
        webgpu: rates("webgpu", onGpu.build_s),
        decode_ratio: 0,
        prefill_ratio: 0,
      };
      res.decode_ratio = sig(res.webgpu.decode_tok_s / res.wasm.decode_tok_s);
      res.prefill_ratio = sig(res.webgpu.prefill_tok_s / res.wasm.prefill_tok_s);
      results.push(res);
      log(
        `  ${dtype.padEnd(5)} decode tok/s  wasm ${res.wasm.decode_tok_s.toFixed(1).padStart(8)}  webgpu ${res.webgpu.decode_tok_s.toFixed(1).padStart(8)}  (${res.decode_ratio}x)   prefill ${prefillTokens} tok/s  wasm ${res.wasm.prefill_tok_s.toFixed(1).padStart(8)}  webgpu ${res.webgpu.prefill_tok_s.toFixed(1).padStart(8)}  (${res.prefill_ratio}x)`,
      );
      onWasm.model.free();
      onGpu.model.free();
    }
    const out: WebgpuBenchResult = {
      bench: "webgpu",
      shape: shapeName,
      node: process.versions.node,
      adapter: a,
      wasm: { variant: wasm.variant, threads: wasm.threads },
      rounds,
      decode_tokens: decodeTokens,
      prefill_tokens: prefillTokens,
      results,
      greedy,
      ok: greedy === null || greedy.ok,
    };
    if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
    if (greedy && !greedy.ok) log("bench webgpu: the greedy check FAILED: WebGPU's tokens differ from wasm's (or from the reference's)");
    return out.ok ? 0 : 1;
  } finally {
    wasm.close();
    // Dawn's device keeps Node running until it is destroyed
    webgpu.destroy();
  }
}

/** TinyStories-656K on both backends: greedy from BOS (64 tokens) and after a prompt (32), token for token. */
async function greedyCheck(dir: string, wasm: Backend, webgpu: Backend, log: (s: string) => void): Promise<GreedyCheck> {
  const source = await LocalModelSource.fromPath(dir);
  const onWasm = (await loadLlama(source, { backend: wasm })).model;
  const onGpu = (await loadLlama(source, { backend: webgpu })).model;
  const runs: GreedyRun[] = [];
  const ms = { wasm: 0, webgpu: 0, n: 0 };
  const plan = [
    { name: "BOS", prompt: golden.bos_greedy.prompt, steps: 64, golden: golden.bos_greedy.tokens.slice(0, Math.min(64, golden.bos_greedy.reliable_prefix)) },
    { name: JSON.stringify(golden.cases[0].text), prompt: golden.cases[0].prompt, steps: 32, golden: golden.cases[0].greedy },
  ];
  for (const p of plan) {
    const a = await greedy(onGpu, p.prompt, p.steps);
    const b = await greedy(onWasm, p.prompt, p.steps);
    ms.webgpu += a.ms;
    ms.wasm += b.ms;
    ms.n += p.steps;
    let worst = 0;
    for (let i = 0; i < p.steps && (i === 0 || a.tokens[i - 1] === b.tokens[i - 1]); i++) worst = Math.max(worst, nmse(a.logits[i], b.logits[i]));
    const run: GreedyRun = {
      name: p.name,
      prompt: p.prompt,
      steps: p.steps,
      webgpu: a.tokens,
      wasm: b.tokens,
      equal: a.tokens.every((t, i) => t === b.tokens[i]),
      golden: p.golden,
      golden_equal: p.golden.every((t, i) => t === a.tokens[i]),
      logits_nmse: worst,
    };
    runs.push(run);
    log(
      `  greedy TinyStories-656K from ${p.name}: ${p.steps} tokens, webgpu ${run.equal ? "=" : "≠"} wasm, ${run.golden_equal ? "=" : "≠"} reference over ${p.golden.length}; logits NMSE ${worst.toExponential(1)}`,
    );
  }
  onWasm.free();
  onGpu.free();
  return {
    model: dir,
    runs,
    ok: runs.every((r) => r.equal && r.golden_equal),
    webgpu_ms_per_token: round(ms.webgpu / ms.n),
    wasm_ms_per_token: round(ms.wasm / ms.n),
  };
}

async function greedy(model: LlamaModel, prompt: number[], steps: number): Promise<{ tokens: number[]; logits: Float32Array[]; ms: number }> {
  model.reset();
  const t0 = performance.now();
  let l = (await model.prefillAsync(prompt)).logits.slice();
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  for (let i = 0; i < steps; i++) {
    logits.push(l);
    let best = 0;
    for (let j = 1; j < l.length; j++) if (l[j] > l[best]) best = j;
    tokens.push(best);
    if (i + 1 < steps) l = (await model.stepAsync(best)).slice();
  }
  return { tokens, logits, ms: performance.now() - t0 };
}

function nmse(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] * b[i];
  }
  return den === 0 ? num : num / den;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** four significant digits (ratios far below 1 on software adapters stay readable) */
function sig(v: number): number {
  return Number(v.toPrecision(4));
}
