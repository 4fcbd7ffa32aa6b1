/**
 * Decode benchmark: a random-weight model at a real architecture's exact shapes, decode and
 * prefill tokens/s for f32, q8_0 and q4_0 next to the roofline (weight bytes per token over
 * the memory bandwidth measured in the same process), and the cost of verifying a tree of
 * 8..64 candidate tokens relative to one decode step, which is what speculative decoding
 * spends per round. On --threads N (default 1) threads; the roofline is read on as many.
 *
 *   edgespec bench decode [--shape smollm2-135m] [--dtype f32,q8_0,q4_0] [--threads N] [--simd baseline|relaxed|auto] [--kv-cache f32|f16] [--quick] [--json]
 */
import { type LlamaConfig, LlamaModel, type WeightDType, type WeightSource } from "@edgespec/models";
import { type Backend, splitmix32, WasmBackend } from "@edgespec/runtime";
import { bandwidthProbe } from "./roofline";
import { median } from "./stats";

export const SHAPES: Record<string, LlamaConfig> = {
  // HuggingFaceTB/SmolLM2-135M config.json
  "smollm2-135m": {
    modelType: "llama",
    hiddenSize: 576,
    intermediateSize: 1536,
    numLayers: 30,
    numHeads: 9,
    numKvHeads: 3,
    headDim: 64,
    vocabSize: 49152,
    maxPositions: 8192,
    rmsEps: 1e-5,
    ropeTheta: 100000,
    ropeScaling: { type: "default" },
    ropeStyle: "neox",
    tieWordEmbeddings: true,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
  },
};

/** Uniform random weights (scaled by 1/sqrt(fan-in)) made on demand, quantized on upload. */
export function randomWeights(backend: Backend, dtype: WeightDType, seed: number): WeightSource {
  const rand = splitmix32(seed);
  const values = (n: number, scale: number, offset = 0) => {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = offset + (2 * rand() - 1) * scale;
    return v;
  };
  return {
    label: "random weights",
    has: (name) => name !== "lm_head.weight",
    matrix: (_name, shape) => backend.fromF32(dtype, shape, values(shape[0] * shape[1], 1 / Math.sqrt(shape[1]))),
    vector: (_name, n) => backend.tensor("f32", [n], values(n, 0.1, 1)),
  };
}

export interface DecodeResult {
  dtype: WeightDType;
  weight_bytes_per_token: number;
  decode_tok_s: number;
  prefill_tok_s: number;
  roofline_tok_s: number;
  ratio: number;
}

export interface VerifyResult {
  dtype: WeightDType;
  nodes: number;
  verify_ms: number;
  step_ms: number;
  verify_over_step: number;
}

/** stepBatch over n sequences (beams, parallel samples) against n single steps. */
export interface BatchResult {
  dtype: WeightDType;
  sequences: number;
  batch_ms: number;
  step_ms: number;
  /** time of one stepBatch ÷ time of one step: n means no gain from batching, 1 means free */
  batch_over_step: number;
}

