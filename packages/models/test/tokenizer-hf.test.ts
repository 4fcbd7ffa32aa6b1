/** HfTokenizer on real Hugging Face tokenizer folders: TinyStories-656K and Mistral (ChatML added). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TokenizerError } from "../src/errors";
import { HfTokenizer } from "../src/tokenizers/index";
import { sharedDir } from "./shared";

const readJson = (...parts: string[]) => JSON.parse(readFileSync(join(sharedDir(...parts)), "utf8"));

const ASCII = ["Once upon a time, there was a little girl named Lily.", " leading space", "two  spaces\nand a newline", "trailing "];
const TEXTS = [...ASCII, "emoji 😀 and 中文 and é", "\u00a0nbsp\ttab"];

describe("TinyStories-656K tokenizer.json", () => {
  const dir = ["models", "tinystories-656k"];
  const tok = new HfTokenizer(readJson(...dir, "tokenizer.json"), readJson(...dir, "tokenizer_config.json"), readJson(...dir, "generation_config.json"));

  it("takes BOS, EOS and add_bos_token from the configs", () => {
    expect([tok.vocabSize, tok.bosId, tok.eosIds, tok.addBos]).toEqual([2048, 1, [2], true]);
    expect([tok.token(1), tok.token(2)]).toEqual(["<|start_story|>", "<|end_story|>"]);
    expect(tok.applyChatTemplate([{ role: "user", content: "x" }])).toBeUndefined();
  });

  it("adds no special tokens, recognises them in text, and round-trips", () => {
    const once = tok.encode("Once upon a time");
    expect(once.map((id) => tok.token(id)).slice(0, 3)).toEqual(["\u2581", "On", "ce\u2581"]);
    // The added tokens are "normalized": they are matched after the Prepend("▁") normalizer,
    // so the "▁" lands in front of <|start_story|> and the text after it gets none
    expect(tok.encode("<|start_story|>Once upon a time")).toEqual([1, ...once.slice(1)]);
    for (const t of ASCII) {
      expect(tok.decode(tok.encode(t)), t).toBe(t);
      expect(tok.decode([1, ...tok.encode(t), 2]), t).toBe(t);
    }
    // the Strip decoder removes one leading space of the whole text, here in front of "<|start_story|>"
    expect(tok.decode([1, ...once, 2], { skipSpecial: false })).toBe("<|start_story|> Once upon a time<|end_story|>");
    expect(tok.decode([])).toBe("");
    expect(tok.encode("")).toEqual([]);
  });

  it("has no byte tokens despite byte_fallback, so other characters become <unk> (as in Hugging Face)", () => {
    expect(tok.encode("é")).toEqual([80, 0]);
    expect(tok.decode(tok.encode("é"))).toBe("");
  });

  it("rejects ids outside the vocabulary", () => {
    expect(() => tok.decode([2048])).toThrow(TokenizerError);
  });
});

describe("mistral-minueza tokenizer.json (ChatML tokens 32000-32001 added)", () => {
  const dir = ["tokenizers", "mistral-minueza"];
  const tok = new HfTokenizer(readJson(...dir, "tokenizer.json"), readJson(...dir, "tokenizer_config.json"));

  it("takes BOS, EOS and add_bos_token from tokenizer_config", () => {
    expect([tok.vocabSize, tok.bosId, tok.eosIds, tok.addBos]).toEqual([32002, 1, [32000], false]);
  });

  it("renders the chat template and tokenizes its special tokens", () => {
    const messages = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Hi there" },
    ];
    const text = tok.applyChatTemplate(messages);
    expect(text).toBe("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: false })).toBe(
      "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n",
    );
    const ids = tok.encode(text as string);
    expect(ids.filter((id) => id >= 32000)).toEqual([32001, 32000, 32001, 32000, 32001]);
    // legacy SentencePiece behaviour of this tokenizer.json: its Prepend("▁") normalizer runs on
    // each stretch of text between special tokens, so each gains a space
    expect(tok.decode(ids)).toBe("system\nYou are terse. \n user\nHi there \n assistant\n");
    expect(tok.decode(ids, { skipSpecial: false })).toBe(
      "<|im_start|> system\nYou are terse.<|im_end|> \n<|im_start|> user\nHi there<|im_end|> \n<|im_start|> assistant\n",
    );
  });

  it("round-trips text, byte fallback included", () => {
    for (const t of TEXTS) expect(tok.decode(tok.encode(t)), t).toBe(t);
    expect(tok.encode("\u{1D518}").map((id) => tok.token(id))).toEqual(["\u2581", "<0xF0>", "<0x9D>", "<0x94>", "<0x98>"]);
    expect(tok.encode("<unk>")).toEqual([0]);
  });
});

describe("HfTokenizer configs", () => {
  const json = readJson("models", "tinystories-656k", "tokenizer.json");

  it("joins generation_config eos ids (number or list) to tokenizer_config's", () => {
    expect(new HfTokenizer(json, { eos_token: "<|end_story|>" }, { eos_token_id: [2, 5] }).eosIds).toEqual([2, 5]);
    expect(new HfTokenizer(json, {}, { eos_token_id: 7 }).eosIds).toEqual([7]);
  });

  it("without add_bos_token, adds BOS when the post-processor template starts with it", () => {
    // TinyStories' TemplateProcessing is "<|start_story|> $A"
    expect(new HfTokenizer(json, { bos_token: { content: "<|start_story|>" } }).addBos).toBe(true);
    expect(new HfTokenizer(json, {}).addBos).toBe(false);
  });

  it("reports template errors and raise_exception as TokenizerError", () => {
    const raising = new HfTokenizer(json, {
      chat_template: "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first turn must be user') }}{% endif %}ok",
    });
    expect(raising.applyChatTemplate([{ role: "user", content: "x" }])).toBe("ok");
    expect(() => raising.applyChatTemplate([{ role: "system", content: "x" }])).toThrow(/first turn must be user/);
    const broken = new HfTokenizer(json, { chat_template: "{% for %}" });
    expect(() => broken.applyChatTemplate([])).toThrow(TokenizerError);
  });

  it("picks the default of a list of named templates", () => {
    const tok = new HfTokenizer(json, {
      chat_template: [
        { name: "tool_use", template: "tools" },
        { name: "default", template: "{{ bos_token }}{{ messages[0]['content'] }}" },
      ],
      bos_token: "<|start_story|>",
    });
    expect(tok.applyChatTemplate([{ role: "user", content: "x" }])).toBe("<|start_story|>x");
  });

  it("rejects an unusable tokenizer.json", () => {
    expect(() => new HfTokenizer({ model: { type: "NoSuchModel" } }, {})).toThrow(TokenizerError);
  });
});
