/**
 * One config for the Llama family, filled from a Hugging Face config.json, GGUF metadata
 * or a llama2.c header. Anything we cannot run faithfully is refused by name.
 */

import type { RopeScaling, RopeStyle } from "@edgespec/runtime";
import { configFields } from "../config-fields";
import { UnsupportedModelError } from "../errors";
import type { GgufHeader } from "../formats/gguf";

export interface LlamaConfig {
  /** "llama" | "mistral" | "qwen2": what the weights came as */
  modelType: string;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
  rmsEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  /** "neox" (rotate-half, HF) or "interleaved" (llama2.c, GGUF llama's permuted q/k) */
  ropeStyle: RopeStyle;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2) */
  attentionBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

const HF_TYPES: Record<string, string> = {
  LlamaForCausalLM: "llama",
  MistralForCausalLM: "mistral",
  Qwen2ForCausalLM: "qwen2",
};

type Json = Record<string, unknown>;

export function llamaConfigFromHf(file: string, cfg: Json, generation?: Json): LlamaConfig {
  const archs = Array.isArray(cfg.architectures) ? (cfg.architectures as string[]) : [];
  const arch = archs.find((a) => a in HF_TYPES);
  const modelType = arch ? HF_TYPES[arch] : String(cfg.model_type);
  if (!["llama", "mistral", "qwen2"].includes(modelType)) {
    throw new UnsupportedModelError(
      file,
      `architecture ${JSON.stringify(archs[0] ?? cfg.model_type)} is not supported by the Llama-family model (${Object.keys(HF_TYPES).join(", ")})`,
    );
  }
  const { int, num } = configFields(file, cfg);
  const hiddenSize = int("hidden_size");
  const numHeads = int("num_attention_heads");
  const headDim = cfg.head_dim == null ? hiddenSize / numHeads : int("head_dim");
  if (!Number.isInteger(headDim)) throw new UnsupportedModelError(file, `hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  const act = cfg.hidden_act ?? "silu";
  if (act !== "silu") throw new UnsupportedModelError(file, `hidden_act ${JSON.stringify(act)} is not supported (silu)`);
  if (cfg.sliding_window != null && cfg.use_sliding_window === true) {
    throw new UnsupportedModelError(file, "sliding-window attention (use_sliding_window: true) is not supported");
  }
  const config: LlamaConfig = {
    modelType,
    hiddenSize,
    intermediateSize: int("intermediate_size"),
    numLayers: int("num_hidden_layers"),
    numHeads,
    numKvHeads: int("num_key_value_heads", numHeads),
    headDim,
    vocabSize: int("vocab_size"),
    maxPositions: int("max_position_embeddings", 2048),
    rmsEps: num("rms_norm_eps", 1e-6),
    ropeTheta: num("rope_theta", 10000),
    ropeScaling: hfRopeScaling(file, cfg.rope_scaling as Json | null | undefined),
    ropeStyle: "neox",
    tieWordEmbeddings: cfg.tie_word_embeddings === undefined ? modelType === "qwen2" : Boolean(cfg.tie_word_embeddings),
    attentionBias: modelType === "qwen2" || cfg.attention_bias === true,
    bosTokenId: pickId(generation?.bos_token_id ?? cfg.bos_token_id),
    eosTokenIds: pickIds(generation?.eos_token_id ?? cfg.eos_token_id),
  };
  if (cfg.mlp_bias === true) throw new UnsupportedModelError(file, "mlp_bias: true is not supported");
  return checkLlamaConfig(file, config);
}

function hfRopeScaling(file: string, rs: Json | null | undefined): RopeScaling {
  if (!rs) return { type: "default" };
  const type = rs.rope_type ?? rs.type;
  const n = (k: string): number => {
    const v = rs[k];
    if (typeof v !== "number") throw new UnsupportedModelError(file, `rope_scaling.${k} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  switch (type) {
    case "default":
      return { type: "default" };
    case "linear":
      return { type: "linear", factor: n("factor") };
    case "llama3":
      return {
        type: "llama3",
        factor: n("factor"),
        lowFreqFactor: n("low_freq_factor"),
        highFreqFactor: n("high_freq_factor"),
        originalMaxPositionEmbeddings: n("original_max_position_embeddings"),
      };
    default:
      throw new UnsupportedModelError(file, `rope_scaling type ${JSON.stringify(type)} is not supported (default, linear, llama3)`);
  }
}

function pickId(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (Array.isArray(v) && typeof v[0] === "number") return v[0];
  return null;
}

function pickIds(v: unknown): number[] {
  if (typeof v === "number") return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === "number");
  return [];
}

