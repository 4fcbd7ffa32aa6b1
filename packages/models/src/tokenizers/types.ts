/**
 * What the models, decoders and CLI need from a tokenizer, whatever its source
 * (tokenizer.json, GGUF metadata, llama2.c tokenizer.bin).
 */
export interface ChatMessage {
  role: string;
  content: string;
}

export interface Tokenizer {
  readonly vocabSize: number;
  /** null when the vocabulary has none */
  readonly bosId: number | null;
  /** every id that ends generation (eos, eot, im_end...) */
  readonly eosIds: readonly number[];
  /** whether the source says to prepend BOS (tokenizer_config / GGUF add_bos_token / llama2.c: always) */
  readonly addBos: boolean;
  /** Text to ids. Special tokens written in the text are recognised; no BOS/EOS is added. */
  encode(text: string): number[];
  /** Ids to text; special tokens (BOS, EOS...) are left out unless `skipSpecial` is false. */
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  /**
   * The exact bytes this token adds to the decoded text (UTF-8, possibly a part of one
   * character), or null for special and control tokens (BOS, EOS, unknown, added specials).
   * Word-initial SentencePiece pieces keep their space: "▁the" gives " the", although
   * `decode` drops the space that starts the text. Constrained decoding walks these bytes
   * through its automaton.
   */
  tokenBytes?(id: number): Uint8Array | null;
  /** The chat template of the source rendered with these messages, or undefined if it has none. */
  applyChatTemplate?(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string | undefined;
}
