/** Byte-level BPE: pre-tokenizer regexes, tiktoken sources with their special tokens, presets. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ModelFormatError, TokenizerError } from "../src/errors";
import { BpeTokenizer, LLAMA3_TIKTOKEN, preTokenizer, QWEN_TIKTOKEN, SUPPORTED_PRE_TOKENIZERS } from "../src/tokenizers/index";
import { sharedDir } from "./shared";

const MIXED = "Hello  world's 1234567 I'VE 'll\n\n\t x\u00a0y \u0085\u0085 z\uFEFF\uFEFF! (ok) 中文 字 Ελλάδα 😀🦙 --==> $5.00 `code` \r\n  end   ";

describe("pre-tokenizers", () => {
  it.each(SUPPORTED_PRE_TOKENIZERS)("%s compiles and cuts text into non-empty pieces that join back", (name) => {
    const pieces = preTokenizer(name).split(MIXED);
    expect(pieces.join("")).toBe(MIXED);
    expect(pieces.every((p) => p.length > 0)).toBe(true);
  });

  it("gpt-2 splits as GPT-2 does", () => {
    expect(preTokenizer("gpt-2").split("Hello  world's 123 ok!!  ")).toEqual(["Hello", " ", " world", "'s", " 123", " ok", "!!", "  "]);
  });

  it("llama3 groups digits by three and matches contractions in any case", () => {
    const p = preTokenizer("llama-bpe");
    expect(p.split("1234567")).toEqual(["123", "456", "7"]);
    expect(p.split("I'VE")).toEqual(["I", "'VE"]);
    expect(p.ignoreMerges && p.addBos).toBe(true);
  });

  it("qwen2 splits every digit and NFC-normalizes", () => {
    const p = preTokenizer("qwen2");
    expect(p.split("1234")).toEqual(["1", "2", "3", "4"]);
    expect(p.nfc).toBe(true);
  });

  it("uses llama.cpp's whitespace (Unicode White_Space), not JS \\s: U+0085 is space, U+FEFF is not", () => {
    const p = preTokenizer("gpt-2");
    // two spaces before a letter: the first is a space run, the second is left over on its own
    expect(p.split("x\u0085\u0085y")).toEqual(["x", "\u0085", "\u0085", "y"]);
    // U+FEFF is a symbol like "!" for llama.cpp (JS \s would call it a space)
    expect(p.split("x\uFEFF\uFEFFy")).toEqual(["x", "\uFEFF\uFEFF", "y"]);
  });

  it("deepseek-llm applies its regexes in turn, each to the previous pieces", () => {
    // "Ab" is letters; then the ASCII punctuation class (which spans ":-~", so letters too) and the
    // CJK class (which spans U+0800-U+4E00, so Greek too) cut again, as in llama.cpp and HF
    expect(preTokenizer("deepseek-llm").split("Ab \u1F7D\u2126 \u4E2D\u6587 12\n")).toEqual(["Ab", " ", "\u1F7D\u2126", " ", "\u4E2D\u6587", " ", "12", "\n"]);
  });

  it("an unknown pre-tokenizer names the supported ones", () => {
    expect(() => preTokenizer("no-such-pre")).toThrow(TokenizerError);
    expect(() => preTokenizer("no-such-pre")).toThrow(/pre-tokenizer "no-such-pre" is not supported; supported: .*llama3.*qwen2/);
    // missing / empty means llama.cpp's "default"
    expect(preTokenizer(undefined).name).toBe("default");
    expect(preTokenizer("").name).toBe("default");
  });
});

describe("Llama 3 tiktoken", () => {
  const tok = BpeTokenizer.fromTiktoken(readFileSync(sharedDir("tokenizers", "llama3", "tokenizer.model")), LLAMA3_TIKTOKEN);

  it("has the 256 special tokens after the 128,000 ranks", () => {
    expect([tok.vocabSize, tok.bosId, tok.eosIds, tok.addBos]).toEqual([128256, 128000, [128001, 128009], true]);
    expect([tok.token(128006), tok.token(128255), tok.token(1917)]).toEqual(["<|start_header_id|>", "<|reserved_special_token_250|>", "\u0120world"]);
  });

  it("recognises special tokens in text and skips them when decoding unless asked", () => {
    const ids = tok.encode("<|begin_of_text|>Hello world<|eot_id|>");
    expect(ids).toEqual([128000, 9906, 1917, 128009]);
    expect(tok.decode(ids)).toBe("Hello world");
    expect(tok.decode(ids, { skipSpecial: false })).toBe("<|begin_of_text|>Hello world<|eot_id|>");
  });

  it("renders the Llama 3 chat template", () => {
    const text = tok.applyChatTemplate([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ]);
    expect(text).toBe(
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    expect(tok.encode(text as string).filter((id) => id >= 128000)).toEqual([128000, 128006, 128007, 128009, 128006, 128007, 128009, 128006, 128007]);
  });

  it("decodes any id sequence without throwing, incomplete UTF-8 as U+FFFD", () => {
    const llama = tok.encode(" 🦙");
    expect(llama.length).toBe(3);
    expect(tok.decode(llama.slice(0, 2))).toBe(" \uFFFD");
    expect(() => tok.decode([128256])).toThrow(/outside the vocabulary/);
  });
});

describe("Qwen tiktoken", () => {
  const tok = BpeTokenizer.fromTiktoken(readFileSync(sharedDir("tokenizers", "qwen", "qwen.tiktoken"), "utf8"), QWEN_TIKTOKEN);

  it("has the ChatML specials and no BOS", () => {
    expect([tok.vocabSize, tok.bosId, tok.eosIds, tok.addBos]).toEqual([151646, null, [151643, 151645], false]);
  });

  it("NFC-normalizes like its Hugging Face tokenizer", () => {
    expect(tok.encode("Cafe\u0301 Vie\u0323\u0302t")).toEqual(tok.encode("Café Việt"));
  });

  it("renders ChatML", () => {
    expect(tok.applyChatTemplate([{ role: "user", content: "Hi" }])).toBe(
      "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(tok.applyChatTemplate([{ role: "user", content: "Hi" }], { addGenerationPrompt: false })?.endsWith("Hi<|im_end|>\n")).toBe(true);
  });
});

describe("tiktoken file errors", () => {
  it("names the file and the line", () => {
    expect(() => BpeTokenizer.fromTiktoken("IQ== 0\nnot a rank line\n", { pre: "gpt-2", file: "bad.tiktoken" })).toThrow(ModelFormatError);
    expect(() => BpeTokenizer.fromTiktoken("IQ== 0\nnot a rank line\n", { pre: "gpt-2", file: "bad.tiktoken" })).toThrow(/^bad\.tiktoken: line 2 is not/);
    expect(() => BpeTokenizer.fromTiktoken("IQ== 0\nIg== 2\n", { pre: "gpt-2", file: "gap.tiktoken" })).toThrow(/rank 1 is missing/);
    expect(() => BpeTokenizer.fromTiktoken("IQ== 0\n", { pre: "gpt-2", specialTokens: { "<x>": 0 } })).toThrow(/not after the 1 ranks/);
  });
});
