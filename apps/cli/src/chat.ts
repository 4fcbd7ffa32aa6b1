/**
 * `edgespec chat`: a conversation through the model's chat template. Each line on stdin is a
 * user turn; the reply streams to stdout and joins the history. On a terminal it prompts;
 * from a pipe it answers every line (with --json, one object per turn). When the history no
 * longer fits the context, the oldest turns are dropped (the system message stays).
 */
import { createInterface } from "node:readline";
import { DecodingOptionsError, generate } from "@edgespec/decoding";
import { type ChatMessage, loadCausalLM } from "@edgespec/models";
import { resolveModelSource, terminalProgress } from "@edgespec/models/node";
import { backendOptions, releaseBackend } from "./backend";
import { intOption, numberOption, parseOptions, threadsOption, UsageError } from "./usage";

export async function chatCommand(argv: string[]): Promise<number> {
  const v = parseOptions(argv, {
    model: { type: "string" },
    tokenizer: { type: "string" },
    system: { type: "string" },
    "max-tokens": { type: "string" },
    temperature: { type: "string" },
    "top-p": { type: "string" },
    seed: { type: "string" },
    threads: { type: "string" },
    backend: { type: "string" },
    json: { type: "boolean" },
  }) as Record<string, string | boolean | undefined>;
  if (typeof v.model !== "string") throw new UsageError("chat needs --model");
  const maxTokens = intOption("max-tokens", v["max-tokens"] as string | undefined, 256, 1);
  const temperature = numberOption("temperature", v.temperature as string | undefined, 0.7, 0, 100);
  const topP = v["top-p"] === undefined ? undefined : numberOption("top-p", v["top-p"] as string, 1, 0, 1);
  const seed = intOption("seed", v.seed as string | undefined, 0, 0, 2 ** 32 - 1);
  const backend = await backendOptions(v.backend as string | undefined);
  const onProgress = terminalProgress();
  const tok = typeof v.tokenizer === "string" ? await resolveModelSource(v.tokenizer, { onProgress }) : undefined;
  const { model, tokenizer } = await loadCausalLM(await resolveModelSource(v.model, { onProgress }), {
    onProgress,
    threads: threadsOption(v.threads as string | undefined),
    tokenizer: tok?.entry ? { source: tok, file: tok.entry } : undefined,
    ...backend,
  });
  if (tokenizer.applyChatTemplate?.([{ role: "user", content: "" }]) === undefined) {
    throw new DecodingOptionsError(`${v.model} has no chat template; use \`edgespec generate\` for plain text`);
  }
  const history: ChatMessage[] = typeof v.system === "string" ? [{ role: "system", content: v.system }] : [];
  const tty = process.stdin.isTTY && process.stdout.isTTY;
  const lines = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, prompt: "> ", terminal: tty });
  if (tty) {
    process.stderr.write("edgespec chat: a line is a turn; Ctrl-D ends\n");
    lines.prompt();
  }
  let turn = 0;
  for await (const line of lines) {
    const content = line.trim();
    if (!content) {
      if (tty) lines.prompt();
      continue;
    }
    history.push({ role: "user", content });
    // the oldest turns go first when the conversation outgrows the context
    const fits = () => tokenizer.encode(tokenizer.applyChatTemplate?.(history) ?? "").length + maxTokens < model.contextLength;
    while (!fits() && history.length > (history[0]?.role === "system" ? 2 : 1)) history.splice(history[0]?.role === "system" ? 1 : 0, 1);
    let reply = "";
    const gen = generate(model, tokenizer, history, { maxTokens, temperature, topP, seed: seed + turn });
    for await (const t of gen) {
      reply += t.text;
      if (!v.json) process.stdout.write(t.text);
    }
    const result = await gen;
    history.push({ role: "assistant", content: reply });
    if (v.json)
      process.stdout.write(`${JSON.stringify({ turn, user: content, assistant: reply, finish_reason: result.finishReason, tokens: result.tokens.length })}\n`);
    else process.stdout.write("\n");
    turn++;
    if (tty) lines.prompt();
  }
  model.free();
  releaseBackend(model);
  return 0;
}
