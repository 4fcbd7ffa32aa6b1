/**
 * Loading retrieval encoders from Hugging Face folders, URLs or hub repos, with the layout
 * checked from config.json and the safetensors header(s) before any weight is read.
 *
 * Layouts recognised:
 *   "bert-mlm"        BertForMaskedLM: bert.* (or unprefixed) encoder + cls.predictions.* head
 *   "distilbert-mlm"  DistilBertForMaskedLM: distilbert.* + vocab_transform / vocab_layer_norm /
 *                     vocab_projector
 * Anything else is refused with the missing tensors named (a BertModel or sentence-transformers
 * save has no MLM head, so it can serve neither SPLADE nor DupMAE's bag of words). Decoder-only
 * models for echo sparse retrieval go through the models package's loadCausalLM (Llama, Mistral,
 * Qwen2 configs).
 *
 * Checkpoints this is written for (none could be downloaded here; the layouts are the ones their
 * model cards and configs describe, exercised on random-weight twins in the tests):
 *   naver/splade-v3, naver/splade-cocondenser-ensembledistil, naver/splade_v2_distil
 *       bert-mlm, SPLADE max pooling, queries through the model        -> loadSpladeEncoder
 *   prithivida/Splade_PP_en_v1                                             bert-mlm, as above
 *   opensearch-project/opensearch-neural-sparse-encoding-v1 (bert-mlm),
 *   opensearch-project/opensearch-neural-sparse-encoding-v2-distill (distilbert-mlm)
 *       bi-encoders: both sides through the model; their cards zero the special tokens
 *       ([CLS] [SEP] [PAD] [UNK] [MASK]): pass zeroSpecialTokens: true
 *   opensearch-project/opensearch-neural-sparse-encoding-doc-v1 (bert-mlm),
 *   ...-doc-v2-distill (distilbert-mlm), ...-doc-v2-mini (bert-mlm)
 *       doc-only: idf.json is present, so queries are their own tokens weighted by idf.json
 *       (queryMode "idf") and documents have their special tokens zeroed
 *   ...-doc-v3-gte: refused (a GTE model, model_type "new", not BERT)
 *   BERT-based DupMAE / RetroMAE v2 encoders saved as BertForMaskedLM (the pre-training code's
 *       save_pretrained of the MLM model)                              -> loadDupMaeEncoder;
 *       an optional projection is read from a sentence-transformers Dense module (modules.json ->
 *       <path>/config.json + <path>/model.safetensors: linear.weight, linear.bias, identity
 *       activation). RetroMAE's own pooler.pt (a torch pickle) cannot be read: convert it.
 *       Fine-tuned RetroMAE bi-encoders saved as BertModel have no MLM head and are refused.
 */
import {
  type BertConfig,
  bertConfigFromHf,
  encoderBackend,
  type LoadOptions,
  loadCausalLM,
  loadEncoder,
  ModelFormatError,
  type ModelSource,
  readSafetensors,
  storedToF32,
  UnsupportedModelError,
} from "@edgespec/models";
import type { Backend } from "@edgespec/runtime";
import { type DenseProjection, DupMaeEncoder, type DupMaeOptions } from "./dupmae";
import { type EchoOptions, EchoSparseEncoder } from "./echo";
import { SpladeEncoder, type SpladeOptions } from "./splade";

export type EncoderLayout = "bert-mlm" | "distilbert-mlm";

export interface EncoderCheckpoint {
  layout: EncoderLayout;
  config: BertConfig;
  /** "bert.", "distilbert." or "" */
  prefix: string;
  /** idf.json is present: a doc-only (inference-free query) model */
  idf: boolean;
  /** the sentence-transformers Dense module's folder, when there is one */
  projection: string | null;
  /** which encoders this checkpoint can serve */
  supports: ("splade" | "dupmae")[];
}

type Json = Record<string, unknown>;

function label(source: ModelSource, file: string): string {
  return source.location.endsWith("/") ? `${source.location}${file}` : `${source.location}/${file}`;
}

async function readJson(source: ModelSource, file: string, opts: LoadOptions): Promise<Json> {
  const bytes = await source.open(file, { signal: opts.signal });
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as Json;
  } catch (e) {
    throw new ModelFormatError(label(source, file), `is not valid JSON (${(e as Error).message})`);
  }
}

/** The names in one safetensors header, read from the start of the file only. */
async function headerNames(source: ModelSource, file: string, opts: LoadOptions): Promise<string[]> {
  const { stream } = await source.stream(file, { signal: opts.signal });
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let have = 0;
  let need = 8;
  try {
    while (have < need) {
      const { done, value } = await reader.read();
      if (done) throw new ModelFormatError(label(source, file), `ends after ${have} bytes, inside its header`);
      chunks.push(value);
      have += value.length;
      if (need === 8 && have >= 8) {
        const head = concat(chunks, have);
        const len = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
        if (len > 100_000_000) throw new ModelFormatError(label(source, file), `declares a ${len}-byte header: not a safetensors file`);
        need = 8 + len;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = concat(chunks, have);
  let json: Json;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, need))) as Json;
  } catch (e) {
    throw new ModelFormatError(label(source, file), `has a header that is not JSON (${(e as Error).message})`);
  }
  return Object.keys(json).filter((k) => k !== "__metadata__");
}

