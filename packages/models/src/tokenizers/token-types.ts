/**
 * Token types as GGUF stores them in `tokenizer.ggml.token_type` (llama.cpp's llama_token_type).
 * They decide which ids are matched as special tokens in text, which are skipped when
 * decoding, and which carry a raw byte.
 */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

export type TokenTypeValue = (typeof TokenType)[keyof typeof TokenType];

/** Matched as a whole in the input text before any other tokenization (llama.cpp's special-token cache). */
export function isMatchedInText(type: number): boolean {
  return type === TokenType.CONTROL || type === TokenType.USER_DEFINED || type === TokenType.UNKNOWN;
}

/** Left out by `decode(ids, { skipSpecial: true })`. User-defined tokens are ordinary text, as in llama.cpp. */
export function isSkippedSpecial(type: number): boolean {
  return type === TokenType.CONTROL || type === TokenType.UNKNOWN;
}

/**
 * Texts that end a turn or a document in common vocabularies. llama.cpp treats a token with
 * one of these texts as end-of-generation even when the metadata names only `eos`; we do the
 * same so that chat models stop at `<|im_end|>` / `<|eot_id|>`.
 */
export const END_OF_GENERATION_TEXTS: ReadonlySet<string> = new Set([
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "<|eom_id|>",
  "<EOT>",
]);
