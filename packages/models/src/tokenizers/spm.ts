/**
 * SentencePiece-BPE tokenization as llama.cpp's llm_tokenizer_spm does it (and llama2.c,
 * which agrees on every input): spaces become "▁" (with one prepended at the start and after
 * each special token when add_space_prefix), the text is split into code points, and the
 * adjacent pair whose concatenation is the highest-scoring vocabulary piece is merged until
 * none is left (ties: leftmost). A code point that is not a piece falls back to its UTF-8
 * bytes as <0xNN> tokens, or to the unknown token.
 */
import { ModelFormatError, TokenizerError } from "../errors";
import { binToBytes, binToText, byteOfPiece, utf8ToBin } from "./bytes";
import { ChatTemplate } from "./chat-template";
import { type GgufMetadata, ggufEogIds, optBool, optNumberArray, optString, optTokenId, stringArray } from "./gguf-metadata";
import { MinHeap } from "./heap";
import { LLAMA2C_BOS, LLAMA2C_EOS, LLAMA2C_UNK, parseLlama2cTokenizer } from "./llama2c";
import { SpecialTokenSplitter } from "./special-tokens";
import { isMatchedInText, isSkippedSpecial, TokenType } from "./token-types";
import type { ChatMessage, Tokenizer } from "./types";

export interface SpmVocab {
  /** SentencePiece pieces ("▁" marks a space), indexed by id */
  pieces: readonly string[];
  scores: ArrayLike<number>;
  /** TokenType per id */
  types: ArrayLike<number>;
  bosId: number | null;
  eosIds: readonly number[];
  unkId: number | null;
  addBos: boolean;
  /** prepend "▁" to the text (SentencePiece add_dummy_prefix) */
  addSpacePrefix: boolean;
  chatTemplate?: string;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** UTF-16 length of the merged text; a stale bigram no longer adds up to it */
  size: number;
}

const SPACE_MARK = "\u2581";