function concat(chunks: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

async function tensorNames(source: ModelSource, opts: LoadOptions): Promise<Set<string>> {
  if (await source.has("model.safetensors")) return new Set(await headerNames(source, "model.safetensors", opts));
  if (await source.has("model.safetensors.index.json")) {
    const map = (await readJson(source, "model.safetensors.index.json", opts)).weight_map;
    if (map && typeof map === "object") return new Set(Object.keys(map));
    throw new ModelFormatError(label(source, "model.safetensors.index.json"), "has no weight_map");
  }
  const torch = (await source.has("pytorch_model.bin")) ? " (only pytorch_model.bin, a torch pickle: convert it to safetensors)" : "";
  throw new ModelFormatError(source.location, `has neither model.safetensors nor model.safetensors.index.json${torch}`);
}

/** Which of `alternatives` (each a list of acceptable names) are absent: the first name of each. */
function missing(names: Set<string>, alternatives: string[][]): string[] {
  return alternatives.filter((alt) => !alt.some((n) => names.has(n))).map((alt) => alt[0]);
}

const BERT_HEAD = [
  ["cls.predictions.transform.dense.weight"],
  ["cls.predictions.transform.dense.bias"],
  ["cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.gamma"],
  ["cls.predictions.transform.LayerNorm.bias", "cls.predictions.transform.LayerNorm.beta"],
  ["cls.predictions.bias", "cls.predictions.decoder.bias"],
];
const DISTIL_HEAD = [["vocab_transform.weight"], ["vocab_transform.bias"], ["vocab_layer_norm.weight"], ["vocab_layer_norm.bias"], ["vocab_projector.bias"]];

/** The layout of a BERT-family checkpoint and what it can serve; throws naming what is missing. */
export async function inspectEncoderCheckpoint(source: ModelSource, opts: LoadOptions = {}): Promise<EncoderCheckpoint> {
  if (!(await source.has("config.json"))) throw new ModelFormatError(source.location, "has no config.json");
  const config = bertConfigFromHf(label(source, "config.json"), await readJson(source, "config.json", opts));
  const names = await tensorNames(source, opts);
  const distil = config.modelType === "distilbert";
  const nested = distil ? "distilbert." : "bert.";
  const probe = "embeddings.word_embeddings.weight";
  const prefix = names.has(nested + probe) ? nested : names.has(probe) ? "" : null;
  if (prefix === null) throw new ModelFormatError(source.location, `has no word embeddings (looked for "${nested}${probe}" and "${probe}")`);
  const absent = missing(names, distil ? DISTIL_HEAD : BERT_HEAD);
  if (absent.length > 0) {
    throw new UnsupportedModelError(
      source.location,
      `has no masked-LM head (missing ${absent.join(", ")}): SPLADE and DupMAE need a ${distil ? "DistilBertForMaskedLM" : "BertForMaskedLM"} save; ` +
        `a ${distil ? "DistilBertModel" : "BertModel / sentence-transformers"} save (${config.architecture ?? "no architectures"}) is an encoder without the head`,
    );
  }
  return {
    layout: distil ? "distilbert-mlm" : "bert-mlm",
    config,
    prefix,
    idf: await source.has("idf.json"),
    projection: await denseModulePath(source, opts),
    supports: distil ? ["splade"] : ["splade", "dupmae"],
  };
}

export interface LoadSpladeOptions extends LoadOptions, SpladeOptions {
  /**
   * zero the weights of the tokenizer's special tokens in every vector, as OpenSearch's models
   * do; default: true when the checkpoint has idf.json, else false
   */
  zeroSpecialTokens?: boolean;
}

/**
 * A SpladeEncoder for a bert-mlm or distilbert-mlm checkpoint. With idf.json (OpenSearch doc-only
 * models) queryMode defaults to "idf" and the idf table is loaded.
 */
export async function loadSpladeEncoder(source: ModelSource, opts: LoadSpladeOptions = {}): Promise<SpladeEncoder> {
  const info = await inspectEncoderCheckpoint(source, opts);
  const tokJson = await readJson(source, "tokenizer.json", opts);
  const vocab = tokenizerVocab(tokJson);
  let idf: Map<number, number> | undefined = opts.idf ? new Map(opts.idf) : undefined;
  if (!idf && info.idf) idf = idfTable(label(source, "idf.json"), await readJson(source, "idf.json", opts), vocab);
  const zero = opts.zeroSpecialTokens ?? info.idf;
  const enc = await loadEncoder(source, opts);
  try {
    return new SpladeEncoder(enc.model, enc.tokenizer, {
      ...opts,
      idf,
      queryMode: opts.queryMode ?? (idf ? "idf" : "model"),
      zeroIds: opts.zeroIds ?? (zero ? specialIds(tokJson) : undefined),
    });
  } catch (e) {
    enc.model.free();
    throw e;
  }
}

/** A DupMaeEncoder for a bert-mlm checkpoint, with its Dense projection when it has one. */
export async function loadDupMaeEncoder(source: ModelSource, opts: LoadOptions & DupMaeOptions = {}): Promise<DupMaeEncoder> {
  const info = await inspectEncoderCheckpoint(source, opts);
  if (!info.supports.includes("dupmae")) throw new UnsupportedModelError(source.location, `DupMAE is BERT-based; this is a ${info.layout} checkpoint`);
  const backend = await encoderBackend(opts);
  const projection = opts.projection ?? (info.projection ? await readDense(source, info.projection, info.config.hiddenSize, opts, backend) : undefined);
  const enc = await loadEncoder(source, { ...opts, backend });
  try {
    return new DupMaeEncoder(enc.model, enc.tokenizer, { ...opts, projection });
  } catch (e) {
    enc.model.free();
    throw e;
  }
}

/** An EchoSparseEncoder on a Llama-family checkpoint (with its tokenizer). */
export async function loadEchoSparseEncoder(source: ModelSource, opts: LoadOptions & EchoOptions = {}): Promise<EchoSparseEncoder> {
  const { model, tokenizer } = await loadCausalLM(source, opts);
  try {
    return new EchoSparseEncoder(model, tokenizer, opts);
  } catch (e) {
    model.free();
    throw e;
  }
}

// ------------------------------------------------------------------ tokenizer.json, idf.json

/** token -> id of a tokenizer.json (WordPiece / BPE vocab object plus the added tokens). */
function tokenizerVocab(tok: Json): Map<string, number> {
  const out = new Map<string, number>();
  const v = (tok.model as Json | undefined)?.vocab;
  if (v && typeof v === "object" && !Array.isArray(v)) for (const [t, id] of Object.entries(v as Record<string, number>)) out.set(t, id);
  for (const a of addedTokens(tok)) out.set(a.content, a.id);
  return out;
}

function addedTokens(tok: Json): { id: number; content: string; special: boolean }[] {
  return Array.isArray(tok.added_tokens) ? (tok.added_tokens as { id: number; content: string; special: boolean }[]) : [];
}

function specialIds(tok: Json): number[] {
  return addedTokens(tok)
    .filter((a) => a.special)
    .map((a) => a.id);
}

function idfTable(file: string, idf: Json, vocab: Map<string, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [token, w] of Object.entries(idf)) {
    if (typeof w !== "number" || !Number.isFinite(w)) throw new ModelFormatError(file, `weight of ${JSON.stringify(token)} is not a number`);
    const id = vocab.get(token);
    // the card's code looks tokens up in the tokenizer's vocabulary; one it lacks can never occur in a query
    if (id !== undefined) out.set(id, w);
  }
  return out;
}

