/**
 * A BERT-family encoder (BertModel, BertForMaskedLM, DistilBERT, sentence-transformers and
 * BGE folders) with its tokenizer, from a Hugging Face folder, URL or hub repo. Weights
 * stream in tensor by tensor like the causal models'.
 */
import { BertModel, type BertOptions } from "./bert/bert";
import { type BertConfig, bertConfigFromHf } from "./bert/config";
import { ModelFormatError } from "./errors";
import { encoderBackend, fileLabel, type LoadOptions, readJson, safetensorsShards, streamShards } from "./load";
import type { ModelSource } from "./sources/types";
import { HfTokenizer } from "./tokenizers/hf";
import { StreamedWeights } from "./weights";

export interface LoadedEncoder {
  model: BertModel;
  tokenizer: HfTokenizer;
  config: BertConfig;
  /** text -> ids with the special tokens the tokenizer's post-processor adds ([CLS] ... [SEP]) */
  encodeText(text: string): number[];
}

export async function loadEncoder(source: ModelSource, opts: LoadOptions & BertOptions = {}): Promise<LoadedEncoder> {
  const backend = await encoderBackend(opts);
  const config = bertConfigFromHf(fileLabel(source, "config.json"), await readJson(source, "config.json", opts));
  if (!(await source.has("tokenizer.json"))) throw new ModelFormatError(source.location, "has no tokenizer.json");
  const tokJson = await readJson(source, "tokenizer.json", opts);
  const tokCfg = (await source.has("tokenizer_config.json")) ? await readJson(source, "tokenizer_config.json", opts) : {};
  const tokenizer = new HfTokenizer(tokJson, tokCfg);
  const weights = new StreamedWeights(backend, source.location, opts.dtype);
  try {
    await streamShards(source, await safetensorsShards(source, opts), weights, opts);
    const model = new BertModel(backend, config, weights, opts);
    weights.dispose();
    return { model, tokenizer, config, encodeText: (text) => tokenizer.encodeWithSpecialTokens(text) };
  } catch (e) {
    weights.dispose(true);
    throw e;
  }
}
