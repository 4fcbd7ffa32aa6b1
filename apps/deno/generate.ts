// Generate text from Deno with the workspace packages (resolved through node_modules):
//   deno run --allow-read --allow-env --allow-sys generate.ts [--model DIR] [--prompt TEXT] [--max-tokens N] [--temperature T] [--seed S]
// Streams the continuation to stdout, like `edgespec generate`.
import { generate } from "@edgespec/decoding";
import { loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";

export function defaultModel(): string {
  const shared = Deno.env.get("EDGESPEC_FIXTURES") ?? new URL("../../../shared", import.meta.url).pathname;
  return `${shared}/models/tinystories-656k`;
}

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

if (import.meta.main) {
  const { model, tokenizer } = await loadCausalLM(await resolveModelSource(flag("model", defaultModel())));
  const out = new TextEncoder();
  for await (const t of generate(model, tokenizer, flag("prompt", "Once upon a time"), {
    maxTokens: Number(flag("max-tokens", "64")),
    temperature: Number(flag("temperature", "0")),
    seed: Number(flag("seed", "0")),
  })) {
    await Deno.stdout.write(out.encode(t.text));
  }
  await Deno.stdout.write(out.encode("\n"));
}