// ------------------------------------------------------------------ sentence-transformers Dense

async function denseModulePath(source: ModelSource, opts: LoadOptions): Promise<string | null> {
  if (!(await source.has("modules.json"))) return null;
  const modules = JSON.parse(new TextDecoder().decode(await source.open("modules.json", { signal: opts.signal }))) as { path?: string; type?: string }[];
  const dense = Array.isArray(modules) ? modules.filter((m) => typeof m.type === "string" && m.type.endsWith(".Dense")) : [];
  if (dense.length > 1) throw new UnsupportedModelError(label(source, "modules.json"), `has ${dense.length} Dense modules; one projection is supported`);
  return dense.length === 1 ? (dense[0].path ?? "") : null;
}

async function readDense(source: ModelSource, path: string, hidden: number, opts: LoadOptions, backend: Backend): Promise<DenseProjection> {
  const dir = path ? `${path}/` : "";
  const cfgFile = label(source, `${dir}config.json`);
  const cfg = await readJson(source, `${dir}config.json`, opts);
  const act = cfg.activation_function ?? "torch.nn.modules.linear.Identity";
  if (act !== "torch.nn.modules.linear.Identity")
    throw new UnsupportedModelError(cfgFile, `activation_function ${JSON.stringify(act)}: only a linear projection (Identity) is supported`);
  if (!(await source.has(`${dir}model.safetensors`)))
    throw new ModelFormatError(source.location, `has no ${dir}model.safetensors for its Dense module (a pytorch_model.bin must be converted)`);
  const { store } = readSafetensors(label(source, `${dir}model.safetensors`), await source.open(`${dir}model.safetensors`, { signal: opts.signal }));
  const w = store.get("linear.weight");
  const [outFeatures, inFeatures] = w.shape;
  if (w.shape.length !== 2 || inFeatures !== hidden) throw new ModelFormatError(store.label, `is [${w.shape}], expected [out, ${hidden}]`, "linear.weight");
  const bias = store.has("linear.bias") ? Float32Array.from(storedToF32(backend, store.get("linear.bias"))) : null;
  if (bias && bias.length !== outFeatures) throw new ModelFormatError(store.label, `has ${bias.length} values, expected ${outFeatures}`, "linear.bias");
  return { weight: Float32Array.from(storedToF32(backend, w)), bias, inFeatures, outFeatures };
}
