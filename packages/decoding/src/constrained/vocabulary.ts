/**
 * The tokenizer's vocabulary as bytes, in a trie, for walking through a byte DFA. The trie is
 * stored in preorder (each node knows its parent and where its subtree ends), so the allowed
 * set of one automaton state is a single left-to-right pass: a shared prefix is stepped once,
 * and a dead prefix skips its whole subtree.
 */
import type { Tokenizer } from "@edgespec/models";
import { ConstraintError } from "../errors";
import type { ByteDfa } from "./dfa";

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Vocabularies already built, by tokenizer and EOS list (a trie of 128k tokens takes a while). */
const built = new WeakMap<Tokenizer, Map<string, Vocabulary>>();

export class Vocabulary {
  readonly size: number;
  /** 1 for end-of-generation ids */
  readonly isEos: Uint8Array;
  /** 1 for ids that some state may allow: text tokens with at least one byte, and EOS ids */
  readonly candidate: Uint8Array;
  private readonly bytes: (Uint8Array | null)[];
  private readonly nodeByte: Uint8Array;
  private readonly parent: Int32Array;
  /** index just past the node's subtree */
  private readonly end: Int32Array;
  /** ids whose bytes end at node i: termIds[termStart[i] .. termStart[i + 1]) */
  private readonly termStart: Int32Array;
  private readonly termIds: Int32Array;
  private readonly scratch: Int32Array;

  constructor(bytes: (Uint8Array | null)[], eosIds: readonly number[]) {
    const n = bytes.length;
    this.size = n;
    this.bytes = bytes;
    this.isEos = new Uint8Array(n);
    for (const id of eosIds) {
      if (!Number.isInteger(id) || id < 0 || id >= n) throw new ConstraintError(`EOS id ${id} is outside the vocabulary (0..${n - 1})`);
      this.isEos[id] = 1;
    }
    this.candidate = new Uint8Array(n);
    const text: number[] = [];
    for (let id = 0; id < n; id++) {
      const b = bytes[id];
      // EOS ids end the text whatever their bytes; empty tokens would add nothing and could repeat forever
      if (this.isEos[id]) this.candidate[id] = 1;
      else if (b && b.length > 0) {
        this.candidate[id] = 1;
        text.push(id);
      }
    }
    text.sort((a, b) => compareBytes(bytes[a] as Uint8Array, bytes[b] as Uint8Array));

    const nodeByte: number[] = [0];
    const parent: number[] = [-1];
    const end: number[] = [0];
    const termNode = new Int32Array(text.length);
    const path = [0];
    let prev: Uint8Array = new Uint8Array(0);
    text.forEach((id, k) => {
      const b = bytes[id] as Uint8Array;
      let l = 0;
      while (l < prev.length && l < b.length && prev[l] === b[l]) l++;
      // sorted order: the previous path's nodes deeper than the common prefix are complete
      for (let d = path.length - 1; d > l; d--) end[path[d]] = nodeByte.length;
      path.length = l + 1;
      for (let d = l; d < b.length; d++) {
        path.push(nodeByte.length);
        nodeByte.push(b[d]);
        parent.push(path[d]);
        end.push(0);
      }
      termNode[k] = path[b.length];
      prev = b;
    });
    for (const node of path) end[node] = nodeByte.length;
    const nodes = nodeByte.length;
    this.nodeByte = Uint8Array.from(nodeByte);
    this.parent = Int32Array.from(parent);
    this.end = Int32Array.from(end);
    this.termStart = new Int32Array(nodes + 1);
    for (const node of termNode) this.termStart[node + 1]++;
    for (let i = 0; i < nodes; i++) this.termStart[i + 1] += this.termStart[i];
    this.termIds = new Int32Array(text.length);
    const fill = this.termStart.slice(0, nodes);
    text.forEach((id, k) => {
      this.termIds[fill[termNode[k]]++] = id;
    });
    this.scratch = new Int32Array(nodes);
  }

  /** The vocabulary of a tokenizer that implements tokenBytes; built once per tokenizer and EOS list. */
  static fromTokenizer(tokenizer: Tokenizer, eosIds: readonly number[] = tokenizer.eosIds): Vocabulary {
    const key = eosIds.join(",");
    let byEos = built.get(tokenizer);
    const cached = byEos?.get(key);
    if (cached) return cached;
    const tokenBytes = tokenizer.tokenBytes?.bind(tokenizer);
    if (!tokenBytes) throw new ConstraintError("this tokenizer does not implement tokenBytes(), which constrained decoding needs");
    const bytes: (Uint8Array | null)[] = [];
    for (let id = 0; id < tokenizer.vocabSize; id++) bytes.push(tokenBytes(id));
    const vocab = new Vocabulary(bytes, eosIds);
    if (!byEos) built.set(tokenizer, (byEos = new Map()));
    byEos.set(key, vocab);
    return vocab;
  }

  /** The token's bytes (null: special, never text). */
  tokenBytes(id: number): Uint8Array | null {
    return this.bytes[id];
  }

  /** 1 for every byte that occurs in some text token */
  alphabet(): Uint8Array {
    const a = new Uint8Array(256);
    for (let i = 1; i < this.nodeByte.length; i++) a[this.nodeByte[i]] = 1;
    return a;
  }

  /** Number of trie nodes (for tests and stats). */
  get nodes(): number {
    return this.nodeByte.length;
  }

  /** Sets out[id] = 1 for every text token that `state` allows; returns how many. */
  allowed(dfa: ByteDfa, state: number, out: Uint8Array): number {
    return this.walk(dfa, state, out, false);
  }

  /** Whether `state` allows at least one text token (stops at the first). */
  anyAllowed(dfa: ByteDfa, state: number): boolean {
    return this.walk(dfa, state, null, true) > 0;
  }

  private walk(dfa: ByteDfa, state: number, out: Uint8Array | null, firstOnly: boolean): number {
    const { nodeByte, parent, end, termStart, termIds } = this;
    const st = this.scratch;
    const nodes = nodeByte.length;
    st[0] = state;
    let count = 0;
    for (let i = 1; i < nodes; ) {
      const s = dfa.step(st[parent[i]], nodeByte[i]);
      if (s < 0) {
        i = end[i];
        continue;
      }
      st[i] = s;
      const t1 = termStart[i + 1];
      if (t1 > termStart[i]) {
        if (firstOnly) return 1;
        if (out) for (let t = termStart[i]; t < t1; t++) out[termIds[t]] = 1;
        count += t1 - termStart[i];
      }
      i++;
    }
    return count;
  }
}
