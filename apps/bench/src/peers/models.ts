/**
 * The GGUF files the peer benchmarks load, so that our loader and llama.cpp-in-wasm (wllama)
 * run the very same bytes:
 *   tinystories-656k-f32   the real TinyStories-656K (../shared), converted as llama.cpp would
 *   smollm2-135m-{f32,q8_0,q4_0}   random weights at SmolLM2-135M's shapes, StarCoder vocabulary
 *   qwen2.5-0.5b-q4_0      random weights at Qwen2.5-0.5B's shapes, Qwen vocabulary from tiktoken
 * Files live in a cache folder (default os.tmpdir()/edgespec-bench-gguf) and are reused when
 * present and complete: each is written under a temporary name and renamed into place, then a
 * sidecar .json records the recipe it was made from and its size; a file without a matching
 * sidecar is made again. Random weights are generated tensor by tensor (a few MB of rows at a
 * time), so memory stays bounded whatever the model size.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type GgufFileDType,
  type GgufMetadataList,
  type GgufProgress,
  type GgufValue,
  ggufVocabFromMetadata,
  ggufVocabFromTiktoken,
  type LlamaConfig,
  type LlamaGgufTensor,
  llamaGgufPlan,
  ModelFormatError,
  writeLlamaGguf,
} from "@edgespec/models";
import { convertHfFolderToGguf, readGgufHeaderFile, writeFileAtomic } from "@edgespec/models/node";
import { splitmix32 } from "@edgespec/runtime";
import { SHAPES } from "../decode";
import { fixtures } from "../paths";

/** bump when the generation changes: cached files made by an older recipe are made again */
const RECIPE_VERSION = 1;

/** Qwen/Qwen2.5-0.5B config.json */
export const QWEN25_05B: LlamaConfig = {
  modelType: "qwen2",
  hiddenSize: 896,
  intermediateSize: 4864,
  numLayers: 24,
  numHeads: 14,
  numKvHeads: 2,
  headDim: 64,
  vocabSize: 151936,
  maxPositions: 32768,
  rmsEps: 1e-6,
  ropeTheta: 1000000,
  ropeScaling: { type: "default" },
  ropeStyle: "neox",
  tieWordEmbeddings: true,
  attentionBias: true,
  bosTokenId: 151643,
  eosTokenIds: [151643],
};

/** Qwen2.5's added tokens after the 151,643 ranks (tokenizer.json); special: false ones are user-defined text. */
const QWEN25_SPECIALS = [
  "<|endoftext|>",
  "<|im_start|>",
  "<|im_end|>",
  "<|object_ref_start|>",
  "<|object_ref_end|>",
  "<|box_start|>",
  "<|box_end|>",
  "<|quad_start|>",
  "<|quad_end|>",
  "<|vision_start|>",
  "<|vision_end|>",
  "<|vision_pad|>",
  "<|image_pad|>",
  "<|video_pad|>",
  "<tool_call>",
  "</tool_call>",
  "<|fim_prefix|>",
  "<|fim_middle|>",
  "<|fim_suffix|>",
  "<|fim_pad|>",
  "<|repo_name|>",
  "<|file_sep|>",
];
const QWEN25_USER_DEFINED = QWEN25_SPECIALS.slice(14);
const QWEN_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

export type BenchGgufId = "tinystories-656k-f32" | "smollm2-135m-f32" | "smollm2-135m-q8_0" | "smollm2-135m-q4_0" | "qwen2.5-0.5b-q4_0";
export const BENCH_GGUF_IDS: readonly BenchGgufId[] = [
  "tinystories-656k-f32",
  "smollm2-135m-f32",
  "smollm2-135m-q8_0",
  "smollm2-135m-q4_0",
  "qwen2.5-0.5b-q4_0",
];

export interface BenchGgufFile {
  id: BenchGgufId;
  path: string;
  bytes: number;
  dtype: GgufFileDType;
  /** the model as written: shapes, RoPE, and BOS/EOS of the vocabulary in the file */
  config: LlamaConfig;
  /** where the weights and the vocabulary came from */
  weights: string;
  vocab: string;
  /** seconds spent making the file now; 0 when it came from the cache */
  seconds: number;
  cached: boolean;
}

export interface BenchGgufOptions {
  /** default os.tmpdir()/edgespec-bench-gguf */
  cacheDir?: string;
  /** which files (default all) */
  only?: readonly BenchGgufId[];
  /** seed of the random weights (default 1234, decode.ts's) */
  seed?: number;
  /** progress lines (default: none) */
  log?: (line: string) => void;
}

interface Recipe {
  version: number;
  id: BenchGgufId;
  dtype: GgufFileDType;
  seed: number | null;
  config: LlamaConfig;
  weights: string;
  vocab: string;
}

