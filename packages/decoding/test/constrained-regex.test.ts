/**
 * The regex engine of constraints: whole-text matching of the byte DFA against JavaScript's
 * RegExp (`u` flag) on random strings and on strings the automaton itself generates, and the
 * ConstraintError for malformed, unsupported and empty patterns.
 */
import { describe, expect, it } from "vitest";
import { type ByteDfa, compileRegex, parseRegex } from "../src/constrained/index";
import { printRegex } from "../src/constrained/regex-print";
import { ConstraintError } from "../src/errors";
import { type Rng, seededRng } from "../src/rng";

const PATTERNS = [
  "abc",
  "a|b|c",
  "a*b+c?",
  "(ab|cd){2,4}",
  "[a-z]{3}\\d+",
  "[^abc]+",
  ".*x",
  "\\w+@\\w+\\.com",
  "\\s*\\S+\\s*",
  "(?:foo|bar)?baz",
  "colou?r",
  "[\\u00e0-\\u00ff]+",
  "é+|😀{2}",
  "[😀-😂]x",
  "a{0}b",
  "(a|)+",
  "(?:a*)*b",
  "[\\d\\-x]+",
  "\\x41\\u0042\\u{1F600}",
  "[.]+\\.",
  "\\t\\n\\r",
  "[^\\n]*",
  "\\D\\W",
  "(?<name>ab)c",
  "[\\]\\[]+",
  "(a|ab)(c|bcd)",
  "x{2,}?",
  "[\\s\\S]?",
  "\\/\\\\",
  "^ab$|^cd$",
  "[^\\x00-\\x7f]{1,3}",
  "\\uD83D\\uDE00+",
  "(?:[中文]|\\d){2,3}",
  "\\cJ\\0",
  "[\\w\\s]{2}\\S",
];

const EXTRA_CHARS = ["a", "b", "x", "0", "5", " ", "\n", "\t", ".", "-", "é", "ÿ", "中", "😀", "😁", "\u2028", "\u00a0", "@", "\\", "/", "[", "]"];

function alphabetOf(pattern: string): string[] {
  const own = [...pattern].filter((c) => !"\\()[]{}|*+?^$".includes(c));
  return [...new Set([...own, ...EXTRA_CHARS])];
}

function randomString(alphabet: string[], rng: Rng): string {
  const n = Math.floor(rng() * 9);
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rng() * alphabet.length)];
  return s;
}

/** A random accepted text: walk the DFA over random allowed bytes, stopping at accepting states now and then. */
function randomMatch(dfa: ByteDfa, rng: Rng): string | null {
  const bytes: number[] = [];
  let s = dfa.start;
  for (let i = 0; i < 48; i++) {
    if (dfa.isAccepting(s) && (rng() < 0.3 || !dfa.hasTransitions(s)))
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes));
    const next = dfa.nextBytes(s);
    const b = next[Math.floor(rng() * next.length)];
    bytes.push(b);
    s = dfa.step(s, b);
  }
  return null;
}

