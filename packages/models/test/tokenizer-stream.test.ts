/** TextStream: streamed detokenization that never emits half a character and keeps spaces. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BpeTokenizer, HfTokenizer, LLAMA3_TIKTOKEN, SpmTokenizer, TextStream, type Tokenizer } from "../src/tokenizers/index";
import { sharedDir } from "./shared";

const readJson = (...parts: string[]) => JSON.parse(readFileSync(join(sharedDir(...parts)), "utf8"));

/** Streams `ids` after `prompt`; returns the chunks (flush last). */
function stream(tok: Tokenizer, prompt: number[], ids: number[]): string[] {
  const s = new TextStream(tok, prompt);
  const chunks = ids.map((id) => s.push(id));
  chunks.push(s.flush());
  return chunks;
}

const hasLoneSurrogate = (s: string) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

const tok512 = SpmTokenizer.fromLlama2c(readFileSync(sharedDir("models", "stories260K", "tok512.bin")), 512, "tok512.bin");
const tiny = new HfTokenizer(readJson("models", "tinystories-656k", "tokenizer.json"), readJson("models", "tinystories-656k", "tokenizer_config.json"));
// TinyStories' vocabulary has no byte tokens; Mistral's has (and uses the same decoder chain)
const mistral = new HfTokenizer(
  readJson("tokenizers", "mistral-minueza", "tokenizer.json"),
  readJson("tokenizers", "mistral-minueza", "tokenizer_config.json"),
);

describe("TextStream", () => {
  const TEXT = "Lily saw 中文 and 😀🦙 — naïve café!\nThe end.";

  it.each([
    ["tok512.bin (SPM, byte fallback)", tok512],
    ["mistral tokenizer.json (byte fallback)", mistral],
  ] as const)("%s: multi-byte characters split over byte tokens come out whole", (_, tok) => {
    const ids = tok.encode(TEXT);
    const chunks = stream(tok, tok.bosId === null ? [] : [tok.bosId], ids);
    expect(chunks.join("")).toBe(TEXT);
    for (const c of chunks) {
      expect(c).not.toContain("\uFFFD");
      expect(hasLoneSurrogate(c)).toBe(false);
    }
    // the emoji's four byte tokens give "" three times, then the whole character
    expect(chunks).toContain("😀");
  });

  it.each([
    ["tok512.bin", tok512],
    ["mistral tokenizer.json", mistral],
  ] as const)("%s: the continuation of a prompt keeps its leading space", (_, tok) => {
    const prompt = tok.encode("Once upon a time");
    const full = tok.encode("Once upon a time there was");
    expect(full.slice(0, prompt.length)).toEqual(prompt);
    const bos = tok.bosId as number;
    const chunks = stream(tok, [bos, ...prompt], full.slice(prompt.length));
    expect(chunks[0]).toBe(" there");
    expect(chunks.join("")).toBe(" there was");
    // from BOS alone the first piece loses its space (llama2.c's rule)
    expect(stream(tok, [bos], full).join("")).toBe("Once upon a time there was");
  });

  it.each([
    ["tok512.bin", tok512],
    ["TinyStories tokenizer.json", tiny],
    ["mistral tokenizer.json", mistral],
  ] as const)("%s: whatever the prompt/continuation split, the stream adds exactly what decode() adds", (_, tok) => {
    const text = 'Lily said, "Look!" She ran to the park.\nThe sun was 2 big. 中 ok';
    const ids = [tok.bosId as number, ...tok.encode(text)];
    const whole = tok.decode(ids);
    for (let k = 1; k < ids.length; k++) {
      const before = tok.decode(ids.slice(0, k));
      // a prompt cut inside a character decodes to U+FFFD there; the stream completes the character
      let common = 0;
      while (common < before.length && before[common] === whole[common]) common++;
      expect(common === before.length || before.endsWith("\uFFFD")).toBe(true);
      expect(stream(tok, ids.slice(0, k), ids.slice(k)).join(""), `split at ${k}`).toBe(whole.slice(common));
    }
  });

  it("skips special tokens, and text after them is unaffected", () => {
    const ids = [1, ...tok512.encode("Hi"), 2];
    expect(stream(tok512, [], ids).join("")).toBe("Hi");
  });

  it("flush() gives an incomplete character as U+FFFD; a prompt that ends inside a character is completed", () => {
    const zh = tok512.encode("中").filter((id) => tok512.piece(id).startsWith("<0x"));
    expect(zh.length).toBe(3);
    const s = new TextStream(tok512, [1]);
    expect([s.push(zh[0]), s.push(zh[1])]).toEqual(["", ""]);
    expect(s.flush()).toBe("\uFFFD");
    expect(s.flush()).toBe("");
    expect(stream(tok512, [1, ...zh.slice(0, 2)], [zh[2]]).join("")).toBe("中");
  });

  it("byte-level BPE (Llama 3): an emoji split over tokens", () => {
    const tok = BpeTokenizer.fromTiktoken(readFileSync(sharedDir("tokenizers", "llama3", "tokenizer.model")), LLAMA3_TIKTOKEN);
    const prompt = tok.encode("<|begin_of_text|>this is");
    const ids = tok.encode(" 🦙.cpp");
    expect(ids).toEqual([11410, 99, 247, 13, 11055]);
    expect(stream(tok, prompt, ids)).toEqual(["", "", " 🦙", ".", "cpp", ""]);
  });

  it("WordPiece (BERT cleanup removes the space before punctuation): the stream equals the whole decode", () => {
    const dir = ["tokenizers", "bert-base-uncased"];
    const tok = new HfTokenizer(readJson(...dir, "tokenizer.json"), readJson(...dir, "tokenizer_config.json"));
    // (clean-up rules that reach back past the newest token, " ' " and " n't", cannot be streamed exactly)
    const ids = tok.encode("Hello, world! Tokenization time? Yes.");
    expect(stream(tok, [], ids).join("")).toBe(tok.decode(ids));
  });
});
