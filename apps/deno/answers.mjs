// The cross-host determinism cases: the same prompts, seeds and options, with and without a
// drafter. Deno imports this module; Node runs it (`node answers.mjs MODEL_DIR`) and prints
// the answers as JSON. Both must give byte-identical text.
import { generate } from "@edgespec/decoding";
import { createDrafter } from "@edgespec/drafters";
import { loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";

export const CASES = [
  { prompt: "Once upon a time", maxTokens: 40, temperature: 0 },
  { prompt: "Once upon a time", maxTokens: 40, temperature: 1, seed: 7 },
  { prompt: "The little dog", maxTokens: 40, temperature: 0.7, topP: 0.9, seed: 11 },
  { prompt: "Tom and Tom and Tom and Tom and", maxTokens: 40, temperature: 0, drafter: "lookup" },
  { prompt: "Once upon a time", maxTokens: 40, temperature: 1, seed: 3, drafter: "recycling" },
];

export async function answerAll(modelDir) {
  const { model, tokenizer } = await loadCausalLM(await resolveModelSource(modelDir));
  const out = [];
  for (const { prompt, drafter: spec, ...opts } of CASES) {
    const drafter = spec ? await createDrafter(spec, { model, tokenizer }) : undefined;
    const r = await generate(model, tokenizer, prompt, { ...opts, ...(drafter ? { drafter } : {}) });
    drafter?.free?.();
    out.push(r.text);
  }
  model.free();
  return out;
}

if (typeof Deno === "undefined" && process.argv[1]?.endsWith("answers.mjs")) {
  console.log(JSON.stringify(await answerAll(process.argv[2])));
}
