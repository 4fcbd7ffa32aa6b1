/**
 * llama2.c tokenizers (tokenizer.bin): stories260K's and aidreams260K's tok512.bin and the
 * Llama 2 export. SpmTokenizer is checked against a transcription of llama2.c's own encode()
 * (quadratic, greedy, straight from run.c's description) on random texts, and against the
 * llama2.c decode rules.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ModelFormatError } from "../src/errors";
import { SpmTokenizer } from "../src/tokenizers/index";
import { sharedDir } from "./shared";

const tok512Path = () => sharedDir("models", "stories260K", "tok512.bin");

/** The raw llama2.c vocabulary: pieces exactly as stored (spaces, "\n<s>\n"). */
function rawVocab(bytes: Uint8Array): { pieces: string[]; scores: number[] } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pieces: string[] = [];
  const scores: number[] = [];
  for (let p = 4; p < bytes.length; ) {
    scores.push(dv.getFloat32(p, true));
    const n = dv.getInt32(p + 4, true);
    pieces.push(new TextDecoder().decode(bytes.subarray(p + 8, p + 8 + n)));
    p += 8 + n;
  }
  return { pieces, scores };
}

/**
 * llama2.c's encode(bos=0, eos=0): a " " token first for non-empty text, each code point
 * looked up (else its bytes as ids byte+3), then repeatedly merge the adjacent pair whose
 * concatenation is in the vocabulary with the highest score (first one on ties).
 */
