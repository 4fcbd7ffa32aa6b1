/**
 * A Llama-family checkpoint held whole in memory as f32 tensors under Hugging Face names,
 * with its tokenizer and the tokenizer files that travel with it. Transplantation rewrites
 * two matrices and keeps everything else, so it reads every tensor (the models package's
 * loader streams them to a backend instead).
 */

import {
  ggufToHfName,
  HfTokenizer,
  type LlamaConfig,
  LlamaModel,
  llamaConfigFromGguf,
  llamaConfigFromHf,
  MapTensorStore,
  ModelFormatError,
  type ModelSource,
  readGguf,
  readLlama2c,
  readSafetensors,
  SpmTokenizer,
  type StoredTensor,
  storedToF32,
  type Tokenizer,
  tokenizerFromGguf,
  UnsupportedModelError,
  weightsFromStore,
} from "@edgespec/models";
import { type Backend, createBackend } from "@edgespec/runtime";

export type Json = Record<string, unknown>;

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint {
  /** where it came from, for messages */
  label: string;
  format: "safetensors" | "gguf" | "llama2c";
  config: LlamaConfig;
  /** the original config.json of a Hugging Face checkpoint (kept so a rewrite loses no field) */
  hfConfig?: Json;
  /** every tensor, f32, Hugging Face names and PyTorch shapes */
  tensors: Map<string, F32Tensor>;
  tokenizer: Tokenizer;
  /** the tokenizer's own files, to be written beside the weights; empty when it has none (GGUF) */
  tokenizerFiles: Map<string, Uint8Array>;
}

export interface ReadCheckpointOptions {
  /** llama2.c checkpoints: the tokenizer.bin, when the folder does not hold it */
  tokenizer?: { source: ModelSource; file: string };
  /** dequantizes Q8_0 / Q4_0 GGUF tensors; a wasm backend by default */
  backend?: Backend;
  signal?: AbortSignal;
}

const HF_TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

/** Read a checkpoint (HF folder, .gguf, or llama2.c .bin + tokenizer) from a model source. */
export async function readCheckpoint(source: ModelSource, opts: ReadCheckpointOptions = {}): Promise<Checkpoint> {
  return withCanonicalTies(await readAny(source, opts));
}

/**
 * One spelling of tied embeddings: a tied checkpoint holds model.embed_tokens.weight only.
 * Some exporters keep only lm_head.weight for a tied model; a head-less one is tied.
 */
function withCanonicalTies(ckpt: Checkpoint): Checkpoint {
  const t = ckpt.tensors;
  const embed = "model.embed_tokens.weight";
  const head = "lm_head.weight";
  if (!t.has(embed) && t.has(head)) {
    t.set(embed, t.get(head) as F32Tensor);
    t.delete(head);
    ckpt.config = { ...ckpt.config, tieWordEmbeddings: true };
  }
  if (!t.has(head)) ckpt.config = { ...ckpt.config, tieWordEmbeddings: true };
  if (ckpt.config.tieWordEmbeddings) t.delete(head);
  return ckpt;
}

async function readAny(source: ModelSource, opts: ReadCheckpointOptions): Promise<Checkpoint> {
  const label = source.location;
  const read = (file: string) => source.open(file, { signal: opts.signal });
  if (!source.entry && (await source.has("config.json"))) return readHf(source, read);
  const entry = source.entry ?? (await soleModelFile(source));
  if (entry.endsWith(".gguf")) return readGgufCheckpoint(label, entry, await read(entry), opts);
  if (entry.endsWith(".bin")) {
    const tok = opts.tokenizer ?? (await llama2cTokenizerBeside(source, entry));
    const { config, store } = readLlama2c(`${label}/${entry}`, await read(entry));
    const tokBytes = await tok.source.open(tok.file, { signal: opts.signal });
    const tokenizer = SpmTokenizer.fromLlama2c(tokBytes, config.vocabSize, tok.file);
    const tensors = await f32Tensors(store, undefined, (n) => n !== "freq_cis");
    return { label, format: "llama2c", config, tensors, tokenizer, tokenizerFiles: new Map([["tokenizer.bin", tokBytes]]) };
  }
  throw new UnsupportedModelError(label, `${entry} is not a checkpoint this tool reads (a Hugging Face folder, a .gguf file, or a llama2.c .bin)`);
}

