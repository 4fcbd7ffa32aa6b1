/**
 * Incremental detokenization for streamed generation. Decoding ids one at a time is wrong in
 * three ways: a character split over byte tokens would come out as U+FFFD halves, SentencePiece
 * decoders drop the leading space of whatever they decode first, and some decoders (BERT
 * cleanup) look at neighbouring tokens. So we decode a short window that starts a few tokens
 * back, and emit only what it adds to the text already emitted from that window. Text that
 * ends in U+FFFD is held back until the character completes (or flush()).
 *
 * Works with any Tokenizer: it relies only on decode(). Limitation: Hugging Face clean-up
 * rules that remove a space already emitted with an earlier token (" ' " → "'", " n't") are
 * not applied across pushes; no tokenizer of a causal model here enables them.
 */
import type { Tokenizer } from "./types";

/** Tokens of context kept before the new ones: enough for a 4-byte character in byte tokens. */
const CONTEXT = 4;

export class TextStream {
  private readonly ids: number[];
  /** the window is ids[anchor..]; it starts on a token that decodes to text */
  private anchor: number;
  /** ids before this index are emitted (or were the prompt) */
  private emittedTo: number;
  /** decode(ids[anchor..emittedTo]): the part of the window's text already accounted for */
  private done: string;

  constructor(
    private readonly tokenizer: Tokenizer,
    promptIds: readonly number[] = [],
    private readonly opts: { skipSpecial?: boolean } = {},
  ) {
    this.ids = [...promptIds];
    this.anchor = Math.max(0, this.ids.length - CONTEXT);
    this.emittedTo = this.ids.length;
    this.done = this.decode(this.anchor, this.emittedTo);
  }

  /** The text that token `id` completes ("" while a character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.anchor, this.ids.length);
    if (text.endsWith("\uFFFD")) return "";
    return this.emit(text);
  }

  /** Whatever is held back (an incomplete character comes out as U+FFFD). */
  flush(): string {
    if (this.emittedTo === this.ids.length) return "";
    return this.emit(this.decode(this.anchor, this.ids.length));
  }

  private emit(text: string): string {
    let common = 0;
    if (text.startsWith(this.done)) common = this.done.length;
    else {
      // the window's earlier text changed (a prompt that ended inside a character): emit from where they differ
      const n = Math.min(text.length, this.done.length);
      while (common < n && text.charCodeAt(common) === this.done.charCodeAt(common)) common++;
    }
    const out = text.slice(common);
    // Move the window forward to the tokens just emitted, unless they decode to nothing
    // (special tokens): a window must start on text, or SentencePiece decoders would strip
    // the leading space of what follows.
    const newDone = this.decode(this.emittedTo, this.ids.length);
    if (newDone.length > 0 && !newDone.startsWith("\uFFFD")) {
      this.anchor = Math.max(this.emittedTo, this.ids.length - CONTEXT);
      this.done = this.decode(this.anchor, this.ids.length);
    } else {
      this.done = text;
    }
    this.emittedTo = this.ids.length;
    return out;
  }

  private decode(from: number, to: number): string {
    return from >= to ? "" : this.tokenizer.decode(this.ids.slice(from, to), { skipSpecial: this.opts.skipSpecial ?? true });
  }
}
