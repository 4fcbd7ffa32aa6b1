/**
 * The prompt as token ids: a string, or chat messages rendered with the model's chat
 * template. BOS goes first when the tokenizer's config asks for it (or the prompt is empty
 * and there is nothing else to start from), unless the rendered template already has it.
 */
import type { ChatMessage, Tokenizer } from "@edgespec/models";
import { DecodingOptionsError } from "./errors";

export type PromptInput = string | readonly ChatMessage[];

export function encodePrompt(tokenizer: Tokenizer, input: PromptInput): number[] {
  let text: string;
  if (typeof input === "string") text = input;
  else {
    if (!Array.isArray(input) || input.length === 0) throw new DecodingOptionsError("chat input must be a non-empty array of {role, content} messages");
    input.forEach((m, i) => {
      if (!m || typeof m.role !== "string" || typeof m.content !== "string")
        throw new DecodingOptionsError(`chat message ${i} must have a string role and a string content`);
    });
    const rendered = tokenizer.applyChatTemplate?.([...input], { addGenerationPrompt: true });
    if (rendered === undefined) throw new DecodingOptionsError("this tokenizer has no chat template; pass the prompt as a string");
    text = rendered;
  }
  const ids = tokenizer.encode(text);
  const bos = tokenizer.bosId;
  if (bos !== null && ids[0] !== bos && (tokenizer.addBos || ids.length === 0)) ids.unshift(bos);
  if (ids.length === 0) throw new DecodingOptionsError("the prompt is empty and the tokenizer has no BOS token to start from");
  return ids;
}
