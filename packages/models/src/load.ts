/**
 * From a model source (folder, URL, hub repo, single file) to a ready LlamaModel and its
 * tokenizer. Which format it is comes from the file names:
 *   X.gguf                     -> GGUF (weights, hparams and tokenizer in one file)
 *   X.bin + a tokenizer file   -> llama2.c
 *   folder with config.json    -> Hugging Face (safetensors, single or sharded)
 * Safetensors and GGUF weights stream in and are uploaded tensor by tensor, so the file is
 * never held whole in memory (a Worker has 128 MB). The backend is made (or, for "auto",
 * chosen: backend-choice.ts) once the config gives the model's shapes, before any upload.
 */
/// <reference types="@webgpu/types" />
import { type Backend, BackendUnavailableError, createBackend, OutOfRangeError } from "@edgespec/runtime";
import { type BackendChoice, type BackendRequest, chooseBackend, stepShape } from "./backend-choice";
import { ModelFormatError, UnsupportedModelError } from "./errors";
import { type GgufHeader, streamGguf } from "./formats/gguf";
import { readLlama2c } from "./formats/llama2c";
import { streamSafetensors } from "./formats/safetensors";
import { copyBytes, type StoredTensor } from "./formats/stored";
import { type LlamaConfig, llamaConfigFromGguf, llamaConfigFromHf } from "./llama/config";
import { LlamaModel } from "./llama/llama";
import type { ModelSource, ProgressCallback } from "./sources/types";
import { HfTokenizer, SpmTokenizer, tokenizerFromGguf } from "./tokenizers/index";
import type { Tokenizer } from "./tokenizers/types";
import { nativeDType, StreamedWeights, type WeightDType, weightsFromStore } from "./weights";

export interface LoadOptions {
  /**
   * A backend, or which to make: "wasm" (the default), "webgpu" (BackendUnavailableError
   * where it cannot run), "auto" (WebGPU when present and faster on this model's decode
   * step, else wasm; see `backendChoice` on the result). Encoders (BERT) run on wasm only.
   */
  backend?: BackendRequest;
  /** the WebGPU entry point for "webgpu" / "auto"; default navigator.gpu (in Node: `create([])` of the `webgpu` package) */
  gpu?: GPU;
  /** threads of the wasm backend made when `backend` is not a Backend (default 1; see WasmBackendOptions.threads) */
  threads?: number | "auto";
  /** matmul weight dtype: quantize (or dequantize) on load; default as stored */
  dtype?: WeightDType;
  contextLength?: number;
  /** KV cache storage, "f32" (default) or "f16" (half the memory; see LlamaOptions.kvCache) */
  kvCache?: "f32" | "f16";
  /** llama2.c models: the tokenizer.bin (a source and the file in it) */
  tokenizer?: { source: ModelSource; file: string };
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface LoadedLlama {
  model: LlamaModel;
  config: LlamaConfig;
  format: "gguf" | "safetensors" | "llama2c";
  /** files read, for messages */
  files: string[];
  /** which backend runs the model, and why */
  backendChoice: BackendChoice;
}

export interface LoadedModel extends LoadedLlama {
  tokenizer: Tokenizer;
}

/** A Llama-family model and its tokenizer. */
export async function loadCausalLM(source: ModelSource, opts: LoadOptions = {}): Promise<LoadedModel> {
  return (await load(source, opts, true)) as LoadedModel;
}

/** The model alone (checkpoints without a tokenizer, e.g. generated test fixtures). */
export async function loadLlama(source: ModelSource, opts: LoadOptions = {}): Promise<LoadedLlama> {
  return load(source, opts, false);
}

async function load(source: ModelSource, opts: LoadOptions, withTokenizer: boolean): Promise<LoadedLlama & { tokenizer?: Tokenizer }> {
  const entry = source.entry ?? (await pickEntry(source));
  if (entry.endsWith(".gguf")) return loadGguf(source, entry, opts, withTokenizer);
  if (entry.endsWith(".bin")) return loadLlama2c(source, entry, opts, withTokenizer);
  return loadHf(source, opts, withTokenizer);
}

/** The backend for a model of this config whose matmul weights are `dtype` on the device. */
function backendFor(config: LlamaConfig, dtype: WeightDType, opts: LoadOptions): Promise<{ backend: Backend; choice: BackendChoice }> {
  return chooseBackend(opts.backend, stepShape(config, dtype), { gpu: opts.gpu, threads: opts.threads });
}

/**
 * An encoder's backend: BERT reads its outputs synchronously, so it runs on wasm ("auto"
 * means wasm here) and refuses "webgpu" by name.
 */
export async function encoderBackend(opts: Pick<LoadOptions, "backend" | "threads">): Promise<Backend> {
  const b = opts.backend;
  if (b === "webgpu")
    throw new BackendUnavailableError("encoders (BERT) run on the wasm backend only: they read their outputs synchronously, which WebGPU cannot");
  if (b === undefined || b === "auto" || b === "wasm") return createBackend("wasm", { threads: opts.threads });
  if (typeof b !== "object") throw new OutOfRangeError(`backend must be a Backend, "auto", "wasm" or "webgpu", got ${JSON.stringify(b)}`);
  return b;
}

/** A folder or repo: config.json means Hugging Face; otherwise its single .gguf file. */
async function pickEntry(source: ModelSource): Promise<string> {
  if (await source.has("config.json")) return "config.json";
  const files = (await source.list()) ?? [];
  const ggufs = files.filter((f) => f.endsWith(".gguf"));
  if (ggufs.length === 1) return ggufs[0];
  if (ggufs.length > 1) throw new UnsupportedModelError(source.location, `holds several GGUF files (${ggufs.join(", ")}); name the one to load`);
  throw new UnsupportedModelError(source.location, "has no config.json and no .gguf file: not a model folder this loader understands");
}

/** How errors name a file of a source: its full path or URL. */
export function fileLabel(source: ModelSource, file: string): string {
  return source.location.endsWith("/") ? `${source.location}${file}` : `${source.location}/${file}`;
}

export async function readJson(source: ModelSource, file: string, opts: LoadOptions): Promise<Record<string, unknown>> {
  const bytes = await source.open(file, { signal: opts.signal, onProgress: opts.onProgress });
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v;
  } catch (e) {
    throw new ModelFormatError(fileLabel(source, file), `is not valid JSON (${(e as Error).message})`);
  }
}

