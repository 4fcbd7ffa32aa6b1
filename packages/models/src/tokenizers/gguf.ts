/** A tokenizer from the `tokenizer.*` metadata of a GGUF file, by `tokenizer.ggml.model`. */
import { TokenizerError } from "../errors";
import type { GgufValue } from "../formats/gguf";
import { BpeTokenizer } from "./bpe";
import { ggufTokenizerModel } from "./gguf-metadata";
import { SpmTokenizer } from "./spm";
import type { Tokenizer } from "./types";
import { WordPieceTokenizer } from "./wordpiece";

export const SUPPORTED_GGUF_TOKENIZERS: readonly string[] = ["llama", "gpt2", "bert"];

export function tokenizerFromGguf(metadata: ReadonlyMap<string, GgufValue>, file: string): Tokenizer {
  const model = ggufTokenizerModel(metadata, file);
  switch (model) {
    case "llama":
      return SpmTokenizer.fromGguf(metadata, file);
    case "gpt2":
      return BpeTokenizer.fromGguf(metadata, file);
    case "bert":
      return WordPieceTokenizer.fromGguf(metadata, file);
    default:
      throw new TokenizerError(`${file}: tokenizer.ggml.model "${model}" is not supported (supported: ${SUPPORTED_GGUF_TOKENIZERS.join(", ")})`);
  }
}
