/**
 * POST /v1/completions and /v1/chat/completions, OpenAI-compatible: one choice, sampled with
 * the request's temperature / top_p / seed (same seed, same text), stop strings, max_tokens;
 * `stream: true` answers with server-sent events, one chunk per piece of text, then
 * `data: [DONE]`. Each generation runs on its own KV cache over the shared weights, and ends
 * when the client goes away. `drafter` / `draft_budget` (speculative.ts) change the speed,
 * not the text.
 */
import { DecodingOptionsError, type Drafter, type FinishReason, type GenerateOptions, generate } from "@edgespec/decoding";
import type { ChatMessage } from "@edgespec/models";
import { HttpError } from "./errors";
import type { HostContext } from "./handler";
import type { Limits } from "./limits";
import type { ModelRegistry } from "./registry";
import { type Schema, validate } from "./schema";
import { defaultDraftBudget, MAX_DRAFT_BUDGET, makeDrafter, parseDrafter, speculativeReport } from "./speculative";

interface CompletionRequest {
  model?: string;
  prompt?: string | string[];
  messages?: ChatMessage[];
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  stream?: boolean;
  n?: number;
  drafter?: string;
  draft_budget?: number;
}

const COMMON: Schema = {
  model: { type: "string", maxItems: 256 },
  max_tokens: { type: "integer", min: 0 },
  max_completion_tokens: { type: "integer", min: 0 },
  temperature: { type: "number", min: 0, max: 2 },
  top_p: { type: "number", min: 0, max: 1 },
  seed: { type: "integer", min: 0, max: 2 ** 32 - 1 },
  stop: { type: "string|string[]|null", maxItems: 4 },
  stream: { type: "boolean" },
  n: { type: "integer", min: 1, max: 1 },
  drafter: { type: "string", maxItems: 64 },
  draft_budget: { type: "integer", min: 1, max: MAX_DRAFT_BUDGET },
};
const COMPLETION_SCHEMA: Schema = { ...COMMON, prompt: { type: "string|string[]", required: true, maxItems: 1 } };
const CHAT_SCHEMA: Schema = { ...COMMON, messages: { type: "messages", required: true, maxItems: 256 } };

export interface CompletionContext {
  registry: ModelRegistry;
  limits: Limits;
  /** waits for a generation slot (429 when the queue is full too); returns its release */
  acquire(signal?: AbortSignal): Promise<() => void>;
  headers: Record<string, string>;
  host?: HostContext;
}

export async function completions(body: unknown, chat: boolean, ctx: CompletionContext, clientGone?: AbortSignal): Promise<Response> {
  const where = chat ? "/v1/chat/completions" : "/v1/completions";
  const r = validate<CompletionRequest>(body, chat ? CHAT_SCHEMA : COMPLETION_SCHEMA, where);
  const entry = ctx.registry.entry(r.model);
  const prompt = chat ? (r.messages as ChatMessage[]) : Array.isArray(r.prompt) ? (r.prompt[0] ?? "") : (r.prompt as string);
  const chars = typeof prompt === "string" ? prompt.length : prompt.reduce((n, m) => n + m.content.length, 0);
  if (chars > ctx.limits.maxPromptChars)
    throw new HttpError(
      400,
      `${where}: the prompt has ${chars} characters; the limit is ${ctx.limits.maxPromptChars}`,
      undefined,
      chat ? "messages" : "prompt",
    );
  // OpenAI's defaults: 16 tokens for completions, as many as allowed for chat
  const maxTokens = r.max_completion_tokens ?? r.max_tokens ?? (chat ? ctx.limits.maxTokens : 16);
  if (maxTokens > ctx.limits.maxTokens) {
    throw new HttpError(400, `${where}: max_tokens ${maxTokens} is above this server's limit of ${ctx.limits.maxTokens}`, undefined, "max_tokens");
  }
  const drafterChoice = parseDrafter(r.drafter, r.draft_budget, where);
  const release = await ctx.acquire(clientGone);
  let model: Awaited<ReturnType<ModelRegistry["load"]>>["model"] | undefined;
  let drafter: Drafter | undefined;
  try {
    const served = await ctx.registry.load(entry);
    model = served.model.derive({});
    if (drafterChoice) drafter = await makeDrafter(drafterChoice, model, served.tokenizer, where);
    const abort = new AbortController();
    clientGone?.addEventListener("abort", () => abort.abort(), { once: true });
    const options: GenerateOptions = {
      maxTokens,
      temperature: r.temperature ?? 1,
      topP: r.top_p,
      seed: r.seed ?? 0,
      stop: r.stop === null ? undefined : r.stop,
      signal: abort.signal,
    };
    if (drafter) {
      options.drafter = drafter;
      options.draftBudget = r.draft_budget ?? defaultDraftBudget(served.model);
    }
    let generation: ReturnType<typeof generate>;
    try {
      generation = generate(model, served.tokenizer, prompt, options);
    } catch (e) {
      if (e instanceof DecodingOptionsError) throw new HttpError(400, `${where}: ${e.message}`);
      throw e;
    }
    const id = `${chat ? "chatcmpl" : "cmpl"}-${randomId()}`;
    const created = Math.floor(Date.now() / 1000);
    const own = model;
    const ownDrafter = drafter;
    const done = () => {
      ownDrafter?.free?.();
      own.free();
      release();
    };
    const spec = drafterChoice?.spec;
    if (r.stream) return streamResponse(generation, { id, created, model: entry.id, chat, drafter: spec }, abort, done, ctx);
    try {
      const whole = generation.then((x) => x);
      ctx.host?.waitUntil?.(whole.catch(() => {}));
      const out = await whole;
      const choice = chat
        ? { index: 0, message: { role: "assistant", content: out.text }, logprobs: null, finish_reason: finishReason(out.finishReason) }
        : { index: 0, text: out.text, logprobs: null, finish_reason: finishReason(out.finishReason) };
      return Response.json(
        {
          id,
          object: chat ? "chat.completion" : "text_completion",
          created,
          model: entry.id,
          choices: [choice],
          usage: { prompt_tokens: out.stats.promptTokens, completion_tokens: out.tokens.length, total_tokens: out.stats.promptTokens + out.tokens.length },
          ...(spec ? { speculative: speculativeReport(spec, out.stats.speculative) } : {}),
        },
        { headers: ctx.headers },
      );
    } catch (e) {
      if (e instanceof DecodingOptionsError) throw new HttpError(400, `${where}: ${e.message}`);
      throw e;
    } finally {
      done();
    }
  } catch (e) {
    // all idempotent: a failure anywhere gives the drafter, the cache and the slot back
    drafter?.free?.();
    model?.free();
    release();
    throw e;
  }
}