function llama2cEncode(vocab: { pieces: string[]; scores: number[] }, text: string): number[] {
  const lookup = new Map<string, number>();
  vocab.pieces.forEach((p, i) => {
    if (!lookup.has(p)) lookup.set(p, i);
  });
  const tokens: number[] = [];
  if (text !== "") tokens.push(lookup.get(" ") as number);
  for (const ch of text) {
    const id = lookup.get(ch);
    if (id !== undefined) tokens.push(id);
    else for (const b of new TextEncoder().encode(ch)) tokens.push(b + 3);
  }
  for (;;) {
    let best = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const id = lookup.get(vocab.pieces[tokens[i]] + vocab.pieces[tokens[i + 1]]);
      if (id !== undefined && vocab.scores[id] > best) [best, bestId, bestIdx] = [vocab.scores[id], id, i];
    }
    if (bestIdx < 0) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

/** Deterministic text mixing words, spaces, newlines, accents, CJK, emoji and punctuation. */
function randomTexts(count: number, seed: number): string[] {
  let s = seed >>> 0;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
  const atoms = [
    " ",
    "  ",
    "\n",
    "\t",
    "the",
    "The",
    " cat",
    "Lily",
    "'s",
    "ran",
    "é",
    "naïve",
    "中文",
    "😀",
    "🦙",
    ".",
    ",",
    "!",
    "?",
    "123",
    "x",
    "q",
    "zz",
    "ß",
    "—",
    "\u00a0",
  ];
  return Array.from({ length: count }, () => Array.from({ length: 1 + rnd(12) }, () => atoms[rnd(atoms.length)]).join(""));
}

describe("stories260K tok512.bin", () => {
  const bytes = readFileSync(tok512Path());
  const tok = SpmTokenizer.fromLlama2c(bytes, 512, "tok512.bin");
  const raw = rawVocab(bytes);

  it("reads 512 pieces with llama2.c's fixed specials", () => {
    expect([tok.vocabSize, tok.bosId, tok.eosIds, tok.addBos]).toEqual([512, 1, [2], true]);
    expect([tok.piece(0), tok.piece(1), tok.piece(2), tok.piece(3), tok.piece(258)]).toEqual(["<unk>", "<s>", "</s>", "<0x00>", "<0xFF>"]);
    // llama2.c wrote "▁" as a space; the vocabulary is given back its SentencePiece spelling
    expect(tok.piece(259)).toBe("\u2581t");
    expect(raw.pieces[259]).toBe(" t");
  });

  it("encodes like llama2.c's encode() on 400 random texts", () => {
    for (const text of randomTexts(400, 1)) expect(tok.encode(text), JSON.stringify(text)).toEqual(llama2cEncode(raw, text));
  });

  it("round-trips text, byte-fallback characters included", () => {
    for (const text of [...randomTexts(200, 2), "Once upon a time", " leading space", "trailing  ", "a\n\nb", "€ 🙂 ЖЖ"]) {
      expect(tok.decode([1, ...tok.encode(text)]), JSON.stringify(text)).toBe(text);
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it("decodes as llama2.c: the first piece after BOS loses its leading space, <0xNN> pieces are raw bytes", () => {
    const once = tok.encode("Once");
    expect(tok.piece(once[0]).startsWith("\u2581")).toBe(true);
    expect(tok.decode([1, ...once])).toBe("Once");
    // without the BOS rule it would be " Once": the space exists only in the middle of a text
    expect(tok.decode([1, ...once, ...once])).toBe("Once Once");
    const e = tok.encode("中").filter((id) => tok.piece(id) !== "\u2581");
    expect(e.map((id) => tok.piece(id))).toEqual(["<0xE4>", "<0xB8>", "<0xAD>"]);
    expect(tok.decode(e)).toBe("中");
    // part of a character decodes to U+FFFD, never to a wrong character
    expect(tok.decode(e.slice(0, 2))).toBe("\uFFFD");
    // specials: skipped by default, their text otherwise
    expect(tok.decode([1, ...once, 2])).toBe("Once");
    expect(tok.decode([1, ...once, 2], { skipSpecial: false })).toBe("<s>Once</s>");
  });

  it("reproduces the published stories260K greedy text from its ids", () => {
    const want = readFileSync(sharedDir("models", "stories260K", "greedy_ref_256.txt"), "utf8").replace(/\n$/, "");
    const ids = tok.encode(want);
    expect(ids).toEqual(llama2cEncode(raw, want));
    expect(tok.decode([1, ...ids])).toBe(want);
  });

  it("recognises special tokens written in the text", () => {
    expect(tok.encode("<s>Hi</s>")).toEqual([1, ...tok.encode("Hi"), 2]);
  });

  it("rejects ids outside the vocabulary", () => {
    expect(() => tok.decode([512])).toThrow(/token id 512 is outside the vocabulary/);
    expect(() => tok.decode([-1])).toThrow(/outside/);
  });
});

describe("aidreams260K tok512.bin (a different 512-piece vocabulary)", () => {
  it("loads and round-trips", () => {
    const tok = SpmTokenizer.fromLlama2c(readFileSync(sharedDir("models", "aidreams260K", "tok512.bin")), 512, "tok512.bin");
    expect(tok.vocabSize).toBe(512);
    for (const text of randomTexts(100, 3)) expect(tok.decode([1, ...tok.encode(text)])).toBe(text);
  });
});

describe("llama2.c tokenizer.bin errors", () => {
  const bytes = readFileSync(tok512Path());
  const message = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ModelFormatError);
      return (e as Error).message;
    }
    throw new Error("did not throw");
  };

  it("reads the whole file when no vocabulary size is given", () => {
    expect(SpmTokenizer.fromLlama2c(bytes).vocabSize).toBe(512);
  });

  it("says when the model's vocabulary size does not match", () => {
    expect(message(() => SpmTokenizer.fromLlama2c(bytes, 511, "tok512.bin"))).toMatch(/^tok512\.bin: has \d+ bytes after its 511 pieces/);
    expect(message(() => SpmTokenizer.fromLlama2c(bytes, 513, "tok512.bin"))).toMatch(/^tok512\.bin: ends at piece 512 of 513/);
  });

  it("rejects truncated and non-tokenizer files", () => {
    expect(message(() => SpmTokenizer.fromLlama2c(bytes.subarray(0, 1000), 512, "cut.bin"))).toMatch(/^cut\.bin: .*(truncated|corrupt)/);
    expect(message(() => SpmTokenizer.fromLlama2c(new Uint8Array([1, 2]), 512, "tiny.bin"))).toMatch(/too short/);
    const garbage = new Uint8Array(64).fill(0xff);
    expect(message(() => SpmTokenizer.fromLlama2c(garbage, 512, "garbage.bin"))).toMatch(/max_token_length -1 is out of range/);
  });
});

describe("Llama 2 tokenizer.bin", () => {
  it("agrees with llama2.c's encode() on random texts", () => {
    const bytes = readFileSync(sharedDir("tokenizers", "llama2", "tokenizer.bin"));
    const tok = SpmTokenizer.fromLlama2c(bytes, 32000, "tokenizer.bin");
    const raw = rawVocab(bytes);
    for (const text of randomTexts(150, 4)) expect(tok.encode(text), JSON.stringify(text)).toEqual(llama2cEncode(raw, text));
  });
});
