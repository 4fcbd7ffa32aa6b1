/**
 * A regular-expression parser for constraints. The syntax and meaning are JavaScript's
 * RegExp with the `u` flag, restricted to what a finite automaton can do: literals and
 * escapes, classes, `.`, groups, alternation and greedy or lazy quantifiers. The whole output
 * must match, so `^` at the start of a top-level alternative and `$` at its end are accepted
 * and change nothing. Backreferences, lookaround, word boundaries and property escapes are
 * refused with a ConstraintError that gives the position.
 */
import { ConstraintError } from "../errors";
import { type CharSet, DIGIT, DOT, isEmpty, negate, range, SPACE, single, union, WORD } from "./charset";

export type RegexNode =
  | { readonly type: "set"; readonly chars: CharSet }
  | { readonly type: "concat"; readonly items: readonly RegexNode[] }
  | { readonly type: "alt"; readonly items: readonly RegexNode[] }
  | { readonly type: "repeat"; readonly item: RegexNode; readonly min: number; readonly max: number };

/** Largest {m,n} count: bounded repetition copies the automaton, so the cap keeps it small. */
export const MAX_REPEAT = 1000;

export const EMPTY: RegexNode = { type: "concat", items: [] };

const SYNTAX = new Set([..."^$\\.*+?()[]{}|/"]);

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly src: string) {}

  fail(msg: string, at = this.i): never {
    throw new ConstraintError(`regex ${JSON.stringify(this.src)}: ${msg} at position ${at}`);
  }

  parse(): RegexNode {
    const node = this.alternation();
    if (this.i < this.src.length) this.fail(this.peek() === ")" ? "unmatched ')'" : `unexpected ${JSON.stringify(this.peek())}`);
    return node;
  }

  private peek(): string {
    return this.src[this.i] ?? "";
  }

  private eat(s: string): boolean {
    if (!this.src.startsWith(s, this.i)) return false;
    this.i += s.length;
    return true;
  }

  private alternation(): RegexNode {
    const items = [this.sequence()];
    while (this.eat("|")) items.push(this.sequence());
    return items.length === 1 ? items[0] : { type: "alt", items };
  }

  private sequence(): RegexNode {
    const items: RegexNode[] = [];
    const topLevel = this.depth === 0;
    if (topLevel) this.eat("^");
    while (this.i < this.src.length && this.peek() !== "|" && this.peek() !== ")") {
      if (this.peek() === "$") {
        const next = this.src[this.i + 1];
        if (topLevel && (next === undefined || next === "|")) {
          this.i++;
          break;
        }
        this.fail("'$' is only supported at the end of the pattern (the whole output must match anyway)");
      }
      if (this.peek() === "^") this.fail("'^' is only supported at the start of the pattern (the whole output must match anyway)");
      const atom = this.atom();
      items.push(this.quantified(atom));
    }
    return items.length === 1 ? items[0] : { type: "concat", items };
  }

  private quantified(atom: RegexNode): RegexNode {
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === "*") [min, max] = [0, Number.POSITIVE_INFINITY];
    else if (c === "+") [min, max] = [1, Number.POSITIVE_INFINITY];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) this.fail("incomplete quantifier '{' (write \\{ for a literal brace)");
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Number.POSITIVE_INFINITY : Number(m[3]);
      if (min > max) this.fail(`quantifier {${min},${max}} has its numbers out of order`);
      if (min > MAX_REPEAT || (max !== Number.POSITIVE_INFINITY && max > MAX_REPEAT)) this.fail(`repetition counts above ${MAX_REPEAT} are not supported`);
      this.i += m[0].length - 1;
    } else return atom;
    this.i++;
    // lazy and greedy quantifiers match the same whole strings
    this.eat("?");
    const next = this.peek();
    if (next === "*" || next === "+" || next === "?" || next === "{") this.fail("nothing to repeat", this.i);
    // an empty class repeated zero times still matches the empty string
    if (atom.type === "set" && isEmpty(atom.chars) && min === 0) return EMPTY;
    return { type: "repeat", item: atom, min, max };
  }

  private atom(): RegexNode {
    const at = this.i;
    const c = this.peek();
    switch (c) {
      case "(":
        return this.group();
      case "[":
        return { type: "set", chars: this.charClass() };
      case ".":
        this.i++;
        return { type: "set", chars: DOT };
      case "\\": {
        this.i++;
        const set = this.escape(false);
        return { type: "set", chars: set };
      }
      case "*":
      case "+":
      case "?":
        return this.fail("nothing to repeat", at);
      case "{":
        return this.fail(/^\{\d+(,\d*)?\}/.test(this.src.slice(at)) ? "nothing to repeat" : "lone '{' (write \\{ for a literal brace)", at);
      case "}":
      case "]":
        return this.fail(`lone '${c}' (write \\${c} for the character)`, at);
      default: {
        const cp = this.src.codePointAt(this.i) as number;
        if (cp >= 0xd800 && cp <= 0xdfff) this.fail("lone surrogate in the pattern");
        this.i += cp > 0xffff ? 2 : 1;
        return { type: "set", chars: single(cp) };
      }
    }
  }

  private group(): RegexNode {
    const at = this.i;
    this.i++;
    if (this.eat("?")) {
      if (this.eat(":")) {
        // non-capturing
      } else if (this.eat("=") || this.eat("!") || this.eat("<=") || this.eat("<!")) {
        this.fail("lookaround assertions are not supported", at);
      } else if (this.eat("<")) {
        const m = /^[A-Za-z_$][\w$]*>/.exec(this.src.slice(this.i));
        if (!m) this.fail("invalid group name", this.i);
        this.i += m[0].length;
      } else this.fail("invalid group syntax '(?'", at);
    }
    this.depth++;
    const inner = this.alternation();
    this.depth--;
    if (!this.eat(")")) this.fail("unterminated group '('", at);
    return inner;
  }

  private charClass(): CharSet {
    const at = this.i;
    this.i++;
    const negated = this.eat("^");
    const parts: CharSet[] = [];
    for (;;) {
      if (this.i >= this.src.length) this.fail("unterminated character class '['", at);
      if (this.eat("]")) break;
      const startAt = this.i;
      const lo = this.classAtom();
      if (this.peek() === "-" && this.src[this.i + 1] !== "]" && this.i + 1 < this.src.length) {
        this.i++;
        const hi = this.classAtom();
        if (typeof lo !== "number" || typeof hi !== "number") this.fail("a class escape such as \\d cannot be a range end", startAt);
        if (lo > hi) this.fail("character class range out of order", startAt);
        parts.push(range(lo, hi));
      } else parts.push(typeof lo === "number" ? single(lo) : lo);
    }
    const set = union(...parts);
    return negated ? negate(set) : set;
  }

  /** One class member: a code point, or a set for \d \w \s and their negations. */
  private classAtom(): number | CharSet {
    if (this.eat("\\")) {
      if (this.eat("b")) return 0x08;
      if (this.eat("-")) return 0x2d;
      const isClass = "dDwWsS".includes(this.peek());
      const set = this.escape(true);
      return isClass ? set : set[0];
    }
    const cp = this.src.codePointAt(this.i) as number;
    if (cp >= 0xd800 && cp <= 0xdfff) this.fail("lone surrogate in the pattern");
    this.i += cp > 0xffff ? 2 : 1;
    return cp;
  }

  /** After a backslash: the set it stands for. */
  private escape(inClass: boolean): CharSet {
    const at = this.i - 1;
    const c = this.peek();
    if (c === "") this.fail("pattern ends with a backslash", at);
    this.i++;
    switch (c) {
      case "d":
        return DIGIT;
      case "D":
        return negate(DIGIT);
      case "w":
        return WORD;
      case "W":
        return negate(WORD);
      case "s":
        return SPACE;
      case "S":
        return negate(SPACE);
      case "n":
        return single(0x0a);
      case "r":
        return single(0x0d);
      case "t":
        return single(0x09);
      case "v":
        return single(0x0b);
      case "f":
        return single(0x0c);
      case "0":
        if (/\d/.test(this.peek())) this.fail("octal escapes are not allowed", at);
        return single(0);
      case "c": {
        const l = this.peek();
        if (!/[A-Za-z]/.test(l)) this.fail("invalid control escape \\c", at);
        this.i++;
        return single(l.charCodeAt(0) % 32);
      }
      case "x": {
        const m = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.i));
        if (!m) this.fail("invalid \\x escape (two hex digits needed)", at);
        this.i += 2;
        return single(Number.parseInt(m[0], 16));
      }
      case "u":
        return single(this.unicodeEscape(at));
      case "b":
      case "B":
        return this.fail(`word boundary \\${c} is not supported`, at);
      case "k":
        return this.fail("backreferences are not supported", at);
      case "p":
      case "P":
        return this.fail(`Unicode property escapes \\${c}{...} are not supported`, at);
      default:
        if (c >= "1" && c <= "9") this.fail(`backreference \\${c} is not supported`, at);
        if (SYNTAX.has(c) || (inClass && c === "-")) return single(c.charCodeAt(0));
        return this.fail(`invalid escape \\${c}`, at);
    }
  }

  private unicodeEscape(at: number): number {
    if (this.eat("{")) {
      const m = /^([0-9A-Fa-f]+)\}/.exec(this.src.slice(this.i));
      const cp = m ? Number.parseInt(m[1], 16) : Number.NaN;
      if (!m || cp > 0x10ffff) this.fail("invalid \\u{...} escape", at);
      this.i += m[0].length;
      if (cp >= 0xd800 && cp <= 0xdfff) this.fail("lone surrogate escape", at);
      return cp;
    }
    const hex4 = () => {
      const m = /^[0-9A-Fa-f]{4}/.exec(this.src.slice(this.i));
      if (!m) this.fail("invalid \\u escape (four hex digits needed)", at);
      this.i += 4;
      return Number.parseInt(m[0], 16);
    };
    const u = hex4();
    if (u >= 0xd800 && u <= 0xdbff && /^\\u[dD][c-fC-F][0-9A-Fa-f]{2}/.test(this.src.slice(this.i))) {
      this.i += 2;
      const lo = hex4();
      return 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (u >= 0xd800 && u <= 0xdfff) this.fail("lone surrogate escape", at);
    return u;
  }
}

export function parseRegex(pattern: string): RegexNode {
  return new Parser(pattern).parse();
}
