/**
 * tokenizerFromGguf on metadata maps: dispatch and its errors, and the GGUF-only behaviour
 * (token types, added special tokens, add_space_prefix, chat templates, end-of-generation
 * ids). The vocabularies come from intact sources; the vector tests run the same paths on
 * llama.cpp's test cases.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ModelFormatError, TokenizerError } from "../src/errors";
import type { GgufValue } from "../src/formats/gguf";
import { BpeTokenizer, parseLlama2cTokenizer, SpmTokenizer, TokenType, tokenizerFromGguf } from "../src/tokenizers/index";
import { sharedDir } from "./shared";

const CHATML =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The Llama 2 vocabulary as "llama" GGUF metadata, plus ChatML control tokens and a user-defined one. */
function llama2Metadata(extra: [string, GgufValue][] = []): Map<string, GgufValue> {
  const v = parseLlama2cTokenizer(readFileSync(sharedDir("tokenizers", "llama2", "tokenizer.bin")), "tokenizer.bin", 32000);
  const added: [string, number][] = [
    ["<|im_start|>", TokenType.CONTROL],
    ["<|im_end|>", TokenType.CONTROL],
    ["<tool>", TokenType.USER_DEFINED],
  ];
  return new Map<string, GgufValue>([
    ["tokenizer.ggml.model", "llama"],
    ["tokenizer.ggml.tokens", [...v.pieces, ...added.map(([t]) => t)]],
    ["tokenizer.ggml.scores", Float32Array.from([...v.scores, 0, 0, 0])],
    ["tokenizer.ggml.token_type", Int32Array.from([...v.types, ...added.map(([, t]) => t)])],
    ["tokenizer.ggml.bos_token_id", 1],
    ["tokenizer.ggml.eos_token_id", 2],
    ["tokenizer.ggml.unknown_token_id", 0],
    ["tokenizer.chat_template", CHATML],
    ...extra,
  ]);
}

describe("tokenizerFromGguf dispatch", () => {
  it("rejects metadata without a tokenizer, naming the file", () => {
    expect(() => tokenizerFromGguf(new Map(), "weights-only.gguf")).toThrow(ModelFormatError);
    expect(() => tokenizerFromGguf(new Map(), "weights-only.gguf")).toThrow(/^weights-only\.gguf: has no "tokenizer\.ggml\.model"/);
  });

  it("rejects tokenizer models other than llama, gpt2 and bert with a TokenizerError", () => {
    const md = new Map<string, GgufValue>([["tokenizer.ggml.model", "t5"]]);
    expect(() => tokenizerFromGguf(md, "m.gguf")).toThrow(TokenizerError);
    expect(() => tokenizerFromGguf(md, "m.gguf")).toThrow(/tokenizer\.ggml\.model "t5" is not supported \(supported: llama, gpt2, bert\)/);
  });

  it("rejects an unknown BPE pre-tokenizer, listing the supported ones", () => {
    const md = new Map<string, GgufValue>([
      ["tokenizer.ggml.model", "gpt2"],
      ["tokenizer.ggml.pre", "brand-new"],
      ["tokenizer.ggml.tokens", ["a", "b", "ab"]],
      ["tokenizer.ggml.merges", ["a b"]],
    ]);
    expect(() => tokenizerFromGguf(md, "m.gguf")).toThrow(TokenizerError);
    expect(() => tokenizerFromGguf(md, "m.gguf")).toThrow(/pre-tokenizer "brand-new" is not supported; supported: default, llama3, .*qwen2/);
  });

  it("names the key when metadata is malformed", () => {
    const md = llama2Metadata([["tokenizer.ggml.scores", new Float32Array(5)]]);
    expect(() => tokenizerFromGguf(md, "m.gguf")).toThrow(/^m\.gguf: "tokenizer\.ggml\.scores" has 5 entries but the vocabulary has 32003 tokens/);
    const noMerges = new Map<string, GgufValue>([
      ["tokenizer.ggml.model", "gpt2"],
      ["tokenizer.ggml.tokens", ["a"]],
    ]);
    expect(() => tokenizerFromGguf(noMerges, "m.gguf")).toThrow(/^m\.gguf: has no "tokenizer\.ggml\.merges" key/);
  });
});

