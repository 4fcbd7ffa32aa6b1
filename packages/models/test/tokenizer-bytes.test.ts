/**
 * tokenBytes: the bytes each id adds to the decoded text. For every tokenizer family the
 * bytes of an encoded text's ids, concatenated, give back the text's UTF-8, up to the
 * documented conventions: SentencePiece vocabularies keep the space they prepend ("▁the" is
 * " the"), and WordPiece starts every word-initial piece with a space. Texts: llama.cpp's 46
 * tokenizer test inputs (the same intact sources as tokenizer-vectors.test.ts) and the
 * TinyStories / Mistral tokenizer.json files.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TokenizerError } from "../src/errors";
import { binToBytes, utf8ToBin } from "../src/tokenizers/bytes";
import { pieceDecoder } from "../src/tokenizers/hf-token-bytes";
import { BpeTokenizer, HfTokenizer, LLAMA3_TIKTOKEN, QWEN_TIKTOKEN, SpmTokenizer, type Tokenizer, tokenizerFromGguf } from "../src/tokenizers/index";
import { salvageGguf } from "./salvage-gguf";
import { sharedDir } from "./shared";

const SEP = "\n__ggml_vocab_test__\n";

function vectorTexts(name: string): string[] {
  const inp = readFileSync(join(sharedDir("tokenizers", "llama.cpp-vocab"), `ggml-vocab-${name}.gguf.inp`), "utf8");
  return inp.slice(0, -SEP.length).split(SEP);
}

/** llama.cpp's expected ids for each input (the .out file). */
function vectorIds(name: string): number[][] {
  const out = readFileSync(join(sharedDir("tokenizers", "llama.cpp-vocab"), `ggml-vocab-${name}.gguf.out`), "utf8");
  return out
    .slice(0, -1)
    .split("\n")
    .map((l) => (l.trim() === "" ? [] : l.trim().split(" ").map(Number)));
}

const readJson = (...parts: string[]) => JSON.parse(readFileSync(sharedDir(...parts), "utf8"));
const utf8 = (s: string) => new TextEncoder().encode(s);

