/**
 * Byte-level BPE (GPT-2 family, Llama 3, Qwen2...): special tokens are cut out of the text,
 * the rest is pre-tokenized into words by regex, and each word's UTF-8 bytes are merged pair
 * by pair, lowest rank first (ties: leftmost), as llama.cpp's llm_tokenizer_bpe does.
 *
 * Two sources of ranks:
 * - tiktoken files: a pair may merge when its concatenation is a token; its rank is that
 *   token's rank (tiktoken's own rule);
 * - GGUF "gpt2" vocabularies: the `tokenizer.ggml.merges` list, a pair's rank being its index.
 */
import { ModelFormatError, TokenizerError } from "../errors";
import { binToByteLevel, byteLevelToBin } from "./byte-level";
import { binToBytes, binToText, utf8ToBin } from "./bytes";
import { ChatTemplate } from "./chat-template";
import { type GgufMetadata, ggufEogIds, optBool, optNumberArray, optString, optTokenId, stringArray } from "./gguf-metadata";
import { MinHeap } from "./heap";
import { type PreTokenizer, preTokenizer } from "./pretokenizers";
import { SpecialTokenSplitter } from "./special-tokens";
import { parseTiktokenRanks } from "./tiktoken";
import { isMatchedInText, isSkippedSpecial, TokenType } from "./token-types";
import type { ChatMessage, Tokenizer } from "./types";

export interface BpeVocab {
  /** token contents as byte strings, indexed by id ("" for an id with no token) */
  tokens: readonly string[];
  /** TokenType per id; special tokens are CONTROL or USER_DEFINED */
  types: ArrayLike<number>;
  /** pair ranks; absent: a pair's rank is the rank (id) of its concatenation (tiktoken) */
  merges?: ReadonlyMap<string, number>;
  /** a llama.cpp `tokenizer.ggml.pre` name */
  pre: string;
  bosId: number | null;
  eosIds: readonly number[];
  /** default: the pre-tokenizer's llama.cpp default */
  addBos?: boolean;
  chatTemplate?: string;
}

/** Separates the two halves of a merge key; never a char of a byte string. */
const PAIR_SEP = "\u0100";

interface Bigram {
  left: number;
  right: number;
  rank: number;
  size: number;
}

export interface TiktokenOptions {
  /** a llama.cpp pre-tokenizer name: "llama3", "qwen2"... */
  pre: string;
  /** special token text → id (ids follow the ranks) */
  specialTokens?: Record<string, number>;
  /** text of the BOS special token, or null */
  bos?: string | null;
  /** texts of the special tokens that end generation */
  eos?: readonly string[];
  addBos?: boolean;
  chatTemplate?: string;
  /** names the source in errors */
  file?: string;
}

