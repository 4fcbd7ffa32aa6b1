/**
 * The deterministic byte automaton of a constraint: subset construction from the byte NFA
 * (over byte classes, the byte ranges no edge tells apart), then every state that cannot
 * reach an accepting state is dropped, then Hopcroft minimisation. So any state the walk
 * reaches can still be completed to a match; a transition of -1 means the text is dead.
 */
import { ConstraintError } from "../errors";
import { ByteNfa } from "./nfa";
import { parseRegex, type RegexNode } from "./regex";

/** Subset construction stops here: an explosion of states means the pattern is a bad fit. */
export const MAX_DFA_STATES = 100_000;

export class ByteDfa {
  /** the start state is always 0 */
  readonly start = 0;
  private parents: { from: Int32Array; byte: Int16Array } | undefined;

  constructor(
    /** states */
    readonly size: number,
    /** byte → class */
    readonly classOf: Uint8Array,
    readonly classes: number,
    /** [state * classes + class] → state, or -1 */
    private readonly trans: Int32Array,
    private readonly accepting: Uint8Array,
  ) {}

  step(state: number, byte: number): number {
    return this.trans[state * this.classes + this.classOf[byte]];
  }

  /** The state after `bytes`, or -1 once the text can no longer match. */
  walk(state: number, bytes: Uint8Array): number {
    let s = state;
    for (let i = 0; i < bytes.length && s >= 0; i++) s = this.trans[s * this.classes + this.classOf[bytes[i]]];
    return s;
  }

  isAccepting(state: number): boolean {
    return this.accepting[state] === 1;
  }

  /** Whether any byte can follow (false: the match is complete and nothing may be added). */
  hasTransitions(state: number): boolean {
    for (let c = 0; c < this.classes; c++) if (this.trans[state * this.classes + c] >= 0) return true;
    return false;
  }

  /** The bytes that may come next. */
  nextBytes(state: number): number[] {
    const out: number[] = [];
    for (let b = 0; b < 256; b++) if (this.step(state, b) >= 0) out.push(b);
    return out;
  }

  /**
   * The automaton for texts made of `allowed` bytes only (a vocabulary's alphabet), minimised:
   * states that need a byte no token has become dead. Null if no such text matches.
   */
  restrict(allowed: Uint8Array): ByteDfa | null {
    const k = this.classes + 1;
    // the extra class k - 1 holds the bytes that are not allowed: it leads nowhere
    const classOf = Uint8Array.from(this.classOf, (c, b) => (allowed[b] ? c : this.classes));
    const kept = new Uint8Array(k);
    for (let b = 0; b < 256; b++) if (allowed[b]) kept[this.classOf[b]] = 1;
    const trans = new Int32Array(this.size * k).fill(-1);
    for (let s = 0; s < this.size; s++) for (let c = 0; c < this.classes; c++) if (kept[c]) trans[s * k + c] = this.trans[s * this.classes + c];
    return minimize({ size: this.size, trans, accepting: this.accepting, classOf, classes: k });
  }

  /** Whole-text match. */
  matches(text: string | Uint8Array): boolean {
    const s = this.walk(this.start, typeof text === "string" ? new TextEncoder().encode(text) : text);
    return s >= 0 && this.isAccepting(s);
  }

  /** A shortest byte string from the start to `state` (for error messages). */
  example(state: number): Uint8Array {
    if (!this.parents) {
      const from = new Int32Array(this.size).fill(-1);
      const byte = new Int16Array(this.size).fill(-1);
      const queue = [this.start];
      from[this.start] = this.start;
      for (let q = 0; q < queue.length; q++) {
        const s = queue[q];
        for (let b = 0; b < 256; b++) {
          const t = this.step(s, b);
          if (t >= 0 && from[t] < 0) {
            from[t] = s;
            byte[t] = b;
            queue.push(t);
          }
        }
      }
      this.parents = { from, byte };
    }
    const bytes: number[] = [];
    for (let s = state; s !== this.start && this.parents.byte[s] >= 0; s = this.parents.from[s]) bytes.push(this.parents.byte[s]);
    return Uint8Array.from(bytes.reverse());
  }
}

