/**
 * BERT WordPiece from GGUF metadata (`tokenizer.ggml.model` = "bert"). llama.cpp's converter
 * stores the vocabulary in "phantom space" form: a word-initial piece gets "▁" in front, a
 * "##" continuation loses its "##", and bracketed specials ([CLS]...) stay as they are. We
 * undo that, build the equivalent Hugging Face tokenizer.json in memory (BERT normalizer with
 * lowercasing, as llama.cpp's WPM tokenizer always lowercases) and run it through
 * @huggingface/tokenizers.
 */
import { ModelFormatError } from "../errors";
import { type GgufMetadata, optNumberArray, optString, optTokenId, stringArray } from "./gguf-metadata";
import { HfTokenizer } from "./hf";
import { isMatchedInText, TokenType } from "./token-types";

const PHANTOM_SPACE = "\u2581";

/** A GGUF (phantom-space) token back to its vocab.txt spelling. */
export function wordPieceFromPhantom(token: string, type: number): string {
  if (isMatchedInText(type)) return token;
  if (token.startsWith("[") && token.endsWith("]")) return token;
  if (token.startsWith(PHANTOM_SPACE)) return token.slice(PHANTOM_SPACE.length);
  return `##${token}`;
}

/** A vocab.txt token to llama.cpp's GGUF spelling (the inverse; used to build test metadata). */
export function wordPieceToPhantom(token: string): string {
  if (token.startsWith("[") && token.endsWith("]")) return token;
  if (token.startsWith("##")) return token.slice(2);
  return PHANTOM_SPACE + token;
}

export class WordPieceTokenizer extends HfTokenizer {
  /** [SEP]: BERT inputs are [CLS] text [SEP]; `bosId` is [CLS] */
  readonly sepId: number | null;

  private constructor(json: Record<string, unknown>, config: Record<string, unknown>, ids: { cls: number | null; sep: number | null }, chatTemplate?: string) {
    super(json, config, undefined, { bosId: ids.cls, eosIds: ids.sep === null ? [] : [ids.sep], addBos: ids.cls !== null, chatTemplate });
    this.sepId = ids.sep;
  }

  static fromGguf(md: GgufMetadata, file: string): WordPieceTokenizer {
    const tokens = stringArray(md, "tokenizer.ggml.tokens", file);
    const n = tokens.length;
    if (n === 0) throw new ModelFormatError(file, '"tokenizer.ggml.tokens" is empty');
    const types = optNumberArray(md, "tokenizer.ggml.token_type", file, n) ?? new Uint8Array(n).fill(TokenType.NORMAL);
    // llama.cpp's defaults for "bert" vocabularies
    const id = (key: string, dflt: number) => (md.has(key) ? (optTokenId(md, key, file, n) ?? null) : dflt < n ? dflt : null);
    const unk = id("tokenizer.ggml.unknown_token_id", 100);
    const cls = md.has("tokenizer.ggml.cls_token_id") ? id("tokenizer.ggml.cls_token_id", 101) : id("tokenizer.ggml.bos_token_id", 101);
    // llama.cpp's key name is spelled "seperator"
    const sep = id("tokenizer.ggml.seperator_token_id", 102);
    const vocab: Record<string, number> = {};
    const added: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const word = wordPieceFromPhantom(tokens[i], types[i]);
      if (!(word in vocab)) vocab[word] = i;
      if (isMatchedInText(types[i])) {
        added.push({ id: i, content: word, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[i] !== TokenType.USER_DEFINED });
      }
    }
    if (unk === null) throw new ModelFormatError(file, "WordPiece vocabulary has no unknown token");
    const unkText = wordPieceFromPhantom(tokens[unk], types[unk]);
    const json = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: "BertPreTokenizer" },
      post_processor: null,
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: { type: "WordPiece", unk_token: unkText, continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
    };
    const text = (i: number | null) => (i === null ? undefined : wordPieceFromPhantom(tokens[i], types[i]));
    const config = { unk_token: unkText, cls_token: text(cls), sep_token: text(sep), clean_up_tokenization_spaces: true, do_lower_case: true };
    return new WordPieceTokenizer(json, config, { cls, sep }, optString(md, "tokenizer.chat_template", file));
  }
}