export async function benchDecode(argv: string[]): Promise<number> {
  const args = new Set(argv.filter((a) => a.startsWith("--")));
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const json = args.has("--json");
  const quick = args.has("--quick");
  const shapeName = value("--shape") ?? "smollm2-135m";
  const config = SHAPES[shapeName];
  if (!config) throw new Error(`unknown --shape ${JSON.stringify(shapeName)}; available: ${Object.keys(SHAPES).join(", ")}`);
  const dtypes = (value("--dtype") ?? "f32,q8_0,q4_0").split(",") as WeightDType[];
  for (const d of dtypes) if (!["f32", "f16", "q8_0", "q4_0"].includes(d)) throw new Error(`unknown --dtype ${JSON.stringify(d)} (f32, f16, q8_0, q4_0)`);
  const rounds = quick ? 3 : 5;
  const decodeTokens = quick ? 16 : 48;
  const prefillTokens = 64;
  const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);

  const threads = Number(value("--threads") ?? 1);
  const kvCache = (value("--kv-cache") ?? "f32") as "f32" | "f16";
  const simd = value("--simd") ?? "baseline";
  if (simd !== "baseline" && simd !== "relaxed" && simd !== "auto") throw new Error(`unknown --simd ${JSON.stringify(simd)} (baseline, relaxed, auto)`);
  const backend = await WasmBackend.create({ initialMemoryBytes: 64 << 20, threads, simd });
  if (backend.threadsNote) log(`  (one thread: ${backend.threadsNote})`);
  // roofline probe, interleaved with the model measurements
  const probe = bandwidthProbe(backend);
  const bandwidth = () => probe.measure();

  log(`edgespec decode benchmark: ${shapeName} random weights, wasm ${backend.variant} simd128, ${backend.threads} thread(s), node ${process.versions.node}`);
  const results: DecodeResult[] = [];
  const verify: VerifyResult[] = [];
  const batches: BatchResult[] = [];
  const gbSamples: number[] = [];
  for (const dtype of dtypes) {
    const t0 = performance.now();
    const model = new LlamaModel(backend, config, randomWeights(backend, dtype, 1234), { contextLength: 512, kvCache });
    log(`  ${dtype}: built in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${(model.weightBytes() / 1e6).toFixed(1)} MB of weights per token`);
    const prompt = Array.from({ length: prefillTokens }, (_, i) => 3 + ((i * 7919) % (config.vocabSize - 3)));
    model.prefill(prompt.slice(0, 8));
    model.step(5);
    const decodeRates: number[] = [];
    const prefillRates: number[] = [];
    const ratios: number[] = [];
    const bytes = model.weightBytes();
    for (let r = 0; r < rounds; r++) {
      const gb = bandwidth();
      gbSamples.push(gb);
      model.reset();
      let t = performance.now();
      model.prefill(prompt);
      prefillRates.push((prefillTokens * 1000) / (performance.now() - t));
      t = performance.now();
      for (let i = 0; i < decodeTokens; i++) model.step(prompt[i]);
      const tokS = (decodeTokens * 1000) / (performance.now() - t);
      decodeRates.push(tokS);
      ratios.push(tokS / ((gb * 1e9) / bytes));
    }
    const gb = median(gbSamples.slice(-rounds));
    const res: DecodeResult = {
      dtype,
      weight_bytes_per_token: bytes,
      decode_tok_s: round(median(decodeRates)),
      prefill_tok_s: round(median(prefillRates)),
      roofline_tok_s: round((gb * 1e9) / bytes),
      ratio: round(median(ratios)),
    };
    results.push(res);
    log(
      `  ${dtype.padEnd(5)} decode ${res.decode_tok_s.toFixed(1).padStart(7)} tok/s   roofline ${res.roofline_tok_s.toFixed(1).padStart(7)} tok/s (${gb.toFixed(1)} GB/s)   ${(res.ratio * 100).toFixed(0).padStart(3)}%   prefill ${res.prefill_tok_s.toFixed(1)} tok/s`,
    );

    // verify: trees over a 64-token prefix, against one decode step at the same depth
    model.reset();
    model.prefill(prompt);
    const rand = splitmix32(99);
    for (const nodes of [8, 16, 32, 64]) {
      const tokens = Array.from({ length: nodes }, () => 3 + Math.floor(rand() * (config.vocabSize - 3)));
      const parents = tokens.map((_, i) => (i === 0 ? -1 : Math.floor(rand() * i)));
      const vs: number[] = [];
      const ss: number[] = [];
      for (let r = 0; r < rounds; r++) {
        let t = performance.now();
        model.verify(tokens, parents);
        vs.push(performance.now() - t);
        t = performance.now();
        model.step(tokens[0]);
        ss.push(performance.now() - t);
        model.rollback(1);
      }
      const v: VerifyResult = { dtype, nodes, verify_ms: round(median(vs)), step_ms: round(median(ss)), verify_over_step: round(median(vs) / median(ss)) };
      verify.push(v);
      log(
        `         verify ${String(nodes).padStart(2)} nodes ${v.verify_ms.toFixed(1).padStart(7)} ms = ${v.verify_over_step.toFixed(2)} x step (${v.step_ms.toFixed(1)} ms)`,
      );
    }

    // stepBatch: n sequences with 64-token prefixes, one token each, against one step
    for (const n of [2, 4, 8]) {
      const seqs = Array.from({ length: n }, () => model.newSequence());
      for (const seq of seqs) model.prefillSequence(seq, prompt);
      const tokens = seqs.map((_, i) => prompt[i]);
      const bs: number[] = [];
      const ss: number[] = [];
      for (let r = 0; r < rounds; r++) {
        let t = performance.now();
        model.stepBatch(seqs, tokens);
        bs.push(performance.now() - t);
        for (const seq of seqs) seq.rollback(1);
        t = performance.now();
        model.step(tokens[0]);
        ss.push(performance.now() - t);
        model.rollback(1);
      }
      for (const seq of seqs) seq.free();
      const b: BatchResult = { dtype, sequences: n, batch_ms: round(median(bs)), step_ms: round(median(ss)), batch_over_step: round(median(bs) / median(ss)) };
      batches.push(b);
      log(
        `         batch ${String(n).padStart(2)} sequences ${b.batch_ms.toFixed(1).padStart(7)} ms = ${b.batch_over_step.toFixed(2)} x step (${b.step_ms.toFixed(1)} ms)`,
      );
    }
    model.free();
  }
  probe.release();
  const threadsUsed = backend.threads; // read before close(), which leaves one thread
  backend.close();
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ shape: shapeName, threads: threadsUsed, simd: backend.variant, node: process.versions.node, bandwidth_gb_s: round(median(gbSamples)), results, verify, batch: batches })}\n`,
    );
  }
  return 0;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
