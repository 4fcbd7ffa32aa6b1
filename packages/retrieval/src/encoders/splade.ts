/**
 * SPLADE on a BERT masked-LM (BertForMaskedLM: bert.* + cls.predictions.*, or
 * DistilBertForMaskedLM): every token of "[CLS] text [SEP]" scores the whole vocabulary with the
 * MLM head, and
 *
 *   w_j = max_i log(1 + relu(logits[i, j]))   (pooling "max": SPLADE v2, SPLADE++, splade-v3,
 *                                              OpenSearch neural-sparse)
 *   w_j = sum_i log(1 + relu(logits[i, j]))   (pooling "sum": SPLADE v1)
 *
 * with i over every real token, [CLS] and [SEP] included (the attention mask is all ones: one
 * unpadded text per forward pass). Texts longer than the model's max_position_embeddings (or
 * `maxLength`) are truncated: text tokens are dropped from the end, [CLS] and [SEP] stay.
 *
 * Queries can skip the model ("doc-only" / inference-free models): "bag-of-words" gives each
 * distinct token id of the query weight 1 (SpladeDoc), "idf" gives it its idf.json weight
 * (OpenSearch neural-sparse doc-v* models).
 */
import type { BertModel } from "@edgespec/models";
import { type BatchOptions, encodeBatch } from "./batch";
import { bagOfIds, type PruneOptions, type SpladePooling, sparseTerms, sparsify, spladePool } from "./sparse";
import { maxLengthFor, truncateWithSpecials } from "./truncate";
import type { EncoderTokenizer, PackedSparseVector, SparseTerm } from "./types";

export type SpladeQueryMode = "model" | "bag-of-words" | "idf";

export interface SpladeOptions extends PruneOptions {
  /** default "max" */
  pooling?: SpladePooling;
  /** how encodeQuery works; default "model" ("idf" needs `idf`) */
  queryMode?: SpladeQueryMode;
  /** vocabulary id -> query weight, for queryMode "idf" (ids missing from it weigh 0) */
  idf?: ReadonlyMap<number, number>;
  /** most ids per text, [CLS] and [SEP] included; default and cap: max_position_embeddings */
  maxLength?: number;
  /** pruning for queries when it differs from documents' (e.g. a smaller topK); default the same */
  query?: PruneOptions;
}

export class SpladeEncoder {
  readonly maxLength: number;
  readonly pooling: SpladePooling;
  readonly queryMode: SpladeQueryMode;

  constructor(
    readonly model: BertModel,
    readonly tokenizer: EncoderTokenizer,
    readonly options: SpladeOptions = {},
  ) {
    if (!model.mlm) {
      throw new RangeError(
        `SPLADE needs a masked-LM head, and this ${model.config.architecture ?? model.config.modelType} checkpoint has none ` +
          `(cls.predictions.* for BERT, vocab_transform / vocab_layer_norm / vocab_projector for DistilBERT)`,
      );
    }
    this.maxLength = maxLengthFor(model.config.maxPositions, options.maxLength);
    this.pooling = options.pooling ?? "max";
    this.queryMode = options.queryMode ?? "model";
    if (this.queryMode === "idf" && !options.idf) throw new RangeError('queryMode "idf" needs an idf table (the checkpoint\'s idf.json)');
  }

  /** The ids the model reads for a text: [CLS] text [SEP], truncated to maxLength. */
  inputIds(text: string): number[] {
    return truncateWithSpecials(this.tokenizer.encodeWithSpecialTokens(text), this.maxLength);
  }

  /** The pooled weight of every vocabulary entry, before pruning: [vocab]. */
  weightsOfIds(ids: readonly number[]): Float32Array {
    if (ids.length > this.maxLength) throw new RangeError(`${ids.length} ids, more than maxLength ${this.maxLength}`);
    const positions = Array.from({ length: ids.length }, (_, i) => i);
    return spladePool(this.model.mlmLogits(ids, positions), this.model.config.vocabSize, this.pooling);
  }

  /** A document (or a query of a model that encodes queries too) from its model ids. */
  encodeIds(ids: readonly number[], prune: PruneOptions = this.options): PackedSparseVector {
    return sparsify(this.weightsOfIds(ids), prune);
  }

  encodeDocument(text: string): PackedSparseVector {
    return this.encodeIds(this.inputIds(text));
  }

  encodeQuery(text: string): PackedSparseVector {
    const prune = { ...this.options, ...this.options.query };
    if (this.queryMode === "model") return this.encodeIds(this.inputIds(text), prune);
    // doc-only models never run the encoder on a query: the query's own tokens are its terms.
    // OpenSearch's cards weigh every input id by idf ([CLS] / [SEP] have none, so they drop out);
    // SpladeDoc's binary query is the text's tokens without [CLS] / [SEP]
    const ids = this.inputIds(text);
    const own = this.queryMode === "idf" ? ids : ids.slice(1, -1);
    const idf = this.queryMode === "idf" ? this.options.idf : undefined;
    return sparsify(densify(bagOfIds(own, idf ? (id) => idf.get(id) ?? 0 : undefined), this.model.config.vocabSize), prune);
  }

  encodeDocuments(texts: readonly string[], opts?: BatchOptions): Promise<PackedSparseVector[]> {
    return encodeBatch(texts, (t) => this.encodeDocument(t), opts);
  }

  encodeQueries(texts: readonly string[], opts?: BatchOptions): Promise<PackedSparseVector[]> {
    return encodeBatch(texts, (t) => this.encodeQuery(t), opts);
  }

  /** The vector as wordpieces, heaviest first. */
  terms(v: PackedSparseVector): SparseTerm[] {
    return sparseTerms(v, (id) => this.tokenizer.token(id));
  }
}

function densify(v: PackedSparseVector, vocab: number): Float32Array {
  const d = new Float32Array(vocab);
  for (let i = 0; i < v.ids.length; i++) d[v.ids[i]] = v.weights[i];
  return d;
}
