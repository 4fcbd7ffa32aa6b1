// The cross-host determinism cases (cases.json, shared with apps/worker and apps/web): the
// same prompts, seeds and options, with and without a drafter. Deno imports this module; Node
// runs it (`node answers.mjs MODEL_DIR`) and prints the answers as JSON. Both must give
// byte-identical text.
import { readFileSync } from "node:fs";
import { generate } from "@edgespec/decoding";
import { createDrafter } from "@edgespec/drafters";
import { loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";

// read, not imported: JSON modules are still experimental in Node 20
export const CASES = JSON.parse(readFileSync(new URL("./cases.json", import.meta.url), "utf8")).cases;

/** Every case's text; `drafters: false` runs each case without its drafter (the text must not change). */
export async function answerAll(modelDir, { drafters = true } = {}) {
  const { model, tokenizer } = await loadCausalLM(await resolveModelSource(modelDir));
  const out = [];
  for (const { prompt, drafter: spec, draftBudget, ...opts } of CASES) {
    const drafter = spec && drafters ? await createDrafter(spec, { model, tokenizer }) : undefined;
    const speculative = drafter ? { drafter, ...(draftBudget === undefined ? {} : { draftBudget }) } : {};
    const r = await generate(model, tokenizer, prompt, { ...opts, ...speculative });
    drafter?.free?.();
    out.push(r.text);
  }
  model.free();
  return out;
}

if (typeof Deno === "undefined" && process.argv[1]?.endsWith("answers.mjs")) {
  console.log(JSON.stringify(await answerAll(process.argv[2])));
}