/** Makes (or finds in the cache) the benchmark's GGUF files. */
export async function benchGgufFiles(opts: BenchGgufOptions = {}): Promise<Record<BenchGgufId, BenchGgufFile>> {
  const dir = opts.cacheDir ?? join(tmpdir(), "edgespec-bench-gguf");
  mkdirSync(dir, { recursive: true });
  const seed = opts.seed ?? 1234;
  const log = opts.log ?? (() => {});
  const wanted = new Set(opts.only ?? BENCH_GGUF_IDS);
  const out = {} as Record<BenchGgufId, BenchGgufFile>;
  let starcoder: Promise<VocabInfo> | undefined;
  let qwen: Promise<VocabInfo> | undefined;

  for (const id of BENCH_GGUF_IDS) {
    if (!wanted.has(id)) continue;
    const path = join(dir, `${id}.gguf`);
    if (id === "tinystories-656k-f32") {
      const src = fixtures("peers", "models", "tinystories-656k");
      const config = tinystoriesConfig(src);
      const recipe: Recipe = { version: RECIPE_VERSION, id, dtype: "f32", seed: null, config, weights: src, vocab: `${src}/tokenizer.json` };
      out[id] = await cached(path, recipe, log, async () => {
        const r = await convertHfFolderToGguf(src, path, { dtype: "f32", force: true, onProgress: progress(log, id) });
        return r.bytes;
      });
      continue;
    }
    const [shape, dtype] = id.startsWith("smollm2") ? (["smollm2-135m", id.slice("smollm2-135m-".length)] as const) : (["qwen2.5-0.5b", "q4_0"] as const);
    const vocab = shape === "smollm2-135m" ? await (starcoder ??= starcoderVocab()) : await (qwen ??= qwenVocab());
    const base = shape === "smollm2-135m" ? SHAPES["smollm2-135m"] : QWEN25_05B;
    // the ids the file's vocabulary uses, so the returned config says what a loader will see
    const hfConfig: LlamaConfig = { ...base, bosTokenId: vocab.bos, eosTokenIds: vocab.eos };
    // llama-arch GGUFs hold permuted q/k rows, which loaders run with interleaved RoPE
    const config: LlamaConfig = { ...hfConfig, ropeStyle: base.modelType === "qwen2" ? "neox" : "interleaved" };
    const recipe: Recipe = {
      version: RECIPE_VERSION,
      id,
      dtype: dtype as GgufFileDType,
      seed,
      config,
      weights: `random (splitmix32, seed ${seed})`,
      vocab: vocab.source,
    };
    out[id] = await cached(path, recipe, log, () => writeRandomGguf(path, hfConfig, dtype as GgufFileDType, vocab.metadata, seed, shape, progress(log, id)));
  }
  return out;
}

function tinystoriesConfig(src: string): LlamaConfig {
  const c = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
  return {
    modelType: "llama",
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_key_value_heads,
    headDim: c.hidden_size / c.num_attention_heads,
    vocabSize: c.vocab_size,
    maxPositions: c.max_position_embeddings,
    rmsEps: c.rms_norm_eps,
    ropeTheta: c.rope_theta,
    ropeScaling: { type: "default" },
    // the GGUF holds llama.cpp's permuted q/k: loaders run it with interleaved RoPE
    ropeStyle: "interleaved",
    tieWordEmbeddings: c.tie_word_embeddings,
    attentionBias: false,
    bosTokenId: c.bos_token_id,
    eosTokenIds: [c.eos_token_id],
  };
}

/** A file from the cache when its sidecar matches the recipe and its size; otherwise `make` writes it. */
async function cached(path: string, recipe: Recipe, log: (s: string) => void, make: () => Promise<number>): Promise<BenchGgufFile> {
  const sidecar = `${path}.json`;
  const result = (bytes: number, seconds: number, wasCached: boolean): BenchGgufFile => ({
    id: recipe.id,
    path,
    bytes,
    dtype: recipe.dtype,
    config: recipe.config,
    weights: recipe.weights,
    vocab: recipe.vocab,
    seconds,
    cached: wasCached,
  });
  if (existsSync(path) && existsSync(sidecar)) {
    try {
      const meta = JSON.parse(readFileSync(sidecar, "utf8")) as { recipe: Recipe; bytes: number };
      if (JSON.stringify(meta.recipe) === JSON.stringify(recipe) && statSync(path).size === meta.bytes) {
        log(`${recipe.id}: cached ${path} (${(meta.bytes / 1e6).toFixed(1)} MB)`);
        return result(meta.bytes, 0, true);
      }
    } catch {
      // unreadable sidecar: make the file again
    }
  }
  const t0 = performance.now();
  const bytes = await make();
  const seconds = (performance.now() - t0) / 1000;
  // the sidecar is written last: its presence means the GGUF beside it is complete
  writeFileSync(sidecar, `${JSON.stringify({ recipe, bytes, seconds: Number(seconds.toFixed(2)) }, null, 1)}\n`);
  log(`${recipe.id}: wrote ${path} (${(bytes / 1e6).toFixed(1)} MB) in ${seconds.toFixed(1)} s`);
  return result(bytes, seconds, false);
}

