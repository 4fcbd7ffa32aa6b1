/**
 * What a tiktoken ranks file does not say: the special tokens appended after the ranks, BOS,
 * the end-of-generation tokens, the pre-tokenizer and the chat template. These are the
 * published values for the two rank files we support.
 */
import type { TiktokenOptions } from "./bpe";

function llama3Specials(): Record<string, number> {
  // Meta's tokenizer.py: 10 named tokens, then reserved ones up to 256 in all, from id 128000
  const named = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|reserved_special_token_2|>",
    "<|reserved_special_token_3|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|reserved_special_token_4|>",
    "<|eot_id|>",
  ];
  const all = [...named];
  for (let i = 5; all.length < 256; i++) all.push(`<|reserved_special_token_${i}|>`);
  return Object.fromEntries(all.map((t, i) => [t, 128000 + i]));
}

/** Llama 3 (`tokenizer.model` of Meta-Llama-3): 128,000 ranks + 256 special tokens. */
export const LLAMA3_TIKTOKEN: TiktokenOptions = {
  pre: "llama3",
  specialTokens: llama3Specials(),
  bos: "<|begin_of_text|>",
  eos: ["<|end_of_text|>", "<|eot_id|>"],
  addBos: true,
  chatTemplate:
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
};

/** Qwen (`qwen.tiktoken`, as Qwen1.5/Qwen2 use it): 151,643 ranks + ChatML specials; no BOS. */
export const QWEN_TIKTOKEN: TiktokenOptions = {
  pre: "qwen2",
  specialTokens: { "<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645 },
  bos: null,
  eos: ["<|endoftext|>", "<|im_end|>"],
  addBos: false,
  chatTemplate:
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
};