const GGUF_ARCHS = ["llama", "qwen2"];

/** From GGUF metadata; `ropeFactors` are llama.cpp's `rope_freqs.weight` (Llama 3.1 scaling baked per dimension). */
export function llamaConfigFromGguf(file: string, h: GgufHeader, vocabSize: number, ropeFactors?: Float32Array): LlamaConfig {
  const arch = h.metadata.get("general.architecture");
  if (typeof arch !== "string" || !GGUF_ARCHS.includes(arch)) {
    throw new UnsupportedModelError(file, `general.architecture ${JSON.stringify(arch)} is not supported (${GGUF_ARCHS.join(", ")})`);
  }
  const get = (key: string, fallback?: number): number => {
    const v = h.metadata.get(`${arch}.${key}`) ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      throw new UnsupportedModelError(file, `metadata ${arch}.${key} must be a positive number, got ${String(v)}`);
    return v;
  };
  const hiddenSize = get("embedding_length");
  const numHeads = get("attention.head_count");
  const headDim = h.metadata.has(`${arch}.attention.key_length`) ? get("attention.key_length") : hiddenSize / numHeads;
  const ropeDim = h.metadata.has(`${arch}.rope.dimension_count`) ? get("rope.dimension_count") : headDim;
  if (ropeDim !== headDim) throw new UnsupportedModelError(file, `partial rotary (rope.dimension_count ${ropeDim} < head size ${headDim}) is not supported`);
  let ropeScaling: RopeScaling = { type: "default" };
  const scalingType = h.metadata.get(`${arch}.rope.scaling.type`);
  if (scalingType === "linear") ropeScaling = { type: "linear", factor: get("rope.scaling.factor") };
  else if (scalingType !== undefined && scalingType !== "none")
    throw new UnsupportedModelError(file, `rope scaling ${JSON.stringify(scalingType)} is not supported (linear)`);
  if (ropeFactors) {
    const factors = ropeFactors;
    ropeScaling = { type: "custom", scale: (f) => ({ invFreq: f.map((x, i) => Math.fround(x / factors[i])) }) };
  }
  const id = (key: string): number | null => {
    const v = h.metadata.get(key);
    return typeof v === "number" ? v : null;
  };
  const eos = id("tokenizer.ggml.eos_token_id");
  const eot = id("tokenizer.ggml.eot_token_id");
  const config: LlamaConfig = {
    modelType: arch,
    hiddenSize,
    intermediateSize: get("feed_forward_length"),
    numLayers: get("block_count"),
    numHeads,
    numKvHeads: h.metadata.has(`${arch}.attention.head_count_kv`) ? get("attention.head_count_kv") : numHeads,
    headDim,
    vocabSize,
    maxPositions: get("context_length", 2048),
    rmsEps: get("attention.layer_norm_rms_epsilon", 1e-5),
    ropeTheta: get("rope.freq_base", 10000),
    ropeScaling,
    // llama.cpp's converter permutes llama q/k rows so that rotate-half pairs sit next to each other
    ropeStyle: arch === "llama" ? "interleaved" : "neox",
    tieWordEmbeddings: false,
    attentionBias: arch === "qwen2",
    bosTokenId: id("tokenizer.ggml.bos_token_id"),
    eosTokenIds: [...new Set([eos, eot].filter((x): x is number => x !== null))],
  };
  return checkLlamaConfig(file, config);
}

export function checkLlamaConfig(file: string, c: LlamaConfig): LlamaConfig {
  if (c.numKvHeads > c.numHeads || c.numHeads % c.numKvHeads) {
    throw new UnsupportedModelError(file, `${c.numHeads} attention heads cannot be grouped over ${c.numKvHeads} kv heads`);
  }
  if (c.headDim % 2) throw new UnsupportedModelError(file, `head size ${c.headDim} must be even for RoPE`);
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === "number" && (!Number.isFinite(v) || v < 0)) throw new UnsupportedModelError(file, `config ${k} = ${v} is out of range`);
  }
  // a 2^31-element tensor cannot live in wasm32 memory
  if (c.vocabSize * c.hiddenSize > 2 ** 31 || c.intermediateSize * c.hiddenSize > 2 ** 31) {
    throw new UnsupportedModelError(file, "the model's matrices are too large for 32-bit WebAssembly memory");
  }
  return c;
}