/** Byte classes: bytes that every NFA edge treats alike share a class. */
function byteClasses(nfa: ByteNfa): { classOf: Uint8Array; classes: number } {
  const boundary = new Uint8Array(257);
  for (const e of nfa.edges) for (let i = 0; i < e.length; i += 3) boundary[e[i]] = boundary[e[i + 1] + 1] = 1;
  const classOf = new Uint8Array(256);
  let c = 0;
  for (let b = 0; b < 256; b++) {
    if (b > 0 && boundary[b]) c++;
    classOf[b] = c;
  }
  return { classOf, classes: c + 1 };
}

function closure(nfa: ByteNfa, seeds: Iterable<number>, seen: Uint32Array, stamp: number): number[] {
  const out: number[] = [];
  const stack: number[] = [];
  for (const s of seeds) {
    if (seen[s] === stamp) continue;
    seen[s] = stamp;
    stack.push(s);
  }
  while (stack.length > 0) {
    const s = stack.pop() as number;
    out.push(s);
    for (const t of nfa.eps[s]) {
      if (seen[t] !== stamp) {
        seen[t] = stamp;
        stack.push(t);
      }
    }
  }
  return out.sort((a, b) => a - b);
}

interface RawDfa {
  size: number;
  trans: Int32Array;
  accepting: Uint8Array;
  classOf: Uint8Array;
  classes: number;
}

function determinize(nfa: ByteNfa): RawDfa {
  const { classOf, classes } = byteClasses(nfa);
  const seen = new Uint32Array(nfa.size);
  let stamp = 0;
  const ids = new Map<string, number>();
  const sets: number[][] = [];
  const trans: number[] = [];
  const intern = (set: number[]): number => {
    const key = set.join(",");
    let id = ids.get(key);
    if (id === undefined) {
      if (sets.length >= MAX_DFA_STATES) throw new ConstraintError(`the constraint is too large: its automaton needs more than ${MAX_DFA_STATES} states`);
      id = sets.length;
      ids.set(key, id);
      sets.push(set);
    }
    return id;
  };
  intern(closure(nfa, [nfa.start], seen, ++stamp));
  const buckets: number[][] = Array.from({ length: classes }, () => []);
  for (let d = 0; d < sets.length; d++) {
    for (const b of buckets) b.length = 0;
    for (const s of sets[d]) {
      const e = nfa.edges[s];
      for (let i = 0; i < e.length; i += 3) for (let c = classOf[e[i]]; c <= classOf[e[i + 1]]; c++) buckets[c].push(e[i + 2]);
    }
    for (let c = 0; c < classes; c++) trans.push(buckets[c].length === 0 ? -1 : intern(closure(nfa, buckets[c], seen, ++stamp)));
  }
  const accepting = Uint8Array.from(sets, (set) => (set.includes(nfa.accept) ? 1 : 0));
  return { size: sets.length, trans: Int32Array.from(trans), accepting, classOf, classes };
}

/** States from which an accepting state is reachable. */
function liveStates(d: RawDfa): Uint8Array {
  const preds: number[][] = Array.from({ length: d.size }, () => []);
  for (let s = 0; s < d.size; s++) for (let c = 0; c < d.classes; c++) if (d.trans[s * d.classes + c] >= 0) preds[d.trans[s * d.classes + c]].push(s);
  const live = new Uint8Array(d.size);
  const stack: number[] = [];
  const visit = (s: number) => {
    if (live[s]) return;
    live[s] = 1;
    stack.push(s);
  };
  for (let s = 0; s < d.size; s++) if (d.accepting[s]) visit(s);
  while (stack.length > 0) for (const p of preds[stack.pop() as number]) visit(p);
  return live;
}

/**
 * Hopcroft's partition refinement on the live states plus one dead sink (index n). Returns the
 * block of every state; equal blocks are equivalent states.
 */