function concatBytes(tok: Tokenizer, ids: readonly number[]): Uint8Array {
  const parts = ids.map((id) => {
    const b = tok.tokenBytes?.(id);
    if (!b) throw new Error(`id ${id} has no bytes`);
    return b;
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const EXTRA = [
  "Once upon a time, there was a little girl named Lily.",
  "two  spaces\nand a newline",
  "emoji 😀 and 中文 and é",
  "\u00a0nbsp\ttab",
  '{"a": [1, 2.5e-3, true, null]}',
];

describe("tokenBytes: concatenated bytes of encode(text) give the text back", () => {
  const llama2 = () => SpmTokenizer.fromLlama2c(readFileSync(sharedDir("tokenizers", "llama2", "tokenizer.bin")), 32000);
  const llama3 = () => BpeTokenizer.fromTiktoken(readFileSync(sharedDir("tokenizers", "llama3", "tokenizer.model"), "utf8"), LLAMA3_TIKTOKEN);
  const qwen = () => BpeTokenizer.fromTiktoken(readFileSync(sharedDir("tokenizers", "qwen", "qwen.tiktoken"), "utf8"), QWEN_TIKTOKEN);
  const mistral = () =>
    new HfTokenizer(readJson("tokenizers", "mistral-minueza", "tokenizer.json"), readJson("tokenizers", "mistral-minueza", "tokenizer_config.json"));

  // SentencePiece prepends "▁" to a non-empty text; the bytes keep it as a space
  const spaced = (t: string) => (t === "" ? "" : ` ${t}`);
  const cases: [string, () => Tokenizer, string, (t: string) => string][] = [
    ["SPM llama2/tokenizer.bin", llama2, "llama-spm", spaced],
    ["byte-level BPE llama3 tiktoken", llama3, "llama-bpe", (t) => t],
    ["byte-level BPE qwen tiktoken", qwen, "qwen2", (t) => t],
    ["tokenizer.json Mistral (Replace ▁ + ByteFallback)", mistral, "llama-spm", spaced],
  ];
  for (const [name, make, vectors, expected] of cases) {
    it(`${name}: all llama.cpp ${vectors} inputs and a few more`, () => {
      const tok = make();
      for (const text of [...vectorTexts(vectors), ...EXTRA]) {
        expect(concatBytes(tok, tok.encode(text)), JSON.stringify(text)).toEqual(utf8(expected(text)));
      }
    });
  }

  it("TinyStories-656K tokenizer.json (Prepend ▁, no byte tokens): texts within its alphabet", () => {
    const dir = ["models", "tinystories-656k"];
    const tok = new HfTokenizer(readJson(...dir, "tokenizer.json"), readJson(...dir, "tokenizer_config.json"));
    for (const text of ["Once upon a time, there was a little girl named Lily.", "two  spaces\nand a newline", 'She said, "Yes: 42!"', "x"]) {
      expect(concatBytes(tok, tok.encode(text)), text).toEqual(utf8(` ${text}`));
    }
    // this vocabulary puts "▁" at the end of a piece: "ce▁" gives "ce "
    const ce = tok.encode("Once upon")[2];
    expect(tok.token(ce)).toBe("ce\u2581");
    expect(new TextDecoder().decode(tok.tokenBytes(ce) as Uint8Array)).toBe("ce ");
  });

  it("WordPiece (bert-base-uncased tokenizer.json): the words come back, each with a leading space", () => {
    const dir = ["tokenizers", "bert-base-uncased"];
    const tok = new HfTokenizer(readJson(...dir, "tokenizer.json"), readJson(...dir, "tokenizer_config.json"));
    const text = "Hello, World! Tokenization of unaffable words.";
    const ids = tok.encode(text);
    const got = new TextDecoder().decode(concatBytes(tok, ids));
    expect(got).toBe(" hello , world ! token ization of una ff able words .".replace("token ization", "tokenization").replace("una ff able", "unaffable"));
    expect(got.replaceAll(" ", "")).toBe(text.toLowerCase().replaceAll(" ", ""));
  });
});

describe("tokenBytes on llama.cpp's GGUF vocabularies (byte-level BPE, salvaged from the damaged files)", () => {
  it.each(["gpt-2", "starcoder", "deepseek-llm", "falcon"])("%s: llama.cpp's expected ids for its 46 inputs give back their bytes", (name) => {
    const file = `ggml-vocab-${name}.gguf`;
    const md = salvageGguf(readFileSync(join(sharedDir("tokenizers", "llama.cpp-vocab"), file)), file).metadata;
    const tok = tokenizerFromGguf(md, file);
    const texts = vectorTexts(name);
    const ids = vectorIds(name);
    expect(ids.length).toBe(texts.length);
    texts.forEach((text, i) => {
      expect(concatBytes(tok, ids[i]), JSON.stringify(text)).toEqual(utf8(text));
    });
  });
});

describe("tokenBytes: special tokens and ids", () => {
  it("gives null for BOS, EOS, unknown and added special tokens, and throws outside the vocabulary", () => {
    const spm = SpmTokenizer.fromLlama2c(readFileSync(sharedDir("tokenizers", "llama2", "tokenizer.bin")), 32000);
    expect([0, 1, 2].map((id) => spm.tokenBytes(id))).toEqual([null, null, null]);
    // <0x0A> is a byte token
    expect(spm.tokenBytes(13)).toEqual(new Uint8Array([10]));
    expect(() => spm.tokenBytes(32000)).toThrow(TokenizerError);

    const llama3 = BpeTokenizer.fromTiktoken(readFileSync(sharedDir("tokenizers", "llama3", "tokenizer.model"), "utf8"), LLAMA3_TIKTOKEN);
    expect(llama3.tokenBytes(128000)).toBeNull();
    expect(llama3.tokenBytes(128009)).toBeNull();
    // "Ġthe" in GPT-2's alphabet is " the"
    expect(llama3.tokenBytes(279)).toEqual(utf8(" the"));

    const mistral = new HfTokenizer(
      readJson("tokenizers", "mistral-minueza", "tokenizer.json"),
      readJson("tokenizers", "mistral-minueza", "tokenizer_config.json"),
    );
    expect([0, 1, 2, 32000, 32001].map((id) => mistral.tokenBytes(id))).toEqual([null, null, null, null, null]);
    expect(mistral.tokenBytes(3)).toEqual(new Uint8Array([0]));
    expect(() => mistral.tokenBytes(32002)).toThrow(TokenizerError);

    const dir = ["models", "tinystories-656k"];
    const tiny = new HfTokenizer(readJson(...dir, "tokenizer.json"), readJson(...dir, "tokenizer_config.json"));
    expect([0, 1, 2].map((id) => tiny.tokenBytes(id))).toEqual([null, null, null]);
  });

  it("returns a copy each call", () => {
    const dir = ["models", "tinystories-656k"];
    const tiny = new HfTokenizer(readJson(...dir, "tokenizer.json"), readJson(...dir, "tokenizer_config.json"));
    const id = tiny.encode("hello").at(-1) as number;
    const a = tiny.tokenBytes(id) as Uint8Array;
    a[0] = 0;
    expect(tiny.tokenBytes(id)).not.toEqual(a);
  });
});

describe("pieceDecoder: per-token part of tokenizer.json decoders", () => {
  const bin = (s: string) => utf8ToBin(s);
  it("ByteLevel, Metaspace, BPEDecoder and WordPiece", () => {
    expect(pieceDecoder({ type: "ByteLevel" })("\u0120the")).toBe(" the");
    expect(binToBytes(pieceDecoder({ type: "ByteLevel" })("Ã©"))).toEqual(utf8("é"));
    expect(pieceDecoder({ type: "Metaspace", replacement: "\u2581" })("\u2581the")).toBe(" the");
    expect(pieceDecoder({ type: "BPEDecoder", suffix: "</w>" })("the</w>")).toBe("the ");
    expect(pieceDecoder({ type: "WordPiece", prefix: "##" })("##ing")).toBe("ing");
    expect(pieceDecoder({ type: "WordPiece", prefix: "##" })("é")).toBe(bin(" é"));
    expect(pieceDecoder(null)("plain")).toBe("plain");
  });
  it("names an unsupported decoder", () => {
    expect(() => pieceDecoder({ type: "CTC" })).toThrow(/CTC decoder is not supported/);
    expect(() => pieceDecoder({ type: "Replace", pattern: { Regex: "x" }, content: "" })).toThrow(/regex pattern/);
  });
});
