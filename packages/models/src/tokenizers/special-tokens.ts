/**
 * Finds special tokens written in the input text, the way llama.cpp's tokenizer_st_partition
 * does: each special text, longest first, splits every text fragment that still contains it.
 * The remaining text fragments are tokenized normally.
 */
export type Fragment = string | number;

export class SpecialTokenSplitter {
  private readonly entries: { text: string; id: number }[];

  constructor(entries: Iterable<{ text: string; id: number }>) {
    const seen = new Set<string>();
    this.entries = [];
    for (const e of entries) {
      // an empty text would match everywhere; a duplicate text keeps its first id
      if (e.text.length === 0 || seen.has(e.text)) continue;
      seen.add(e.text);
      this.entries.push(e);
    }
    // longest first, so that "<|im_start|>" wins over a shorter special inside it
    this.entries.sort((a, b) => b.text.length - a.text.length);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Text fragments (strings, never empty) and special-token ids, in order. */
  split(text: string): Fragment[] {
    let frags: Fragment[] = text.length > 0 ? [text] : [];
    for (const { text: special, id } of this.entries) {
      if (!text.includes(special)) continue;
      const next: Fragment[] = [];
      for (const f of frags) {
        if (typeof f === "number" || !f.includes(special)) {
          next.push(f);
          continue;
        }
        let from = 0;
        for (let at = f.indexOf(special); at >= 0; at = f.indexOf(special, from)) {
          if (at > from) next.push(f.slice(from, at));
          next.push(id);
          from = at + special.length;
        }
        if (from < f.length) next.push(f.slice(from));
      }
      frags = next;
    }
    return frags;
  }
}
