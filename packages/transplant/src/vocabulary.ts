/**
 * Which tokens two vocabularies share (the anchors of a transplant).
 *
 * Tokens are compared by what they mean, not by how a tokenizer spells them: a normal token
 * by the bytes it adds to the text ("▁the" of SentencePiece and "Ġthe" of byte-level BPE are
 * both " the"), a byte-fallback token ("<0x0A>") by its byte, and BOS / EOS / UNK / PAD by
 * their role whatever their text. Other special tokens match when their text is equal.
 */
import { HfTokenizer, type Tokenizer, TokenizerError, TokenType, WordPieceTokenizer } from "@edgespec/models";

/** What a token is, as a key equal across tokenizers exactly when the tokens mean the same. */
export type TokenKey = string;

type Role = "bos" | "eos" | "unk" | "pad";

/** The optional accessors our tokenizer classes have beyond the Tokenizer interface. */
interface TokenizerExtras {
  unkId?: number | null;
  padId?: number | null;
  piece?(id: number): string;
  token?(id: number): string;
  tokenType?(id: number): number;
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * The normalized key of every id of a tokenizer (null for ids with no token).
 * Throws for tokenizers whose tokens have no byte meaning we can compare (WordPiece).
 */
export function normalizedVocabulary(tokenizer: Tokenizer, what = "tokenizer"): (TokenKey | null)[] {
  // WordPiece marks word continuations ("##ing") instead of word starts: its tokens do not
  // line up with the other families' word-start tokens
  const kind = tokenizer instanceof HfTokenizer ? `${tokenizer.modelType} tokenizer.json` : tokenizer.constructor.name;
  if (
    tokenizer instanceof WordPieceTokenizer ||
    (tokenizer instanceof HfTokenizer && tokenizer.modelType === "WordPiece") ||
    typeof tokenizer.tokenBytes !== "function"
  ) {
    throw new TokenizerError(
      `${what}: a ${kind} is not supported for transplantation (supported: BPE / Unigram tokenizer.json, llama2.c tokenizer.bin, GGUF llama and gpt2 vocabularies, tiktoken)`,
    );
  }
  const extras = tokenizer as Tokenizer & TokenizerExtras;
  const roles = new Map<number, Role>();
  const setRole = (id: number | null | undefined, role: Role) => {
    if (typeof id === "number" && id >= 0 && !roles.has(id)) roles.set(id, role);
  };
  setRole(tokenizer.bosId, "bos");
  setRole(tokenizer.eosIds[0], "eos");
  setRole(extras.unkId, "unk");
  setRole(extras.padId, "pad");

  const keys: (TokenKey | null)[] = new Array(tokenizer.vocabSize).fill(null);
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const role = roles.get(id);
    if (role) {
      keys[id] = `role:${role}`;
      continue;
    }
    const byte = byteFallbackOf(extras, id);
    if (byte !== null) {
      keys[id] = `byte:${byte}`;
      continue;
    }
    let bytes: Uint8Array | null;
    try {
      bytes = tokenizer.tokenBytes(id);
    } catch {
      continue; // an id with no token (a gap in an added-tokens table)
    }
    if (bytes === null) {
      const text = tokenizer.decode([id], { skipSpecial: false });
      keys[id] = text ? `special:${text}` : null;
    } else if (bytes.length > 0) {
      keys[id] = `text:${String.fromCharCode(...bytes)}`;
    }
  }
  return keys;
}

/** The byte of a SentencePiece byte-fallback token, or null. */
function byteFallbackOf(t: TokenizerExtras, id: number): number | null {
  if (t.tokenType && t.piece) {
    if (t.tokenType(id) !== TokenType.BYTE) return null;
    const m = BYTE_PIECE.exec(t.piece(id));
    return m ? Number.parseInt(m[1], 16) : null;
  }
  const text = t.token?.(id) ?? t.piece?.(id);
  const m = text === undefined ? null : BYTE_PIECE.exec(text);
  return m ? Number.parseInt(m[1], 16) : null;
}

/** The other spelling of a one-byte token: a byte-level BPE "A" is SentencePiece's <0x41> and back. */
function byteTwin(key: TokenKey): TokenKey | null {
  if (key.startsWith("byte:")) return `text:${String.fromCharCode(Number(key.slice(5)))}`;
  if (key.startsWith("text:") && key.length === 6) return `byte:${key.charCodeAt(5)}`;
  return null;
}

export interface VocabularyMatch {
  /** for every donor id, the base id of the same token, or -1 when the base lacks it */
  donorToBase: Int32Array;
  /** donor ids that have a base twin (the anchors), ascending */
  anchors: Int32Array;
  /** donor ids with a token but no base twin: the ones a transplant must approximate */
  unmatched: Int32Array;
}

/** Match every donor token to the base token with the same normalized key. */
export function matchVocabularies(base: Tokenizer, donor: Tokenizer): VocabularyMatch {
  const baseKeys = normalizedVocabulary(base, "base tokenizer");
  const donorKeys = normalizedVocabulary(donor, "donor tokenizer");
  const baseIds = new Map<TokenKey, number>();
  // the first id wins when a vocabulary spells one token twice
  baseKeys.forEach((k, id) => {
    if (k !== null && !baseIds.has(k)) baseIds.set(k, id);
  });
  const donorToBase = new Int32Array(donorKeys.length).fill(-1);
  const anchors: number[] = [];
  const unmatched: number[] = [];
  donorKeys.forEach((k, id) => {
    if (k === null) return;
    const twin = byteTwin(k);
    const b = baseIds.get(k) ?? (twin === null ? undefined : baseIds.get(twin));
    if (b === undefined) unmatched.push(id);
    else {
      donorToBase[id] = b;
      anchors.push(id);
    }
  });
  // BOS/EOS/UNK/PAD always pair up by role; they alone carry no meaning to transplant from
  if (!anchors.some((id) => (donorKeys[id] as TokenKey).startsWith("text:") || (donorKeys[id] as TokenKey).startsWith("byte:"))) {
    throw new TokenizerError(
      `the base and donor vocabularies share no token beyond special ones (base ${base.vocabSize} tokens, donor ${donor.vocabSize}): there are no anchors to transplant from`,
    );
  }
  return { donorToBase, anchors: Int32Array.from(anchors), unmatched: Int32Array.from(unmatched) };
}
