/**
 * Thompson construction from a regex tree to an NFA over bytes: each character set becomes
 * the UTF-8 byte-range chains of its code-point ranges (utf8.ts), so the automaton that the
 * vocabulary walk uses reads token bytes directly, whole characters or not.
 */
import { ConstraintError } from "../errors";
import type { RegexNode } from "./regex";
import { utf8Sequences } from "./utf8";

/** The NFA may not outgrow this; bounded repetition of a big group is the usual cause. */
export const MAX_NFA_STATES = 300_000;

export class ByteNfa {
  /** epsilon successors per state */
  readonly eps: number[][] = [];
  /** byte edges per state, flattened as lo, hi, target */
  readonly edges: number[][] = [];
  readonly start: number;
  readonly accept: number;

  constructor(root: RegexNode) {
    this.start = this.add();
    this.accept = this.build(root, this.start);
  }

  get size(): number {
    return this.eps.length;
  }

  private add(): number {
    if (this.eps.length >= MAX_NFA_STATES) throw new ConstraintError(`the constraint is too large: its automaton needs more than ${MAX_NFA_STATES} NFA states`);
    this.eps.push([]);
    this.edges.push([]);
    return this.eps.length - 1;
  }

  /** Builds `node` starting at state `from`; returns its end state. */
  private build(node: RegexNode, from: number): number {
    switch (node.type) {
      case "set": {
        const to = this.add();
        for (let i = 0; i < node.chars.length; i += 2) {
          for (const seq of utf8Sequences(node.chars[i], node.chars[i + 1])) {
            let cur = from;
            seq.forEach(([lo, hi], k) => {
              const next = k === seq.length - 1 ? to : this.add();
              this.edges[cur].push(lo, hi, next);
              cur = next;
            });
          }
        }
        return to;
      }
      case "concat": {
        let cur = from;
        for (const item of node.items) cur = this.build(item, cur);
        return cur;
      }
      case "alt": {
        const to = this.add();
        for (const item of node.items) this.eps[this.build(item, from)].push(to);
        return to;
      }
      case "repeat": {
        let cur = from;
        for (let i = 0; i < node.min; i++) cur = this.build(node.item, cur);
        if (node.max === Number.POSITIVE_INFINITY) {
          // a loop state: leave it, or go round the item once more
          const loop = this.add();
          this.eps[cur].push(loop);
          this.eps[this.build(node.item, loop)].push(loop);
          return loop;
        }
        const to = this.add();
        for (let i = node.min; i < node.max; i++) {
          this.eps[cur].push(to);
          cur = this.build(node.item, cur);
        }
        this.eps[cur].push(to);
        return to;
      }
    }
  }
}
