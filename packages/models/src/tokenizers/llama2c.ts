/**
 * llama2.c `tokenizer.bin`: i32 max_token_length, then per token f32 score, i32 byte length
 * and the piece bytes. The vocabulary size is not stored; it comes from the model header
 * (or, when not given, is whatever the file holds).
 *
 * llama2.c's exporter wrote pieces with "▁" replaced by " ", and BOS/EOS as "\n<s>\n" /
 * "\n</s>\n"; we undo both so the vocabulary looks like the SentencePiece one it came from.
 */
import { ModelFormatError } from "../errors";
import { byteOfPiece } from "./bytes";
import { TokenType } from "./token-types";

export interface Llama2cVocab {
  pieces: string[];
  scores: Float32Array;
  types: Uint8Array;
  maxTokenLength: number;
}

export const LLAMA2C_UNK = 0;
export const LLAMA2C_BOS = 1;
export const LLAMA2C_EOS = 2;

export function parseLlama2cTokenizer(bytes: Uint8Array, file: string, vocabSize?: number): Llama2cVocab {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  if (bytes.length < 4) throw new ModelFormatError(file, `is ${bytes.length} bytes, too short for a llama2.c tokenizer`);
  const maxTokenLength = dv.getInt32(0, true);
  if (maxTokenLength < 1 || maxTokenLength > 1 << 16)
    throw new ModelFormatError(file, `max_token_length ${maxTokenLength} is out of range (not a llama2.c tokenizer?)`);
  if (vocabSize !== undefined && (!Number.isInteger(vocabSize) || vocabSize < 3)) throw new ModelFormatError(file, `vocabulary size ${vocabSize} is invalid`);
  const pieces: string[] = [];
  const scoreList: number[] = [];
  let pos = 4;
  while (vocabSize === undefined ? pos < bytes.length : pieces.length < vocabSize) {
    const i = pieces.length;
    if (pos + 8 > bytes.length) {
      throw new ModelFormatError(file, `ends at piece ${i} of ${vocabSize ?? "?"} (truncated, or the model's vocabulary size does not match this tokenizer)`);
    }
    const score = dv.getFloat32(pos, true);
    const len = dv.getInt32(pos + 4, true);
    pos += 8;
    if (!Number.isFinite(score)) throw new ModelFormatError(file, `score of piece ${i} is ${score} (corrupt)`);
    if (len < 0 || len > maxTokenLength || pos + len > bytes.length) {
      throw new ModelFormatError(
        file,
        `piece ${i} has length ${len} at offset ${pos - 4} (max_token_length ${maxTokenLength}, ${bytes.length - pos} bytes left): corrupt or truncated`,
      );
    }
    let piece: string;
    try {
      piece = utf8.decode(bytes.subarray(pos, pos + len));
    } catch {
      throw new ModelFormatError(file, `piece ${i} at offset ${pos} is not valid UTF-8`);
    }
    pos += len;
    pieces.push(piece);
    scoreList.push(score);
  }
  if (pos !== bytes.length) {
    throw new ModelFormatError(
      file,
      `has ${bytes.length - pos} bytes after its ${pieces.length} pieces (the model's vocabulary size does not match this tokenizer?)`,
    );
  }
  if (pieces.length < 3) throw new ModelFormatError(file, `holds ${pieces.length} pieces; a llama2.c vocabulary has at least <unk>, <s>, </s>`);
  const types = new Uint8Array(pieces.length);
  for (let i = 0; i < pieces.length; i++) {
    if (i === LLAMA2C_BOS || i === LLAMA2C_EOS) {
      types[i] = TokenType.CONTROL;
      pieces[i] = pieces[i].trim();
    } else if (i === LLAMA2C_UNK) {
      types[i] = TokenType.UNKNOWN;
    } else if (byteOfPiece(pieces[i]) >= 0) {
      types[i] = TokenType.BYTE;
    } else {
      types[i] = TokenType.NORMAL;
      pieces[i] = pieces[i].replaceAll(" ", "\u2581");
    }
  }
  return { pieces, scores: Float32Array.from(scoreList), types, maxTokenLength };
}