export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly addBos: boolean;
  readonly pre: PreTokenizer;
  private readonly tokens: readonly string[];
  private readonly types: Uint8Array;
  /** normal tokens by content */
  private readonly ids = new Map<string, number>();
  private readonly merges: ReadonlyMap<string, number> | undefined;
  private readonly specials: SpecialTokenSplitter;
  private readonly template: ChatTemplate | undefined;

  constructor(vocab: BpeVocab) {
    const n = vocab.tokens.length;
    if (vocab.types.length !== n) throw new TokenizerError(`BPE vocabulary: ${n} tokens but ${vocab.types.length} types`);
    this.vocabSize = n;
    this.tokens = vocab.tokens;
    this.types = Uint8Array.from(vocab.types);
    this.merges = vocab.merges;
    this.pre = preTokenizer(vocab.pre);
    this.bosId = vocab.bosId;
    this.eosIds = vocab.eosIds;
    this.addBos = vocab.addBos ?? this.pre.addBos;
    const special: { text: string; id: number }[] = [];
    for (let id = 0; id < n; id++) {
      const t = this.types[id];
      if (isMatchedInText(t)) special.push({ text: binToText(vocab.tokens[id]), id });
      else if (t === TokenType.NORMAL && vocab.tokens[id] !== "" && !this.ids.has(vocab.tokens[id])) this.ids.set(vocab.tokens[id], id);
    }
    this.specials = new SpecialTokenSplitter(special);
    const text = (id: number | null | undefined) => (id === null || id === undefined ? "" : binToText(vocab.tokens[id]));
    this.template = vocab.chatTemplate ? new ChatTemplate(vocab.chatTemplate, { bos: text(vocab.bosId), eos: text(vocab.eosIds[0]) }) : undefined;
  }

  /** A tiktoken ranks file plus the special tokens the model adds after the ranks. */
  static fromTiktoken(source: string | Uint8Array, opts: TiktokenOptions): BpeTokenizer {
    const file = opts.file ?? "tiktoken ranks";
    const ranks = parseTiktokenRanks(source, file);
    const specials = Object.entries(opts.specialTokens ?? {});
    const n = Math.max(ranks.length, ...specials.map(([, id]) => id + 1));
    const tokens = new Array<string>(n).fill("");
    const types = new Uint8Array(n).fill(TokenType.UNUSED);
    ranks.forEach((bin, id) => {
      tokens[id] = bin;
      types[id] = TokenType.NORMAL;
    });
    const byText = new Map<string, number>();
    for (const [text, id] of specials) {
      if (!Number.isInteger(id) || id < ranks.length)
        throw new TokenizerError(`special token ${JSON.stringify(text)} has id ${id}, which is not after the ${ranks.length} ranks`);
      tokens[id] = utf8ToBin(text);
      types[id] = TokenType.CONTROL;
      byText.set(text, id);
    }
    const idOf = (text: string) => {
      const id = byText.get(text);
      if (id === undefined) throw new TokenizerError(`${JSON.stringify(text)} is not one of the special tokens`);
      return id;
    };
    return new BpeTokenizer({
      tokens,
      types,
      pre: opts.pre,
      bosId: opts.bos ? idOf(opts.bos) : null,
      eosIds: (opts.eos ?? []).map(idOf),
      addBos: opts.addBos,
      chatTemplate: opts.chatTemplate,
    });
  }

  /** GGUF metadata with `tokenizer.ggml.model` = "gpt2". */
  static fromGguf(md: GgufMetadata, file: string): BpeTokenizer {
    const texts = stringArray(md, "tokenizer.ggml.tokens", file);
    const n = texts.length;
    if (n === 0) throw new ModelFormatError(file, '"tokenizer.ggml.tokens" is empty');
    const types = Uint8Array.from(optNumberArray(md, "tokenizer.ggml.token_type", file, n) ?? new Uint8Array(n).fill(TokenType.NORMAL));
    const tokens = texts.map((t, id) => {
      // special and user-defined tokens are stored as plain text, the others in GPT-2's byte alphabet
      if (types[id] !== TokenType.NORMAL) return utf8ToBin(t);
      const bin = byteLevelToBin(t);
      if (bin === undefined) throw new ModelFormatError(file, `token ${id} ${JSON.stringify(t)} is not in GPT-2's byte-level alphabet`);
      return bin;
    });
    const mergeList = stringArray(md, "tokenizer.ggml.merges", file);
    const merges = new Map<string, number>();
    mergeList.forEach((m, rank) => {
      // llama.cpp splits at the first space after the first character
      const at = m.indexOf(" ", 1);
      const a = at > 0 ? byteLevelToBin(m.slice(0, at)) : undefined;
      const b = at > 0 ? byteLevelToBin(m.slice(at + 1)) : undefined;
      if (a === undefined || b === undefined) throw new ModelFormatError(file, `merge ${rank} ${JSON.stringify(m)} is not two byte-level tokens`);
      const key = a + PAIR_SEP + b;
      if (!merges.has(key)) merges.set(key, rank);
    });
    return new BpeTokenizer({
      tokens,
      types,
      merges,
      pre: optString(md, "tokenizer.ggml.pre", file) ?? "default",
      bosId: optTokenId(md, "tokenizer.ggml.bos_token_id", file, n) ?? null,
      eosIds: ggufEogIds(md, file, texts, undefined),
      addBos: optBool(md, "tokenizer.ggml.add_bos_token", file),
      chatTemplate: optString(md, "tokenizer.chat_template", file),
    });
  }

  /** The token's bytes in GPT-2's byte-level alphabet (as in tokenizer.json / GGUF). */
  token(id: number): string {
    this.check(id);
    return isMatchedInText(this.types[id]) ? binToText(this.tokens[id]) : binToByteLevel(this.tokens[id]);
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const frag of this.specials.split(text)) {
      if (typeof frag === "number") {
        out.push(frag);
        continue;
      }
      for (const word of this.pre.split(this.pre.nfc ? frag.normalize("NFC") : frag)) this.mergeWord(utf8ToBin(word), out);
    }
    return out;
  }

  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string {
    const skip = opts?.skipSpecial ?? true;
    let bin = "";
    for (const id of ids) {
      this.check(id);
      if (skip && isSkippedSpecial(this.types[id])) continue;
      bin += this.tokens[id];
    }
    return binToText(bin);
  }

  /** Normal tokens give their bytes (GPT-2's alphabet undone), user-defined ones their text; control, unknown and unused ids give null. */
  tokenBytes(id: number): Uint8Array | null {
    this.check(id);
    const type = this.types[id];
    if (type !== TokenType.NORMAL && type !== TokenType.USER_DEFINED) return null;
    return binToBytes(this.tokens[id]);
  }

  /** `addGenerationPrompt` defaults to true (the text ends where the assistant's turn begins; HF's default is false). */
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string | undefined {
    return this.template?.render(messages, opts?.addGenerationPrompt ?? true);
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
      throw new TokenizerError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
  }

  private rank(a: string, b: string): number | undefined {
    return this.merges ? this.merges.get(a + PAIR_SEP + b) : this.ids.get(a + b);
  }

  private mergeWord(word: string, out: number[]): void {
    const whole = this.ids.get(word);
    // tiktoken, and llama.cpp for llama3 ("ignore_merges"), take a word that is a token as is
    if (whole !== undefined && (this.pre.ignoreMerges || !this.merges)) {
      out.push(whole);
      return;
    }
    const m = word.length;
    const len = new Int32Array(m).fill(1);
    const prev = Int32Array.from({ length: m }, (_, i) => i - 1);
    const next = Int32Array.from({ length: m }, (_, i) => (i + 1 < m ? i + 1 : -1));
    const heap = new MinHeap<Bigram>((a, b) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left));
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const rank = this.rank(word.substr(left, len[left]), word.substr(right, len[right]));
      if (rank !== undefined) heap.push({ left, right, rank, size: len[left] + len[right] });
    };
    for (let i = 1; i < m; i++) tryAdd(i - 1, i);
    for (let b = heap.pop(); b !== undefined; b = heap.pop()) {
      const { left, right } = b;
      if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== b.size) continue;
      len[left] += len[right];
      len[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryAdd(prev[left], left);
      tryAdd(left, next[left]);
    }
    for (let i = 0; i !== -1 && m > 0; i = next[i]) {
      const piece = word.substr(i, len[i]);
      const id = this.ids.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // a merge result that is not a token (possible with GGUF merges): its bytes one by one
      for (let k = 0; k < piece.length; k++) {
        const byteId = this.ids.get(piece[k]);
        if (byteId === undefined) throw new TokenizerError(`byte 0x${piece.charCodeAt(k).toString(16).padStart(2, "0")} has no token in this vocabulary`);
        out.push(byteId);
      }
    }
  }
}