function finishReason(r: FinishReason): "stop" | "length" {
  return r === "length" || r === "context" ? "length" : "stop";
}

interface StreamMeta {
  id: string;
  created: number;
  model: string;
  chat: boolean;
  drafter?: string;
}

function streamResponse(generation: ReturnType<typeof generate>, meta: StreamMeta, abort: AbortController, done: () => void, ctx: CompletionContext): Response {
  const encoder = new TextEncoder();
  const chunk = (piece: string | null, finish: string | null, first = false, extra: Record<string, unknown> = {}) => {
    const choice = meta.chat
      ? { index: 0, delta: piece === null ? {} : first ? { role: "assistant", content: piece } : { content: piece }, logprobs: null, finish_reason: finish }
      : { index: 0, text: piece ?? "", logprobs: null, finish_reason: finish };
    const body = {
      id: meta.id,
      object: meta.chat ? "chat.completion.chunk" : "text_completion",
      created: meta.created,
      model: meta.model,
      choices: [choice],
      ...extra,
    };
    return encoder.encode(`data: ${JSON.stringify(body)}\n\n`);
  };
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      done();
    }
  };
  const pump = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
    try {
      let first = true;
      if (meta.chat) {
        controller.enqueue(chunk("", null, true));
        first = false;
      }
      for await (const t of generation) {
        if (abort.signal.aborted) break;
        if (t.text) {
          controller.enqueue(chunk(t.text, null, first));
          first = false;
        }
      }
      const out = await generation;
      if (!abort.signal.aborted) {
        const speculative = meta.drafter ? { speculative: speculativeReport(meta.drafter, out.stats.speculative) } : {};
        controller.enqueue(chunk(meta.chat ? null : "", finishReason(out.finishReason), false, speculative));
        controller.enqueue(encoder.encode("data: [DONE]\n\n"));
        controller.close();
      }
    } catch (e) {
      // Headers are sent: report in-band, as OpenAI does, then end the stream. A stream the
      // client cancelled throws on enqueue; then there is nobody to tell.
      try {
        controller.enqueue(encoder.encode(`data: ${JSON.stringify({ error: { message: (e as Error).message, type: "server_error" } })}\n\n`));
        controller.close();
      } catch {}
    } finally {
      finish();
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      // not awaited: the response goes out now and the tokens follow
      const pumping = pump(controller);
      ctx.host?.waitUntil?.(pumping);
    },
    cancel() {
      // The client went away: stop generating and give the cache and the slot back now.
      // Workers abandon a cancelled request's pending work, so the finally above may never run.
      abort.abort();
      finish();
    },
  });
  return new Response(stream, {
    headers: { ...ctx.headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" },
  });
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