describe("SPM from GGUF metadata", () => {
  const tok = tokenizerFromGguf(llama2Metadata(), "llama2-chatml.gguf") as SpmTokenizer;
  const direct = SpmTokenizer.fromLlama2c(readFileSync(sharedDir("tokenizers", "llama2", "tokenizer.bin")), 32000);

  it("collects end-of-generation ids by key and by text, as llama.cpp", () => {
    expect(tok).toBeInstanceOf(SpmTokenizer);
    expect([tok.vocabSize, tok.bosId, tok.addBos, tok.addSpacePrefix]).toEqual([32003, 1, true, true]);
    expect([...tok.eosIds].sort()).toEqual([2, 32001]);
  });

  it("cuts control and user-defined tokens out of the text; text after one gets the space prefix", () => {
    expect(tok.encode("<|im_start|>user\nHi<|im_end|>")).toEqual([32000, ...direct.encode("user\nHi"), 32001]);
    expect(tok.encode("a<tool>b")).toEqual([...direct.encode("a"), 32002, ...direct.encode("b")]);
    // decoding drops control tokens (not user-defined ones) and the prefix spaces again
    expect(tok.decode(tok.encode("<|im_start|>user\nHi<|im_end|>"))).toBe("user\nHi");
    expect(tok.decode(tok.encode("<|im_start|>user\nHi<|im_end|>"), { skipSpecial: false })).toBe("<|im_start|>user\nHi<|im_end|>");
    expect(tok.decode(tok.encode("a<tool>b"))).toBe("a<tool>b");
  });

  it("renders tokenizer.chat_template", () => {
    const text = tok.applyChatTemplate([{ role: "user", content: "Hi" }]);
    expect(text).toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    expect(tok.applyChatTemplate([{ role: "user", content: "Hi" }], { addGenerationPrompt: false })).toBe("<|im_start|>user\nHi<|im_end|>\n");
    expect(direct.applyChatTemplate([{ role: "user", content: "Hi" }])).toBeUndefined();
  });

  it("honours add_space_prefix = false and add_bos_token = false", () => {
    const bare = tokenizerFromGguf(
      llama2Metadata([
        ["tokenizer.ggml.add_space_prefix", false],
        ["tokenizer.ggml.add_bos_token", false],
      ]),
      "m.gguf",
    ) as SpmTokenizer;
    expect(bare.addBos).toBe(false);
    expect(bare.encode("Hello").map((id) => bare.piece(id))).toEqual(["Hello"]);
    expect(tok.encode("Hello").map((id) => tok.piece(id))).toEqual(["\u2581Hello"]);
    expect(bare.decode(bare.encode(" Hello world"))).toBe(" Hello world");
  });

  it("a template that raises gives a TokenizerError", () => {
    const raising = tokenizerFromGguf(llama2Metadata([["tokenizer.chat_template", "{{ raise_exception('only user turns') }}"]]), "m.gguf");
    expect(() => raising.applyChatTemplate?.([{ role: "user", content: "x" }])).toThrow(TokenizerError);
    expect(() => raising.applyChatTemplate?.([{ role: "user", content: "x" }])).toThrow(/only user turns/);
  });
});

describe("BPE from GGUF metadata (a small GPT-2-style vocabulary)", () => {
  // the 256 byte tokens in GPT-2's alphabet, a few merges, one control token
  const bytes = Array.from({ length: 256 }, (_, b) => b);
  const byteLevel = (b: number) =>
    String.fromCharCode(
      (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
        ? b
        : 0x100 + bytes.filter((x) => x < b && !((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff))).length,
    );
  const merges = ["h e", "l l", "he ll", "hell o", "\u0120 w", "\u0120w o", "\u0120wo r", "\u0120wor l", "\u0120worl d", "o r"];
  const tokens = [...bytes.map(byteLevel), "he", "ll", "hell", "hello", "\u0120w", "\u0120wo", "\u0120wor", "\u0120worl", "\u0120world", "or", "<|endoftext|>"];
  const md = new Map<string, GgufValue>([
    ["tokenizer.ggml.model", "gpt2"],
    ["tokenizer.ggml.pre", "gpt-2"],
    ["tokenizer.ggml.tokens", tokens],
    ["tokenizer.ggml.token_type", Int32Array.from(tokens, (_, i) => (i === tokens.length - 1 ? TokenType.CONTROL : TokenType.NORMAL))],
    ["tokenizer.ggml.merges", merges],
    ["tokenizer.ggml.eos_token_id", tokens.length - 1],
  ]);
  const tok = tokenizerFromGguf(md, "tiny-gpt2.gguf") as BpeTokenizer;
  const id = (t: string) => tokens.indexOf(t);

  it("merges by merge rank, maps bytes through GPT-2's alphabet, and cuts out specials", () => {
    expect(tok).toBeInstanceOf(BpeTokenizer);
    expect([tok.vocabSize, tok.bosId, tok.eosIds, tok.addBos]).toEqual([267, null, [266], false]);
    expect(tok.encode("hello world<|endoftext|>")).toEqual([id("hello"), id("\u0120world"), 266]);
    // "or" has a merge but "\u0120w o" ranks first, so " word" is not " w" + "or"
    expect(tok.encode(" wor")).toEqual([id("\u0120wor")]);
    expect(tok.encode("é")).toEqual([0xc3, 0xa9]);
    expect(tok.decode(tok.encode("hello world<|endoftext|> é"))).toBe("hello world é");
    expect(tok.token(id("\u0120world"))).toBe("\u0120world");
  });
});