export class SpmTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly addBos: boolean;
  readonly unkId: number | null;
  readonly addSpacePrefix: boolean;
  private readonly pieces: readonly string[];
  private readonly scores: ArrayLike<number>;
  private readonly types: Uint8Array;
  /** pieces that merging may produce: normal and user-defined (never byte or control pieces) */
  private readonly mergeable = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  /** what each id decodes to, as a byte string */
  private readonly bins: string[];
  private readonly specials: SpecialTokenSplitter;
  private readonly template: ChatTemplate | undefined;

  constructor(vocab: SpmVocab) {
    const n = vocab.pieces.length;
    if (vocab.scores.length !== n || vocab.types.length !== n)
      throw new TokenizerError(`SPM vocabulary: ${n} pieces but ${vocab.scores.length} scores and ${vocab.types.length} types`);
    this.vocabSize = n;
    this.pieces = vocab.pieces;
    this.scores = vocab.scores;
    this.types = Uint8Array.from(vocab.types);
    this.bosId = vocab.bosId;
    this.eosIds = vocab.eosIds;
    this.unkId = vocab.unkId;
    this.addBos = vocab.addBos;
    this.addSpacePrefix = vocab.addSpacePrefix;
    this.bins = new Array<string>(n);
    const special: { text: string; id: number }[] = [];
    for (let id = 0; id < n; id++) {
      const piece = vocab.pieces[id];
      const type = this.types[id];
      if (type === TokenType.NORMAL || type === TokenType.USER_DEFINED) {
        if (!this.mergeable.has(piece)) this.mergeable.set(piece, id);
      }
      const byte = type === TokenType.BYTE ? byteOfPiece(piece) : -1;
      if (byte >= 0 && this.byteIds[byte] < 0) this.byteIds[byte] = id;
      if (isMatchedInText(type)) special.push({ text: piece, id });
      if (type === TokenType.NORMAL) this.bins[id] = utf8ToBin(piece.replaceAll(SPACE_MARK, " "));
      else if (type === TokenType.BYTE) this.bins[id] = byte >= 0 ? String.fromCharCode(byte) : "";
      // unused/undefined ids decode to nothing, as in llama.cpp
      else if (type === TokenType.USER_DEFINED || type === TokenType.CONTROL || type === TokenType.UNKNOWN) this.bins[id] = utf8ToBin(piece);
      else this.bins[id] = "";
    }
    this.specials = new SpecialTokenSplitter(special);
    const text = (id: number | null | undefined) => (id === null || id === undefined ? "" : vocab.pieces[id]);
    this.template = vocab.chatTemplate ? new ChatTemplate(vocab.chatTemplate, { bos: text(vocab.bosId), eos: text(vocab.eosIds[0]) }) : undefined;
  }

  /**
   * A llama2.c `tokenizer.bin`. `vocabSize` is the model's (the file does not store it);
   * without it every piece in the file is read. BOS 1, EOS 2, unknown 0, BOS always added.
   */
  static fromLlama2c(bytes: Uint8Array, vocabSize?: number, file = "tokenizer.bin"): SpmTokenizer {
    const v = parseLlama2cTokenizer(bytes, file, vocabSize);
    return new SpmTokenizer({
      pieces: v.pieces,
      scores: v.scores,
      types: v.types,
      bosId: LLAMA2C_BOS,
      eosIds: [LLAMA2C_EOS],
      unkId: LLAMA2C_UNK,
      addBos: true,
      addSpacePrefix: true,
    });
  }

  /** GGUF metadata with `tokenizer.ggml.model` = "llama"; defaults as llama.cpp's. */
  static fromGguf(md: GgufMetadata, file: string): SpmTokenizer {
    const pieces = stringArray(md, "tokenizer.ggml.tokens", file);
    const n = pieces.length;
    if (n === 0) throw new ModelFormatError(file, '"tokenizer.ggml.tokens" is empty');
    const scores = optNumberArray(md, "tokenizer.ggml.scores", file, n) ?? new Float32Array(n);
    const types = optNumberArray(md, "tokenizer.ggml.token_type", file, n) ?? new Uint8Array(n).fill(TokenType.NORMAL);
    const id = (key: string, dflt: number | null) => (md.has(key) ? (optTokenId(md, key, file, n) ?? null) : dflt !== null && dflt < n ? dflt : null);
    return new SpmTokenizer({
      pieces,
      scores,
      types,
      bosId: id("tokenizer.ggml.bos_token_id", 1),
      eosIds: ggufEogIds(md, file, pieces, n > 2 ? 2 : undefined),
      unkId: id("tokenizer.ggml.unknown_token_id", 0),
      addBos: optBool(md, "tokenizer.ggml.add_bos_token", file) ?? true,
      addSpacePrefix: optBool(md, "tokenizer.ggml.add_space_prefix", file) ?? true,
      chatTemplate: optString(md, "tokenizer.chat_template", file),
    });
  }

  /** The piece of an id as stored ("▁" for spaces, "<0x0A>" for byte tokens). */
  piece(id: number): string {
    this.check(id);
    return this.pieces[id];
  }

  score(id: number): number {
    this.check(id);
    return this.scores[id];
  }

  tokenType(id: number): number {
    this.check(id);
    return this.types[id];
  }

  encode(text: string): number[] {
    const out: number[] = [];
    // a space is prepended at the start and after every special token, as llama.cpp does
    let afterSpecial = true;
    for (const frag of this.specials.split(text)) {
      if (typeof frag === "number") {
        out.push(frag);
        afterSpecial = true;
        continue;
      }
      const prefixed = this.addSpacePrefix && afterSpecial ? ` ${frag}` : frag;
      this.segment(prefixed.replaceAll(" ", SPACE_MARK), out);
      afterSpecial = false;
    }
    return out;
  }

  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string {
    const skip = opts?.skipSpecial ?? true;
    let bin = "";
    // The space this tokenizer prepends (start of text, after a special token) is not part
    // of the text: strip it again. This is also llama2.c's "after BOS" rule.
    let stripNext = this.addSpacePrefix;
    for (const id of ids) {
      this.check(id);
      const type = this.types[id];
      if (isMatchedInText(type)) {
        if (!(skip && isSkippedSpecial(type))) bin += this.bins[id];
        stripNext = this.addSpacePrefix;
        continue;
      }
      let b = this.bins[id];
      if (stripNext && type === TokenType.NORMAL && b.charCodeAt(0) === 0x20) b = b.slice(1);
      bin += b;
      stripNext = false;
    }
    return binToText(bin);
  }

  /** Byte pieces give their byte, normal pieces their text with "▁" as a space; control, unknown and unused ids give null. */
  tokenBytes(id: number): Uint8Array | null {
    this.check(id);
    const type = this.types[id];
    if (type !== TokenType.NORMAL && type !== TokenType.BYTE && type !== TokenType.USER_DEFINED) return null;
    return binToBytes(this.bins[id]);
  }

  /** `addGenerationPrompt` defaults to true (the text ends where the assistant's turn begins; HF's default is false). */
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string | undefined {
    return this.template?.render(messages, opts?.addGenerationPrompt ?? true);
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
      throw new TokenizerError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
  }

  /** Merges the code points of `s` (spaces already "▁") into pieces; appends their ids. */
  private segment(s: string, out: number[]): void {
    const start: number[] = [];
    const len: number[] = [];
    for (let i = 0; i < s.length; ) {
      const l = (s.codePointAt(i) as number) > 0xffff ? 2 : 1;
      start.push(i);
      len.push(l);
      i += l;
    }
    const m = start.length;
    if (m === 0) return;
    const prev = Int32Array.from({ length: m }, (_, i) => i - 1);
    const next = Int32Array.from({ length: m }, (_, i) => (i + 1 < m ? i + 1 : -1));
    // best score first; on equal scores the leftmost pair (llama.cpp / llama2.c agree)
    const heap = new MinHeap<Bigram>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const size = len[left] + len[right];
      const id = this.mergeable.get(s.substr(start[left], size));
      if (id !== undefined) heap.push({ left, right, score: this.scores[id], size });
    };
    for (let i = 1; i < m; i++) tryAdd(i - 1, i);
    for (let b = heap.pop(); b !== undefined; b = heap.pop()) {
      const { left, right } = b;
      // a symbol only grows by absorbing its right neighbour, so a stale pair shows as a length change
      if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== b.size) continue;
      len[left] += len[right];
      len[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryAdd(prev[left], left);
      tryAdd(left, next[left]);
    }
    for (let i = 0; i !== -1; i = next[i]) {
      const text = s.substr(start[i], len[i]);
      const id = this.mergeable.get(text);
      if (id !== undefined) out.push(id);
      else this.fallback(text, out);
    }
  }

  /** A code point with no piece: its UTF-8 bytes as byte tokens, else the unknown token. */
  private fallback(ch: string, out: number[]): void {
    const bin = utf8ToBin(ch);
    const ids: number[] = [];
    for (let k = 0; k < bin.length; k++) ids.push(this.byteIds[bin.charCodeAt(k)]);
    if (ids.every((id) => id >= 0)) out.push(...ids);
    else if (this.unkId !== null) out.push(this.unkId);
    else throw new TokenizerError(`character ${JSON.stringify(ch)} has no piece, no byte tokens and the vocabulary has no unknown token`);
  }
}