async function loadHf(source: ModelSource, opts: LoadOptions, withTokenizer: boolean): Promise<LoadedLlama & { tokenizer?: Tokenizer }> {
  const cfg = await readJson(source, "config.json", opts);
  const generation = (await source.has("generation_config.json")) ? await readJson(source, "generation_config.json", opts) : undefined;
  const config = llamaConfigFromHf(fileLabel(source, "config.json"), cfg, generation);
  const shards = await safetensorsShards(source, opts);
  // the stored dtype comes with the tensors; config.json's torch_dtype says it beforehand (BF16 runs as f32)
  const { backend, choice } = await backendFor(config, opts.dtype ?? (cfg.torch_dtype === "float16" ? "f16" : "f32"), opts);
  const weights = new StreamedWeights(backend, source.location, opts.dtype);
  try {
    await streamShards(source, shards, weights, opts);
    let tokenizer: Tokenizer | undefined;
    if (withTokenizer) {
      if (await source.has("tokenizer.json")) {
        const tokJson = await readJson(source, "tokenizer.json", opts);
        const tokCfg = (await source.has("tokenizer_config.json")) ? await readJson(source, "tokenizer_config.json", opts) : {};
        tokenizer = new HfTokenizer(tokJson, tokCfg, generation);
      } else if (await source.has("tokenizer.bin")) {
        // a llama2.c vocabulary beside HF weights: what a transplant onto a llama2.c tokenizer writes
        const bytes = await source.open("tokenizer.bin", { signal: opts.signal });
        tokenizer = SpmTokenizer.fromLlama2c(bytes, config.vocabSize, fileLabel(source, "tokenizer.bin"));
      } else throw new ModelFormatError(source.location, "has no tokenizer.json (nor a llama2.c tokenizer.bin)");
    }
    const model = new LlamaModel(backend, config, weights, opts);
    weights.dispose();
    return { model, tokenizer, config, format: "safetensors", files: ["config.json", ...shards], backendChoice: choice };
  } catch (e) {
    weights.dispose(true);
    throw e;
  }
}

/** The safetensors files of a Hugging Face folder: model.safetensors, or the shards its index names. */
export async function safetensorsShards(source: ModelSource, opts: LoadOptions): Promise<string[]> {
  if (await source.has("model.safetensors")) return ["model.safetensors"];
  if (!(await source.has("model.safetensors.index.json")))
    throw new ModelFormatError(source.location, "has neither model.safetensors nor model.safetensors.index.json");
  const indexFile = fileLabel(source, "model.safetensors.index.json");
  const index = await readJson(source, "model.safetensors.index.json", opts);
  const map = index.weight_map as Record<string, string> | undefined;
  if (!map || typeof map !== "object") throw new ModelFormatError(indexFile, "has no weight_map");
  const shards = [...new Set(Object.values(map))];
  // a shard name is a file next to the index, never a path that climbs out of the folder
  if (!shards.every((s) => typeof s === "string" && /^[\w.-]+\.safetensors$/.test(s))) {
    throw new ModelFormatError(indexFile, "weight_map names a shard that is not a plain .safetensors file name");
  }
  return shards;
}

