/**
 * How well a language model predicts a text under a tokenizer: perplexity per token,
 * next-token (top-1) accuracy, and bits per byte, which compares tokenizers of different
 * granularity on the same text.
 */
import type { LlamaModel, Tokenizer } from "@edgespec/models";

export interface LmScore {
  /** exp(mean negative log-likelihood per predicted token) */
  ppl: number;
  /** share of predicted tokens that are the argmax of the logits */
  acc: number;
  /** total negative log-likelihood in bits over the UTF-8 bytes of the texts */
  bpb: number;
  /** predicted tokens */
  tokens: number;
}

/** Scores every text from BOS (when the tokenizer adds one); texts are cut to the context. */
export function scoreTexts(model: LlamaModel, tokenizer: Tokenizer, texts: readonly string[]): LmScore {
  let nll = 0;
  let hits = 0;
  let count = 0;
  let bytes = 0;
  for (const text of texts) {
    const ids = [...(tokenizer.addBos && tokenizer.bosId !== null ? [tokenizer.bosId] : []), ...tokenizer.encode(text)].slice(0, model.contextLength);
    if (ids.length < 2) continue;
    bytes += new TextEncoder().encode(tokenizer.decode(ids)).length;
    model.reset();
    const { logits } = model.prefill(ids.slice(0, -1), { allLogits: true });
    const vocab = logits.length / (ids.length - 1);
    for (let i = 0; i + 1 < ids.length; i++) {
      const row = logits.subarray(i * vocab, (i + 1) * vocab);
      let max = Number.NEGATIVE_INFINITY;
      let best = 0;
      for (let j = 0; j < vocab; j++) {
        if (row[j] > max) {
          max = row[j];
          best = j;
        }
      }
      let sum = 0;
      for (let j = 0; j < vocab; j++) sum += Math.exp(row[j] - max);
      nll += max + Math.log(sum) - row[ids[i + 1]];
      if (best === ids[i + 1]) hits++;
      count++;
    }
  }
  model.reset();
  if (count === 0) throw new RangeError("scoreTexts: the texts give no token to predict");
  return { ppl: Math.exp(nll / count), acc: hits / count, bpb: nll / Math.LN2 / Math.max(1, bytes), tokens: count };
}