function refine(n: number, k: number, target: (s: number, c: number) => number, accepting: (s: number) => boolean): Int32Array {
  const total = n + 1;
  // predecessors by (target, class), CSR
  const count = new Int32Array(total * k + 1);
  for (let s = 0; s < total; s++) for (let c = 0; c < k; c++) count[target(s, c) * k + c + 1]++;
  for (let i = 1; i < count.length; i++) count[i] += count[i - 1];
  const predStart = count.slice();
  const preds = new Int32Array(total * k);
  const fill = count.slice(0, total * k);
  for (let s = 0; s < total; s++) for (let c = 0; c < k; c++) preds[fill[target(s, c) * k + c]++] = s;

  // blocks as contiguous segments of `elems`; marked members are moved to the segment's front
  const elems = new Int32Array(total);
  const loc = new Int32Array(total);
  const blk = new Int32Array(total);
  const first: number[] = [];
  const past: number[] = [];
  const marked: number[] = [];
  const inWork: boolean[] = [];
  const work: number[] = [];
  let at = 0;
  for (const acc of [true, false]) {
    const b = first.length;
    first.push(at);
    for (let s = 0; s < total; s++) {
      if ((s < n && accepting(s)) === acc) {
        elems[at] = s;
        loc[s] = at++;
        blk[s] = b;
      }
    }
    past.push(at);
    marked.push(0);
    inWork.push(true);
    work.push(b);
  }
  const touched: number[] = [];
  const mark = (s: number) => {
    const b = blk[s];
    const j = first[b] + marked[b];
    if (loc[s] < j) return;
    const other = elems[j];
    elems[loc[s]] = other;
    loc[other] = loc[s];
    elems[j] = s;
    loc[s] = j;
    if (marked[b]++ === 0) touched.push(b);
  };
  while (work.length > 0) {
    const a = work.pop() as number;
    inWork[a] = false;
    const members = elems.slice(first[a], past[a]);
    for (let c = 0; c < k; c++) {
      for (const t of members) for (let i = predStart[t * k + c]; i < predStart[t * k + c + 1]; i++) mark(preds[i]);
      for (const b of touched) {
        const m = marked[b];
        marked[b] = 0;
        if (m === past[b] - first[b]) continue;
        // the marked front part becomes a new block
        const nb = first.length;
        first.push(first[b]);
        past.push(first[b] + m);
        marked.push(0);
        inWork.push(false);
        first[b] += m;
        for (let i = first[nb]; i < past[nb]; i++) blk[elems[i]] = nb;
        const addNew = inWork[b] || m <= past[b] - first[b];
        const pick = addNew ? nb : b;
        inWork[pick] = true;
        work.push(pick);
      }
      touched.length = 0;
    }
  }
  return blk;
}

function minimize(d: RawDfa): ByteDfa | null {
  const live = liveStates(d);
  if (!live[0]) return null;
  const liveIds: number[] = [];
  const index = new Int32Array(d.size).fill(-1);
  for (let s = 0; s < d.size; s++) if (live[s]) index[s] = liveIds.push(s) - 1;
  const n = liveIds.length;
  const k = d.classes;
  const target = (s: number, c: number) => {
    if (s === n) return n;
    const t = d.trans[liveIds[s] * k + c];
    return t >= 0 && index[t] >= 0 ? index[t] : n;
  };
  const blk = refine(n, k, target, (s) => d.accepting[liveIds[s]] === 1);
  // number the blocks breadth-first from the start; the dead sink's block is -1
  const dead = blk[n];
  const order = new Map<number, number>([[blk[0], 0]]);
  const rep: number[] = [0];
  const trans: number[] = [];
  for (let q = 0; q < rep.length; q++) {
    for (let c = 0; c < k; c++) {
      const t = target(rep[q], c);
      const b = blk[t];
      if (b === dead) {
        trans.push(-1);
        continue;
      }
      let id = order.get(b);
      if (id === undefined) {
        id = rep.push(t) - 1;
        order.set(b, id);
      }
      trans.push(id);
    }
  }
  const accepting = Uint8Array.from(rep, (s) => d.accepting[liveIds[s]]);
  return new ByteDfa(rep.length, d.classOf, k, Int32Array.from(trans), accepting);
}

/** The minimal byte DFA of a regex tree, or null when no string matches. */
export function dfaFromTree(root: RegexNode): ByteDfa | null {
  return minimize(determinize(new ByteNfa(root)));
}

/** Compiles a regex (whole-text match); a ConstraintError if it is malformed, unsupported or matches nothing. */
export function compileRegex(pattern: string): ByteDfa {
  const dfa = dfaFromTree(parseRegex(pattern));
  if (!dfa) throw new ConstraintError(`regex ${JSON.stringify(pattern)} matches no string`);
  return dfa;
}
