import type { Tokenizer } from "@edgespec/models";

/** A tokenizer made of byte strings; null entries are special tokens. Enough for constraints. */
export class BytesTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId = null;
  readonly addBos = false;
  constructor(
    private readonly pieces: (number[] | string | null)[],
    readonly eosIds: readonly number[],
  ) {
    this.vocabSize = pieces.length;
  }
  encode(): number[] {
    throw new Error("not needed");
  }
  decode(): string {
    throw new Error("not needed");
  }
  tokenBytes(id: number): Uint8Array | null {
    const p = this.pieces[id];
    if (p === null) return null;
    return typeof p === "string" ? new TextEncoder().encode(p) : Uint8Array.from(p);
  }
}
