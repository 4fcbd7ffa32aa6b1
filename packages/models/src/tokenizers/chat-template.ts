/**
 * Chat templates are Jinja (Hugging Face convention). We render them with @huggingface/jinja
 * and the variables the HF `apply_chat_template` provides for the templates we meet:
 * messages, add_generation_prompt, bos_token and eos_token (the library itself defines
 * raise_exception; whatever a template raises becomes a TokenizerError).
 */
import { Template } from "@huggingface/jinja";
import { TokenizerError } from "../errors";
import type { ChatMessage } from "./types";

export class ChatTemplate {
  private compiled: Template | undefined;

  constructor(
    readonly source: string,
    private readonly tokens: { bos: string; eos: string },
  ) {}

  render(messages: ChatMessage[], addGenerationPrompt: boolean): string {
    try {
      this.compiled ??= new Template(this.source);
    } catch (e) {
      throw new TokenizerError(`chat template does not parse: ${(e as Error).message}`);
    }
    try {
      return this.compiled.render({
        messages,
        add_generation_prompt: addGenerationPrompt,
        bos_token: this.tokens.bos,
        eos_token: this.tokens.eos,
      });
    } catch (e) {
      throw new TokenizerError(`chat template failed to render: ${(e as Error).message}`);
    }
  }
}