function progress(log: (s: string) => void, id: string): (p: GgufProgress) => void {
  let last = -1;
  return (p) => {
    const tenth = Math.floor((10 * p.bytes) / p.totalBytes);
    if (tenth === last) return;
    last = tenth;
    log(`${id}: ${p.index}/${p.count} tensors, ${(p.bytes / 1e6).toFixed(0)}/${(p.totalBytes / 1e6).toFixed(0)} MB`);
  };
}

interface VocabInfo {
  metadata: GgufMetadataList;
  bos: number | null;
  eos: number[];
  source: string;
}

function idOf(md: GgufMetadataList, key: string): number | null {
  const v = md.find(([k]) => k === key)?.[1];
  return v && v.type === "u32" ? v.value : null;
}

/**
 * The StarCoder vocabulary (49,152 tokens, SmolLM2's size) from llama.cpp's vocab-only GGUF.
 * The copy in ../shared went through a UTF-8 text decoder, which our reader rejects; the
 * models package's test-only salvage recovers its tokenizer keys exactly (it re-encodes them
 * and checks that the damage reproduces the file byte for byte). Only two starcoder2.* floats
 * are lost there, and those keys are not copied. An intact copy is read directly.
 */
async function starcoderVocab(): Promise<VocabInfo> {
  const file = fixtures("peers", "tokenizers", "llama.cpp-vocab", "ggml-vocab-starcoder.gguf");
  let md: ReadonlyMap<string, GgufValue>;
  try {
    md = (await readGgufHeaderFile(file)).metadata;
  } catch (e) {
    if (!(e instanceof ModelFormatError && /EF BF BD/.test(e.message))) throw e;
    const { salvageGguf } = await import("../../../../packages/models/test/salvage-gguf");
    md = salvageGguf(await readFile(file), file).metadata;
  }
  const metadata = ggufVocabFromMetadata(md);
  const eos = idOf(metadata, "tokenizer.ggml.eos_token_id");
  return { metadata, bos: idOf(metadata, "tokenizer.ggml.bos_token_id"), eos: eos === null ? [] : [eos], source: file };
}

/**
 * The Qwen2.5 vocabulary: 151,643 tiktoken ranks with the merges derived from them, its 22
 * added tokens, padded with unused [PADn] tokens to the model's 151,936 rows (what llama.cpp's
 * converter writes for Qwen2.5). ../shared has no intact Qwen GGUF to copy from.
 */
async function qwenVocab(): Promise<VocabInfo> {
  const file = fixtures("peers", "tokenizers", "qwen", "qwen.tiktoken");
  const specialTokens = Object.fromEntries(QWEN25_SPECIALS.map((t, i) => [t, 151643 + i]));
  const metadata = ggufVocabFromTiktoken(await readFile(file), {
    pre: "qwen2",
    specialTokens,
    userDefined: QWEN25_USER_DEFINED,
    size: QWEN25_05B.vocabSize,
    bosId: 151643,
    eosId: 151643,
    padId: 151643,
    addBos: false,
    chatTemplate: QWEN_CHAT_TEMPLATE,
    file,
  });
  return { metadata, bos: 151643, eos: [151643], source: file };
}

/** values per generated chunk: 4 MB of f32, whole rows */
const CHUNK_VALUES = 1 << 20;

/**
 * Random weights like decode.ts's randomWeights: matrices uniform in ±1/sqrt(fan-in), norm
 * weights 1 ± 0.1; biases (Qwen2) ± 0.1. Each tensor has its own stream, seeded from the seed
 * and the tensor's name, so the values do not depend on the order tensors are written in.
 */
async function writeRandomGguf(
  path: string,
  config: LlamaConfig,
  dtype: GgufFileDType,
  vocab: GgufMetadataList,
  seed: number,
  name: string,
  onProgress: (p: GgufProgress) => void,
): Promise<number> {
  const plan = llamaGgufPlan(config, { dtype, vocab, name: `${name} random weights (seed ${seed})` });
  const values = function* (t: LlamaGgufTensor): Generator<Float32Array> {
    const rand = splitmix32((seed ^ fnv1a(t.hfName)) >>> 0);
    const total = t.shape.reduce((a, b) => a * b, 1);
    const cols = t.shape[t.shape.length - 1];
    const isMatrix = t.shape.length === 2;
    const scale = isMatrix ? 1 / Math.sqrt(cols) : 0.1;
    const offset = isMatrix || t.hfName.endsWith(".bias") ? 0 : 1;
    const rows = isMatrix ? Math.max(1, Math.floor(CHUNK_VALUES / cols)) * cols : total;
    for (let at = 0; at < total; at += rows) {
      const chunk = new Float32Array(Math.min(rows, total - at));
      for (let i = 0; i < chunk.length; i++) chunk[i] = offset + (2 * rand() - 1) * scale;
      yield chunk;
    }
  };
  const { bytes } = await writeFileAtomic(path, (sink) => writeLlamaGguf(sink, plan, values, { label: path, onProgress }), { force: true });
  return bytes;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
