/**
 * What one token of a tokenizer.json vocabulary adds to the decoded text, as bytes, read off
 * the `decoder` section (constrained decoding walks these bytes through an automaton):
 *   - ByteLevel: GPT-2's byte alphabet back to bytes (characters outside it as their UTF-8);
 *   - Replace (string pattern) and Metaspace: "▁" back to a space, so "▁the" gives " the";
 *   - ByteFallback: "<0xNN>" is the byte NN;
 *   - WordPiece: a "##" piece continues the word, any other piece starts one. The piece is
 *     given a leading space: an approximation, since the decoder's cleanup then removes the
 *     space before punctuation ("hello ," decodes to "hello,");
 *   - BPEDecoder (end-of-word suffix such as "</w>"): the suffix becomes a space;
 *   - Fuse and Strip only act on the whole text, not on one token: the leading space that a
 *     Strip decoder or Metaspace's prepend scheme removes from the start of the text stays.
 * Special added tokens and the model's unknown token give null: they are not text.
 */
import { TokenizerError } from "../errors";
import { byteLevelToBin } from "./byte-level";
import { binToBytes, byteOfPiece, utf8ToBin } from "./bytes";

type Json = Record<string, unknown>;

/** One token string to its byte string (chars 0..255). */
type PieceToBin = (piece: string) => string;

function asList(decoder: unknown): Json[] {
  if (decoder === null || decoder === undefined) return [];
  const d = decoder as Json;
  return d.type === "Sequence" && Array.isArray(d.decoders) ? (d.decoders as Json[]) : [d];
}

/** ByteLevel text to bytes; a character outside the alphabet stays as its UTF-8 (as the HF decoder does). */
function byteLevelPiece(piece: string): string {
  const whole = byteLevelToBin(piece);
  if (whole !== undefined) return whole;
  let out = "";
  for (const ch of piece) out += byteLevelToBin(ch) ?? utf8ToBin(ch);
  return out;
}

/** The per-token part of a tokenizer.json decoder, or a TokenizerError naming what is not supported. */
export function pieceDecoder(decoder: unknown): PieceToBin {
  const steps: ((s: string) => string)[] = [];
  let byteLevel = false;
  let byteFallback = false;
  let wordPiecePrefix: string | undefined;
  for (const d of asList(decoder)) {
    switch (d.type) {
      case "ByteLevel":
        byteLevel = true;
        break;
      case "ByteFallback":
        byteFallback = true;
        break;
      case "Replace": {
        const pattern = (d.pattern as Json | undefined)?.String;
        if (typeof pattern !== "string" || typeof d.content !== "string")
          throw new TokenizerError("tokenBytes: a Replace decoder with a regex pattern is not supported");
        const content = d.content;
        steps.push((s) => s.replaceAll(pattern, content));
        break;
      }
      case "Metaspace": {
        const mark = typeof d.replacement === "string" ? d.replacement : "\u2581";
        steps.push((s) => s.replaceAll(mark, " "));
        break;
      }
      case "WordPiece":
        wordPiecePrefix = typeof d.prefix === "string" ? d.prefix : "##";
        break;
      case "BPEDecoder": {
        const suffix = typeof d.suffix === "string" ? d.suffix : "</w>";
        steps.push((s) => (s.endsWith(suffix) ? `${s.slice(0, -suffix.length)} ` : s));
        break;
      }
      // whole-text decoders: nothing per token
      case "Fuse":
      case "Strip":
        break;
      default:
        throw new TokenizerError(`tokenBytes: the ${String(d.type)} decoder is not supported`);
    }
  }
  const prefix = wordPiecePrefix;
  return (piece) => {
    if (byteLevel) return byteLevelPiece(piece);
    if (byteFallback) {
      const b = byteOfPiece(piece);
      if (b >= 0) return String.fromCharCode(b);
    }
    let s = piece;
    if (prefix !== undefined) s = s.startsWith(prefix) ? s.slice(prefix.length) : ` ${s}`;
    for (const step of steps) s = step(s);
    return utf8ToBin(s);
  };
}

/**
 * tokenBytes for a tokenizer.json: the table is built on the first call (tens of thousands of
 * ids), so tokenizers that never constrain decoding pay nothing.
 */
export class HfTokenBytes {
  private table: (Uint8Array | null)[] | undefined;

  constructor(
    private readonly json: Json,
    private readonly vocabSize: number,
    private readonly idToToken: (id: number) => string | undefined,
  ) {}

  get(id: number): Uint8Array | null {
    this.table ??= this.build();
    const b = this.table[id];
    // a copy: callers may keep or change it
    return b === null ? null : b.slice();
  }

  private build(): (Uint8Array | null)[] {
    const decode = pieceDecoder(this.json.decoder);
    const table = new Array<Uint8Array | null>(this.vocabSize).fill(null);
    const added = new Map<number, Json>();
    for (const a of (this.json.added_tokens as Json[] | undefined) ?? []) if (typeof a.id === "number") added.set(a.id, a);
    const model = (this.json.model ?? {}) as Json;
    const unk = typeof model.unk_token === "string" ? model.unk_token : undefined;
    for (let id = 0; id < this.vocabSize; id++) {
      const a = added.get(id);
      if (a) {
        // added tokens decode to their content as written; special ones are left out of text
        table[id] = a.special === true || typeof a.content !== "string" ? null : binToBytes(utf8ToBin(a.content));
        continue;
      }
      const piece = this.idToToken(id);
      if (piece === undefined || piece === unk) continue;
      table[id] = binToBytes(decode(piece));
    }
    return table;
  }
}