describe("regex DFA against JavaScript RegExp (u flag), whole-text match", () => {
  it.each(PATTERNS)("%s", (pattern) => {
    const dfa = compileRegex(pattern);
    const re = new RegExp(`^(?:${pattern})$`, "u");
    const rng = seededRng(7);
    const alphabet = alphabetOf(pattern);
    let positives = 0;
    for (let i = 0; i < 400; i++) {
      const s = randomString(alphabet, rng);
      expect(dfa.matches(s), JSON.stringify(s)).toBe(re.test(s));
    }
    for (let i = 0; i < 150; i++) {
      const s = randomMatch(dfa, rng);
      if (s === null) continue;
      positives++;
      expect(re.test(s), `generated ${JSON.stringify(s)}`).toBe(true);
    }
    expect(positives).toBeGreaterThan(0);
    // printing the parsed tree gives an equivalent pattern
    const printed = compileRegex(printRegex(parseRegex(pattern)));
    for (let i = 0; i < 100; i++) {
      const s = randomString(alphabet, rng);
      expect(printed.matches(s), JSON.stringify(s)).toBe(re.test(s));
    }
  });

  it("reads bytes: a character split over two steps keeps a partial state, and invalid UTF-8 is dead", () => {
    const dfa = compileRegex("é+");
    const [c3, a9] = new TextEncoder().encode("é");
    const mid = dfa.step(dfa.start, c3);
    expect(mid).toBeGreaterThanOrEqual(0);
    expect(dfa.isAccepting(mid)).toBe(false);
    expect(dfa.isAccepting(dfa.step(mid, a9))).toBe(true);
    expect(dfa.step(mid, 0x41)).toBe(-1);
    // a negated class never admits a lone continuation byte or an overlong form
    const any = compileRegex("[^a]");
    expect(any.walk(any.start, Uint8Array.of(0x80))).toBe(-1);
    expect(any.walk(any.start, Uint8Array.of(0xc0, 0x80))).toBe(-1);
    expect(any.walk(any.start, Uint8Array.of(0xed, 0xa0, 0x80))).toBe(-1);
    expect(any.matches(Uint8Array.of(0xf4, 0x8f, 0xbf, 0xbf))).toBe(true);
    expect(any.walk(any.start, Uint8Array.of(0xf4, 0x90))).toBe(-1);
  });

  it("is minimal: equivalent patterns give automata of the same size", () => {
    expect(compileRegex("(a|b)*abb").size).toBe(4);
    expect(compileRegex("(?:a|b)*a(?:a|b)(?:a|b)").size).toBe(8);
    expect(compileRegex("a{3}").size).toBe(compileRegex("aaa").size);
    expect(compileRegex("(?:x|x|x)+").size).toBe(compileRegex("x+").size);
  });
});

describe("regex errors: a ConstraintError naming what is wrong and where", () => {
  it.each([
    ["a(?=b)", /lookaround assertions are not supported at position 1/],
    ["a(?<!b)", /lookaround assertions are not supported at position 1/],
    ["(a)\\1", /backreference \\1 is not supported at position 3/],
    ["(?<x>a)\\k<x>", /backreferences are not supported/],
    ["\\bword", /word boundary \\b is not supported at position 0/],
    ["(ab", /unterminated group '\(' at position 0/],
    ["ab)", /unmatched '\)' at position 2/],
    ["[abc", /unterminated character class '\[' at position 0/],
    ["*a", /nothing to repeat at position 0/],
    ["a**", /nothing to repeat at position 2/],
    ["a{3,2}", /quantifier \{3,2\} has its numbers out of order/],
    ["[z-a]", /character class range out of order at position 1/],
    ["[\\d-z]", /class escape such as \\d cannot be a range end/],
    ["\\p{L}", /Unicode property escapes/],
    ["a{2000}", /repetition counts above 1000 are not supported/],
    ["\\q", /invalid escape \\q at position 0/],
    ["a^b", /'\^' is only supported at the start/],
    ["a$b", /'\$' is only supported at the end/],
    ["a{", /incomplete quantifier/],
    ["}", /lone '}'/],
    ["\\", /pattern ends with a backslash/],
    ["\\u{110000}", /invalid \\u\{...\} escape/],
    ["(?x)", /invalid group syntax/],
  ])("%s", (pattern, message) => {
    expect(() => compileRegex(pattern)).toThrow(ConstraintError);
    expect(() => compileRegex(pattern)).toThrow(message);
    expect(() => compileRegex(pattern)).toThrow(`regex ${JSON.stringify(pattern)}`);
  });

  it.each(["[^\\s\\S]", "a[]b", "(?:[^\\w\\W])+", "[^\\u{0}-\\u{10FFFF}]"])("%s matches no string", (pattern) => {
    expect(() => compileRegex(pattern)).toThrow(ConstraintError);
    expect(() => compileRegex(pattern)).toThrow(/matches no string/);
  });

  it("refuses a pattern whose automaton is too large", () => {
    expect(() => compileRegex("(?:(?:a|b){1000}){1000}")).toThrow(/too large/);
  });
});
