/**
 * One config for BERT-style encoders (BERT, sentence-transformers / BGE, DistilBERT), filled
 * from a Hugging Face config.json. Anything we cannot run faithfully is refused by name.
 */
import { configFields } from "../config-fields";
import { UnsupportedModelError } from "../errors";

export type BertActivation = "gelu" | "gelu_tanh";

export interface BertConfig {
  /** "bert" | "distilbert": which tensor names and config keys the weights came with */
  modelType: "bert" | "distilbert";
  /** architectures[0] of config.json (e.g. "BertForMaskedLM"), or null when absent */
  architecture: string | null;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
  /** rows of token_type_embeddings; 0 for DistilBERT (it has none) */
  typeVocabSize: number;
  layerNormEps: number;
  /** "gelu": exact erf GELU; "gelu_tanh": the tanh approximation (gelu_new, gelu_pytorch_tanh, gelu_fast) */
  hiddenAct: BertActivation;
  padTokenId: number | null;
}

type Json = Record<string, unknown>;

const ACTIVATIONS: Record<string, BertActivation> = {
  gelu: "gelu",
  gelu_python: "gelu",
  gelu_new: "gelu_tanh",
  gelu_pytorch_tanh: "gelu_tanh",
  gelu_fast: "gelu_tanh",
};

/** BERT weights used as a causal decoder; we run the bidirectional encoder only. */
const DECODER_ARCHS = ["BertLMHeadModel", "BertGenerationDecoder"];

export function bertConfigFromHf(file: string, cfg: Json): BertConfig {
  const archs = Array.isArray(cfg.architectures) ? (cfg.architectures as unknown[]).filter((a): a is string => typeof a === "string") : [];
  const architecture = archs[0] ?? null;
  let modelType = cfg.model_type;
  if (modelType === undefined && architecture)
    modelType = architecture.startsWith("DistilBert") ? "distilbert" : architecture.startsWith("Bert") ? "bert" : undefined;
  if (modelType !== "bert" && modelType !== "distilbert") {
    throw new UnsupportedModelError(
      file,
      `model_type ${JSON.stringify(modelType ?? architecture)} is not supported by the BERT encoder (bert: BertModel, BertForMaskedLM, sentence-transformers; distilbert: DistilBertModel, DistilBertForMaskedLM)`,
    );
  }
  if (architecture && DECODER_ARCHS.includes(architecture)) {
    throw new UnsupportedModelError(file, `architecture ${JSON.stringify(architecture)} is a causal decoder; only the bidirectional encoder is supported`);
  }
  const { int, num } = configFields(file, cfg);
  const activation = (key: string): BertActivation => {
    const a = cfg[key] ?? "gelu";
    if (typeof a !== "string" || !(a in ACTIVATIONS)) {
      throw new UnsupportedModelError(file, `${key} ${JSON.stringify(a)} is not supported (${Object.keys(ACTIVATIONS).join(", ")})`);
    }
    return ACTIVATIONS[a];
  };
  const padTokenId = typeof cfg.pad_token_id === "number" ? cfg.pad_token_id : null;

  let config: BertConfig;
  if (modelType === "distilbert") {
    if (cfg.sinusoidal_pos_embds === true)
      throw new UnsupportedModelError(file, "sinusoidal_pos_embds: true is not supported (learned position embeddings only)");
    const dim = int("dim");
    const numHeads = int("n_heads");
    config = {
      modelType,
      architecture,
      hiddenSize: dim,
      intermediateSize: int("hidden_dim"),
      numLayers: int("n_layers"),
      numHeads,
      headDim: dim / numHeads,
      vocabSize: int("vocab_size"),
      maxPositions: int("max_position_embeddings", 512),
      typeVocabSize: 0,
      // DistilBERT's LayerNorms are built with eps=1e-12 whatever the config says
      layerNormEps: 1e-12,
      hiddenAct: activation("activation"),
      padTokenId,
    };
  } else {
    const pos = cfg.position_embedding_type ?? "absolute";
    if (pos !== "absolute") {
      throw new UnsupportedModelError(file, `position_embedding_type ${JSON.stringify(pos)} is not supported (absolute)`);
    }
    if (cfg.is_decoder === true)
      throw new UnsupportedModelError(file, "is_decoder: true (causal attention) is not supported; only the bidirectional encoder is");
    if (cfg.add_cross_attention === true) throw new UnsupportedModelError(file, "add_cross_attention: true is not supported");
    const hiddenSize = int("hidden_size");
    const numHeads = int("num_attention_heads");
    config = {
      modelType,
      architecture,
      hiddenSize,
      intermediateSize: int("intermediate_size"),
      numLayers: int("num_hidden_layers"),
      numHeads,
      headDim: hiddenSize / numHeads,
      vocabSize: int("vocab_size"),
      maxPositions: int("max_position_embeddings", 512),
      typeVocabSize: int("type_vocab_size", 2),
      layerNormEps: num("layer_norm_eps", 1e-12),
      hiddenAct: activation("hidden_act"),
      padTokenId,
    };
  }
  return checkBertConfig(file, config);
}

export function checkBertConfig(file: string, c: BertConfig): BertConfig {
  if (!Number.isInteger(c.headDim)) throw new UnsupportedModelError(file, `hidden size ${c.hiddenSize} is not a multiple of the ${c.numHeads} attention heads`);
  // a 2^31-element tensor cannot live in wasm32 memory
  if (c.vocabSize * c.hiddenSize > 2 ** 31 || c.intermediateSize * c.hiddenSize > 2 ** 31) {
    throw new UnsupportedModelError(file, "the model's matrices are too large for 32-bit WebAssembly memory");
  }
  return c;
}