/** Streams every shard into `weights`, tensor by tensor. */
export async function streamShards(source: ModelSource, shards: string[], weights: StreamedWeights, opts: LoadOptions): Promise<void> {
  for (const shard of shards) {
    const { stream, size } = await source.stream(shard, { signal: opts.signal, onProgress: opts.onProgress });
    await weights.consume(streamSafetensors(fileLabel(source, shard), stream, size), shard);
  }
}

/** GGUF tensor names -> Hugging Face names (what LlamaModel reads). */
export function ggufToHfName(name: string): string | undefined {
  const fixed: Record<string, string> = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
  };
  if (name in fixed) return fixed[name];
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const parts: Record<string, string> = {
    attn_norm: "input_layernorm",
    attn_q: "self_attn.q_proj",
    attn_k: "self_attn.k_proj",
    attn_v: "self_attn.v_proj",
    attn_output: "self_attn.o_proj",
    ffn_norm: "post_attention_layernorm",
    ffn_gate: "mlp.gate_proj",
    ffn_up: "mlp.up_proj",
    ffn_down: "mlp.down_proj",
  };
  const hf = parts[m[2]];
  return hf ? `model.layers.${m[1]}.${hf}.${m[3]}` : undefined;
}

async function loadGguf(source: ModelSource, file: string, opts: LoadOptions, withTokenizer: boolean): Promise<LoadedLlama & { tokenizer?: Tokenizer }> {
  const label = fileLabel(source, file);
  const { stream, size } = await source.stream(file, { signal: opts.signal, onProgress: opts.onProgress });
  const { header, tensors } = await streamGguf(label, stream, size);
  // the header has the shapes (rope factors, which come with the tensors, do not change them)
  const stored = header.tensors.find((t) => t.name === "blk.0.ffn_gate.weight")?.dtype;
  const { backend, choice } = await backendFor(
    llamaConfigFromGguf(label, header, vocabSizeOf(label, header)),
    opts.dtype ?? (stored ? nativeDType(stored) : "f32"),
    opts,
  );
  const weights = new StreamedWeights(backend, label, opts.dtype);
  let ropeFactors: Float32Array | undefined;
  try {
    const tokenizer = withTokenizer ? tokenizerFromGguf(header.metadata, label) : undefined;
    const renamed = (async function* (): AsyncGenerator<StoredTensor> {
      for await (const t of tensors) {
        if (t.name === "rope_freqs.weight") {
          ropeFactors = new Float32Array(copyBytes(t.data));
          continue;
        }
        const hf = ggufToHfName(t.name);
        if (hf) yield { ...t, name: hf };
      }
    })();
    await weights.consume(renamed, label);
    const config = llamaConfigFromGguf(label, header, vocabSizeOf(label, header), ropeFactors);
    const model = new LlamaModel(backend, config, weights, opts);
    weights.dispose();
    return { model, tokenizer, config, format: "gguf", files: [file], backendChoice: choice };
  } catch (e) {
    weights.dispose(true);
    throw e;
  }
}

function vocabSizeOf(file: string, h: GgufHeader): number {
  const embd = h.tensors.find((t) => t.name === "token_embd.weight");
  if (!embd) throw new ModelFormatError(file, "is missing", "token_embd.weight");
  return embd.shape[0];
}

async function loadLlama2c(source: ModelSource, file: string, opts: LoadOptions, withTokenizer: boolean): Promise<LoadedLlama & { tokenizer?: Tokenizer }> {
  if (withTokenizer && !opts.tokenizer) throw new UnsupportedModelError(file, "is a llama2.c checkpoint; it needs its tokenizer.bin (--tokenizer FILE)");
  const bytes = await source.open(file, { signal: opts.signal, onProgress: opts.onProgress });
  const { config, store } = readLlama2c(fileLabel(source, file), bytes);
  let tokenizer: Tokenizer | undefined;
  if (withTokenizer && opts.tokenizer) {
    const tokBytes = await opts.tokenizer.source.open(opts.tokenizer.file, { signal: opts.signal });
    tokenizer = SpmTokenizer.fromLlama2c(tokBytes, config.vocabSize, opts.tokenizer.file);
  }
  // llama2.c checkpoints are f32
  const { backend, choice } = await backendFor(config, opts.dtype ?? "f32", opts);
  const model = new LlamaModel(backend, config, weightsFromStore(backend, store, opts.dtype), opts);
  return { model, tokenizer, config, format: "llama2c", files: opts.tokenizer ? [file, opts.tokenizer.file] : [file], backendChoice: choice };
}
