/**
 * Learned sparse retrieval on a decoder-only (Llama-family) LM, Mistral-SPLADE style with echo
 * embeddings (Springer et al. 2024, "Repetition Improves Language Model Embeddings"): a causal
 * model's early tokens cannot see the rest of the text, so the text is written twice and only
 * the second copy, which has read the whole text once, is pooled:
 *
 *   ids = [BOS] + tok(prefix) + tok(text) + tok(middle) + tok(text) + tok(suffix)
 *   w_j = max_{i in second copy} log(1 + relu(lm_logits[i, j]))      over the LM's vocabulary
 *
 * The template is "Passage: {text}\nPassage again: {text}" unless given: any string with exactly
 * two "{text}" slots, split into prefix / middle / suffix around them. Each piece is tokenized
 * on its own, so the positions of the second copy are known exactly (a whole-string encoding may
 * merge tokens across a slot's edge; this one never does; with a SentencePiece tokenizer that
 * adds a dummy prefix, each piece starts as a new word). BOS is added when the tokenizer says
 * so (add_bos_token). Encoding runs on the model's own sequence and empties it (reset) before
 * and after. A text too long for the context is cut to
 * floor((contextLength - template tokens) / 2) tokens, the same cut in both copies.
 */
import type { LlamaModel, Tokenizer } from "@edgespec/models";
import { type BatchOptions, encodeBatch } from "./batch";
import { type PruneOptions, sparseTerms, sparsify, spladePool } from "./sparse";
import type { PackedSparseVector, SparseTerm } from "./types";

export const DEFAULT_ECHO_TEMPLATE = "Passage: {text}\nPassage again: {text}";

export interface EchoOptions extends PruneOptions {
  /** two "{text}" slots; default DEFAULT_ECHO_TEMPLATE */
  template?: string;
  /** most ids per input, template included; default and cap: the model's context length */
  maxLength?: number;
}

export interface EchoInput {
  ids: number[];
  /** positions of the second copy of the text in `ids` */
  secondCopy: number[];
  /** text tokens kept in each copy */
  textTokens: number;
}

export class EchoSparseEncoder {
  readonly template: string;
  readonly maxLength: number;
  private readonly pieces: [number[], number[], number[]];
  private readonly prefixIds: number[];

  constructor(
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
    readonly options: EchoOptions = {},
  ) {
    this.template = options.template ?? DEFAULT_ECHO_TEMPLATE;
    const parts = this.template.split("{text}");
    if (parts.length !== 3)
      throw new RangeError(`the echo template needs exactly two "{text}" slots, got ${parts.length - 1}: ${JSON.stringify(this.template)}`);
    const enc = (s: string) => (s.length === 0 ? [] : tokenizer.encode(s));
    this.pieces = [enc(parts[0]), enc(parts[1]), enc(parts[2])];
    this.prefixIds = tokenizer.addBos && tokenizer.bosId !== null ? [tokenizer.bosId] : [];
    const ctx = model.contextLength;
    if (options.maxLength !== undefined && (!Number.isInteger(options.maxLength) || options.maxLength < 1))
      throw new RangeError(`maxLength must be a positive integer, got ${options.maxLength}`);
    this.maxLength = Math.min(options.maxLength ?? ctx, ctx);
    if (this.fixedLength() + 2 > this.maxLength)
      throw new RangeError(`the echo template takes ${this.fixedLength()} tokens, leaving no room for the text in ${this.maxLength} positions`);
  }

  private fixedLength(): number {
    return this.prefixIds.length + this.pieces[0].length + this.pieces[1].length + this.pieces[2].length;
  }

  /** The ids the model reads and where the second copy sits. */
  input(text: string): EchoInput {
    const room = Math.floor((this.maxLength - this.fixedLength()) / 2);
    const body = (text.length === 0 ? [] : this.tokenizer.encode(text)).slice(0, room);
    const [head, middle, tail] = this.pieces;
    const ids = [...this.prefixIds, ...head, ...body, ...middle];
    const start = ids.length;
    ids.push(...body, ...tail);
    return { ids, secondCopy: Array.from({ length: body.length }, (_, i) => start + i), textTokens: body.length };
  }

  /** The pooled weight of every vocabulary entry, before pruning: [vocab]. */
  weightsOf(input: EchoInput): Float32Array {
    const m = this.model;
    // prefill appends to the model's own cache: start empty and leave it empty
    m.reset();
    try {
      const { logits, rows } = m.prefill(input.ids, { allLogits: true });
      return spladePool(logits, logits.length / rows, "max", input.secondCopy);
    } finally {
      m.reset();
    }
  }

  encode(text: string): PackedSparseVector {
    return sparsify(this.weightsOf(this.input(text)), this.options);
  }

  encodeMany(texts: readonly string[], opts?: BatchOptions): Promise<PackedSparseVector[]> {
    return encodeBatch(texts, (t) => this.encode(t), opts);
  }

  /** The vector as the LM's tokens (decoded text of each id), heaviest first. */
  terms(v: PackedSparseVector): SparseTerm[] {
    return sparseTerms(v, (id) => this.tokenizer.decode([id], { skipSpecial: false }));
  }
}
