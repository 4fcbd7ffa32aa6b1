/**
 * Hugging Face `tokenizer.json` + `tokenizer_config.json` through @huggingface/tokenizers,
 * with BOS/EOS/add_bos taken from the config (and generation_config's eos ids) and the
 * config's Jinja chat template.
 */
import { Tokenizer as HfCore } from "@huggingface/tokenizers";
import { TokenizerError } from "../errors";
import { ChatTemplate } from "./chat-template";
import { HfTokenBytes } from "./hf-token-bytes";
import type { ChatMessage, Tokenizer } from "./types";

type Json = Record<string, unknown>;

/** Values that override what the configs say (used by the GGUF WordPiece path). */
export interface HfTokenizerOverrides {
  bosId?: number | null;
  eosIds?: readonly number[];
  addBos?: boolean;
  chatTemplate?: string;
}

/** A special token in tokenizer_config is a string or an AddedToken object. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as Json).content === "string") return (v as Json).content as string;
  return undefined;
}

/** `chat_template` is a string, or a list of {name, template} where "default" is the one to use. */
function chatTemplateOf(config: Json): string | undefined {
  const t = config.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const pick = named.find((x) => x.name === "default") ?? named[0];
    return typeof pick?.template === "string" ? pick.template : undefined;
  }
  return undefined;
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly addBos: boolean;
  /** tokenizer.json's model.type: "BPE", "WordPiece", "Unigram"... */
  readonly modelType: string;
  /** the unknown and padding tokens the configs name, or null */
  readonly unkId: number | null;
  readonly padId: number | null;
  protected readonly core: HfCore;
  private readonly template: ChatTemplate | undefined;
  private readonly bytes: HfTokenBytes;

  /**
   * `generationConfig` (generation_config.json), when given, adds its `eos_token_id` (a number
   * or a list) to the end-of-generation ids.
   */
  constructor(tokenizerJson: Json, tokenizerConfig: Json = {}, generationConfig?: Json, opts: HfTokenizerOverrides = {}) {
    try {
      this.core = new HfCore(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new TokenizerError(`tokenizer.json is not usable: ${(e as Error).message}`);
    }
    let maxId = -1;
    for (const id of this.core.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bytes = new HfTokenBytes(tokenizerJson, this.vocabSize, (id) => this.core.id_to_token(id));
    const idOf = (key: string): number | undefined => {
      const text = tokenText(tokenizerConfig[key]);
      return text === undefined ? undefined : this.core.token_to_id(text);
    };
    this.bosId = opts.bosId !== undefined ? opts.bosId : (idOf("bos_token") ?? null);
    const model = tokenizerJson.model as Json | undefined;
    this.modelType = typeof model?.type === "string" ? model.type : "unknown";
    const modelUnk = typeof model?.unk_token === "string" ? this.core.token_to_id(model.unk_token) : undefined;
    this.unkId = idOf("unk_token") ?? modelUnk ?? null;
    this.padId = idOf("pad_token") ?? null;
    if (opts.eosIds) this.eosIds = opts.eosIds;
    else {
      const eos = new Set<number>();
      const configEos = idOf("eos_token");
      if (configEos !== undefined) eos.add(configEos);
      const gen = generationConfig?.eos_token_id;
      for (const id of Array.isArray(gen) ? gen : [gen]) if (typeof id === "number") eos.add(id);
      this.eosIds = [...eos];
    }
    this.addBos =
      opts.addBos ?? (typeof tokenizerConfig.add_bos_token === "boolean" ? tokenizerConfig.add_bos_token : this.postProcessorAddsBos(tokenizerJson));
    const source = opts.chatTemplate ?? chatTemplateOf(tokenizerConfig);
    const text = (id: number | null | undefined) => (id === null || id === undefined ? "" : (this.core.id_to_token(id) ?? ""));
    this.template = source
      ? new ChatTemplate(source, {
          bos: tokenText(tokenizerConfig.bos_token) ?? text(this.bosId),
          eos: tokenText(tokenizerConfig.eos_token) ?? text(this.eosIds[0]),
        })
      : undefined;
  }

  /** The token string of an id as in tokenizer.json. */
  token(id: number): string {
    this.check(id);
    return this.core.id_to_token(id) ?? "";
  }

  /**
   * Text to ids with the special tokens tokenizer.json's post-processor adds around a single
   * sequence ([CLS] ... [SEP] for BERT; BOS for Llama-style templates): what an encoder gets.
   */
  encodeWithSpecialTokens(text: string): number[] {
    return this.core.encode(text, { add_special_tokens: true }).ids;
  }

  encode(text: string): number[] {
    if (text.length === 0) return [];
    return this.core.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string {
    for (const id of ids) this.check(id);
    // the library rejects an empty list
    if (ids.length === 0) return "";
    return this.core.decode([...ids], { skip_special_tokens: opts?.skipSpecial ?? true });
  }

  /** What the id adds to the decoded text, read off tokenizer.json's decoder (see hf-token-bytes.ts); null for special tokens. */
  tokenBytes(id: number): Uint8Array | null {
    this.check(id);
    return this.bytes.get(id);
  }

  /** `addGenerationPrompt` defaults to true (the text ends where the assistant's turn begins; HF's default is false). */
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string | undefined {
    return this.template?.render(messages, opts?.addGenerationPrompt ?? true);
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.core.id_to_token(id) === undefined) {
      throw new TokenizerError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
  }

  /** Without add_bos_token in the config: does the post-processor start a single sequence with bos_token? */
  private postProcessorAddsBos(json: Json): boolean {
    if (this.bosId === null) return false;
    const pp = json.post_processor as Json | null | undefined;
    const single = pp?.type === "TemplateProcessing" ? (pp.single as Json[] | undefined) : undefined;
    const first = single?.[0]?.SpecialToken as Json | undefined;
    return typeof first?.id === "string" && this.core.token_to_id(first.id) === this.bosId;
  }
}
