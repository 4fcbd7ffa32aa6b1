/**
 * TokenConstraint over a vocabulary: trie masks equal token-by-token walks, tokens that split
 * a UTF-8 character, EOS and finishing, dead ends and check counting; and regex-constrained
 * decoding with the real TinyStories-656K model (greedy, masked and AWRS sampling with
 * several seeds), every output matching the regex.
 */
import { readFileSync } from "node:fs";
import { type LoadedModel, SpmTokenizer, type Tokenizer } from "@edgespec/models";
import { beforeAll, describe, expect, it } from "vitest";
import { type ConstraintState, TokenConstraint } from "../src/constrained/index";
import { awrsSample } from "../src/constrained/sample";
import { ConstraintError } from "../src/errors";
import { seededRng } from "../src/rng";
import { BytesTokenizer } from "./bytes-tokenizer";
import { constrainedDecode, type Mode } from "./constrained-decode";
import { loadTinyStories, sharedDir } from "./shared";

// 0: EOS, 1: BOS-like special, then text; "é" is C3 A9, "😀" is F0 9F 98 80
const PIECES: (number[] | string | null)[] = [
  null,
  null,
  "a",
  "b",
  "ab",
  "abc",
  " ",
  "é",
  [0xc3],
  [0xa9],
  [0xf0, 0x9f],
  [0x98, 0x80],
  "😀",
  "",
  "ba",
  "c",
  "1",
  "12",
];
const synthetic = () => new BytesTokenizer(PIECES, [0]);

/** The mask by advancing every token alone (no trie). */
function bruteMask(c: TokenConstraint, state: ConstraintState): Uint8Array {
  return Uint8Array.from({ length: c.vocabSize }, (_, t) => (c.advance(state, t) === null ? 0 : 1));
}

