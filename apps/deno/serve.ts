// The edgespec HTTP API (the Worker's) on Deno.serve:
//   deno run --allow-read --allow-env --allow-net --allow-sys serve.ts [--model DIR] [--port 8787]
import { loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { createHandler } from "@edgespec/server";
import { defaultModel } from "./generate.ts";

export function denoHandler(modelDir: string) {
  const id = modelDir.split("/").filter(Boolean).pop() ?? "model";
  return createHandler({ models: [{ id, load: async () => loadCausalLM(await resolveModelSource(modelDir)) }] });
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--model");
  const modelDir = i >= 0 ? Deno.args[i + 1] : defaultModel();
  const p = Deno.args.indexOf("--port");
  const handler = denoHandler(modelDir);
  Deno.serve({ hostname: "127.0.0.1", port: p >= 0 ? Number(Deno.args[p + 1]) : 8787 }, (req) => handler(req));
}