async function readHf(source: ModelSource, read: (f: string) => Promise<Uint8Array>): Promise<Checkpoint> {
  const label = source.location;
  const json = async (file: string): Promise<Json> => {
    try {
      return JSON.parse(new TextDecoder().decode(await read(file))) as Json;
    } catch (e) {
      throw new ModelFormatError(`${label}/${file}`, `is not valid JSON (${(e as Error).message})`);
    }
  };
  const hfConfig = await json("config.json");
  const generation = (await source.has("generation_config.json")) ? await json("generation_config.json") : undefined;
  const config = llamaConfigFromHf(`${label}/config.json`, hfConfig, generation);
  const tokenizerFiles = new Map<string, Uint8Array>();
  for (const f of HF_TOKENIZER_FILES) if (await source.has(f)) tokenizerFiles.set(f, await read(f));
  let tokenizer: Tokenizer;
  if (tokenizerFiles.has("tokenizer.json")) {
    const tokCfg = tokenizerFiles.has("tokenizer_config.json") ? await json("tokenizer_config.json") : {};
    tokenizer = new HfTokenizer(await json("tokenizer.json"), tokCfg, generation);
  } else if (await source.has("tokenizer.bin")) {
    const bytes = await read("tokenizer.bin");
    tokenizerFiles.set("tokenizer.bin", bytes);
    tokenizer = SpmTokenizer.fromLlama2c(bytes, config.vocabSize, `${label}/tokenizer.bin`);
  } else {
    throw new ModelFormatError(label, "has no tokenizer.json (nor a llama2.c tokenizer.bin)");
  }
  const shards = (await source.has("model.safetensors"))
    ? ["model.safetensors"]
    : [...new Set(Object.values(((await json("model.safetensors.index.json")).weight_map ?? {}) as Record<string, string>))];
  const tensors = new Map<string, F32Tensor>();
  for (const shard of shards) {
    if (!/^[\w.-]+\.safetensors$/.test(shard))
      throw new ModelFormatError(`${label}/model.safetensors.index.json`, `names a shard that is not a plain file: ${shard}`);
    const { store } = readSafetensors(`${label}/${shard}`, await read(shard));
    for (const [n, t] of await f32Tensors(store)) tensors.set(n, t);
  }
  return { label, format: "safetensors", config, hfConfig, tensors, tokenizer, tokenizerFiles };
}

async function readGgufCheckpoint(label: string, entry: string, bytes: Uint8Array, opts: ReadCheckpointOptions): Promise<Checkpoint> {
  const file = `${label}/${entry}`;
  const { header, store } = readGguf(file, bytes);
  const tokenizer = tokenizerFromGguf(header.metadata, file);
  const renamed = new Map<string, StoredTensor>();
  for (const n of store.names()) {
    const hf = n === "rope_freqs.weight" ? n : ggufToHfName(n);
    if (hf) renamed.set(hf, { ...store.get(n), name: hf });
  }
  const tensors = await f32Tensors(new MapTensorStore(file, renamed), opts.backend);
  const ropeFactors = tensors.get("rope_freqs.weight")?.data;
  tensors.delete("rope_freqs.weight");
  const embd = header.tensors.find((t) => t.name === "token_embd.weight");
  if (!embd) throw new ModelFormatError(file, "is missing", "token_embd.weight");
  const config = llamaConfigFromGguf(file, header, embd.shape[0], ropeFactors);
  return { label: file, format: "gguf", config, tensors, tokenizer, tokenizerFiles: new Map() };
}

async function f32Tensors(store: MapTensorStore, backend?: Backend, keep: (name: string) => boolean = () => true): Promise<Map<string, F32Tensor>> {
  const out = new Map<string, F32Tensor>();
  for (const name of store.names()) {
    if (!keep(name)) continue;
    const t = store.get(name);
    // only block formats need the kernels to dequantize
    if (t.dtype === "Q8_0" || t.dtype === "Q4_0") backend ??= await createBackend("wasm");
    const values = storedToF32(backend as Backend, t);
    // own copies: the file's buffer is released and the tensors outlive it
    out.set(name, { shape: [...t.shape], data: new Float32Array(values) });
  }
  return out;
}

/** The one model file of a folder: a single .gguf, or a llama2.c .bin next to its tokenizer. */
async function soleModelFile(source: ModelSource): Promise<string> {
  const files = (await source.list()) ?? [];
  const ggufs = files.filter((f) => f.endsWith(".gguf"));
  if (ggufs.length === 1) return ggufs[0];
  const bins = files.filter((f) => f.endsWith(".bin") && !isTokenizerBin(f));
  if (ggufs.length === 0 && bins.length === 1) return bins[0];
  throw new UnsupportedModelError(
    source.location,
    `has no config.json and no single .gguf or llama2.c .bin (found ${files.length ? files.join(", ") : "nothing"}); name the file`,
  );
}

function isTokenizerBin(file: string): boolean {
  return /(^|\/)(tok[^/]*|tokenizer[^/]*)\.bin$/.test(file);
}

async function llama2cTokenizerBeside(source: ModelSource, entry: string): Promise<{ source: ModelSource; file: string }> {
  const files = (await source.list()) ?? [];
  const dir = entry.includes("/") ? entry.slice(0, entry.lastIndexOf("/") + 1) : "";
  const toks = files.filter((f) => f.startsWith(dir) && isTokenizerBin(f));
  if (toks.length === 1) return { source, file: toks[0] };
  throw new UnsupportedModelError(
    `${source.location}/${entry}`,
    toks.length
      ? `is a llama2.c checkpoint beside several tokenizers (${toks.join(", ")}); name one`
      : "is a llama2.c checkpoint and its folder holds no tokenizer.bin / tok*.bin; name one",
  );
}

/** A runnable LlamaModel over a checkpoint's tensors (no copy into files). */
export function checkpointModel(ckpt: Checkpoint, backend: Backend, opts: { contextLength?: number } = {}): LlamaModel {
  const stored = new Map<string, StoredTensor>();
  for (const [name, t] of ckpt.tensors) {
    stored.set(name, { name, dtype: "F32", shape: t.shape, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
  }
  return new LlamaModel(backend, ckpt.config, weightsFromStore(backend, new MapTensorStore(ckpt.label, stored)), opts);
}