/** The states reachable by text tokens (up to `limit`; the state after EOS left out). */
function reachable(c: TokenConstraint, limit: number): ConstraintState[] {
  const seen = new Set<number>([c.initial()]);
  const queue = [c.initial()];
  for (let q = 0; q < queue.length && queue.length < limit; q++) {
    for (let t = 0; t < c.vocabSize; t++) {
      const next = c.advance(queue[q], t);
      if (next !== null && next >= 0 && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return queue;
}

describe("TokenConstraint on a small byte vocabulary", () => {
  it("the trie mask equals advancing each token, in every reachable state", () => {
    for (const pattern of ["(ab|ba)*c?", "é😀|a+", "[a-c ]{0,6}", "(é|\\d)+ ?", "[^a]*"]) {
      const c = TokenConstraint.regex(pattern, synthetic());
      for (const s of reachable(c, 200)) {
        let m: Uint8Array;
        try {
          m = c.mask(s);
        } catch (e) {
          expect(e).toBeInstanceOf(ConstraintError);
          expect([...bruteMask(c, s)].every((x) => x === 0)).toBe(true);
          continue;
        }
        expect([...m], `${pattern} ${c.describe(s)}`).toEqual([...bruteMask(c, s)]);
      }
    }
  });

  it("tokens that split a character leave a partial state that only its completion continues", () => {
    const c = TokenConstraint.regex("é😀", synthetic());
    const s0 = c.initial();
    const allowed = (s: ConstraintState) => [...c.mask(s).keys()].filter((t) => c.mask(s)[t]);
    expect(allowed(s0)).toEqual([7, 8]);
    const half = c.advance(s0, 8) as ConstraintState;
    expect(allowed(half)).toEqual([9]);
    const e = c.advance(half, 9) as ConstraintState;
    expect(allowed(e)).toEqual([10, 12]);
    const f0 = c.advance(e, 10) as ConstraintState;
    expect(allowed(f0)).toEqual([11]);
    const done = c.advance(f0, 11) as ConstraintState;
    expect(c.isAccepting(done)).toBe(true);
    expect(c.isFinished(done)).toBe(true);
    expect(allowed(done)).toEqual([0]);
    expect(c.text([8, 9, 10, 11])).toBe("é😀");
  });

  it("allows EOS exactly in accepting states; after EOS nothing follows", () => {
    const c = TokenConstraint.regex("a+", synthetic());
    const s0 = c.initial();
    expect(c.allows(s0, 0)).toBe(false);
    const s1 = c.advance(s0, 2) as ConstraintState;
    expect(c.isAccepting(s1)).toBe(true);
    expect(c.isFinished(s1)).toBe(false);
    expect(c.mask(s1)[0]).toBe(1);
    const end = c.advance(s1, 0) as ConstraintState;
    expect(c.isFinished(end)).toBe(true);
    expect(c.allows(end, 2)).toBe(false);
    expect(c.advance(end, 0)).toBeNull();
    expect(() => c.mask(end)).toThrow(/finished \(EOS was generated\)/);
    // special tokens without text and the empty token are never allowed
    expect(c.allows(s1, 1)).toBe(false);
    expect(c.allows(s1, 13)).toBe(false);
  });

  it("counts checks: one per allows(), the vocabulary per uncached mask()", () => {
    const c = TokenConstraint.regex("[ab]+", synthetic());
    expect(c.checks).toBe(0);
    c.allows(c.initial(), 2);
    c.allows(c.initial(), 3);
    expect(c.checks).toBe(2);
    const m = c.mask(c.initial());
    expect(c.checks).toBe(2 + PIECES.length);
    expect(c.mask(c.initial())).toBe(m);
    expect(c.checks).toBe(2 + PIECES.length);
  });

  it("finds dead ends for the vocabulary, before decoding when it can", () => {
    // "b" cannot follow "a" alone: only "bb" has a b, and "abb" does not match
    const tok = new BytesTokenizer(["a", "bb", null], [2]);
    const c = TokenConstraint.regex("ab", tok);
    const a = c.advance(c.initial(), 0) as ConstraintState;
    expect(() => c.mask(a)).toThrow(ConstraintError);
    expect(() => c.mask(a)).toThrow(/no token of this vocabulary can continue the text "a" \(automaton state \d+\): the next byte must be one of "b"/);
    expect(() => awrsSample(c, a, new Float32Array(3), seededRng(1))).toThrow(/can continue the text "a"/);
    // the first token: checked at construction
    expect(() => TokenConstraint.regex("ba", tok)).toThrow(/no token of this vocabulary can start the constrained text: the next byte must be one of "b"/);
    // a byte no token has: found from the vocabulary's alphabet
    expect(() => TokenConstraint.regex("a*c", tok)).toThrow(/gets stuck needing one of "c", which no token contains/);
  });

  it("rejects a tokenizer without tokenBytes, bad ids and bad EOS ids", () => {
    const plain: Tokenizer = { vocabSize: 3, bosId: null, eosIds: [], addBos: false, encode: () => [], decode: () => "" };
    expect(() => TokenConstraint.regex("a", plain)).toThrow(/does not implement tokenBytes/);
    const c = TokenConstraint.regex("a", synthetic());
    expect(() => c.advance(c.initial(), PIECES.length)).toThrow(/token id 18 is outside the vocabulary/);
    expect(() => TokenConstraint.regex("a", synthetic(), { eosIds: [99] })).toThrow(/EOS id 99 is outside/);
  });
});

describe("TokenConstraint on real vocabularies", () => {
  it("Llama 2 SentencePiece (32000 pieces, byte fallback): trie masks equal per-token walks", () => {
    const tok = SpmTokenizer.fromLlama2c(readFileSync(sharedDir("tokenizers", "llama2", "tokenizer.bin")), 32000);
    const c = TokenConstraint.regex("( [a-z]+){1,3}(, é[\\d]{2}|!)", tok);
    const states = reachable(c, 12);
    expect(states.length).toBeGreaterThan(5);
    for (const s of states) expect([...c.mask(s)].join("")).toBe([...bruteMask(c, s)].join(""));
    expect(c.vocab.nodes).toBeLessThan(200_000);
  });
});

describe("regex-constrained decoding with TinyStories-656K: every output matches", () => {
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadTinyStories();
  });

  const decode = (c: TokenConstraint, prompt: string, mode: Mode, seed: number, maxTokens: number) =>
    constrainedDecode(loaded, c, prompt, mode, seed, maxTokens);

  const PATTERNS = [
    "(Lily|Tom|Sue) (went to the (park|shop|zoo)|had a (red|big|small) (ball|dog|cat))\\.",
    "[0-9]{3}-[0-9]{4}",
    "[A-Z][a-z]{2,8}( [a-z]{1,8}){2,5}[.!]",
    'She said, "[A-Za-z ,!]{1,30}"',
  ];
  const RUNS: [Mode, number][] = [
    ["greedy", 0],
    ["mask", 1],
    ["mask", 2],
    ["mask", 3],
    ["awrs", 1],
    ["awrs", 2],
    ["awrs", 3],
  ];
  for (const pattern of PATTERNS) {
    it.each(RUNS)(`${pattern}: %s (seed %i)`, (mode, seed) => {
      const c = TokenConstraint.regex(pattern, loaded.tokenizer);
      const out = decode(c, "Once upon a time,", mode, seed, 80);
      expect(out.finished, out.text).toBe(true);
      expect(new RegExp(`^(?:${pattern})$`, "u").test(out.text), out.text).toBe(true);
    });
  }
});
