// deno test: generation from Deno matches the numpy reference (greedy) and Node (every case of
// cases.json, sampled and speculative): the same bytes in both hosts, and the same with or
// without each case's drafter.
import { generate } from "@edgespec/decoding";
import { loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { answerAll, CASES } from "./answers.mjs";
import { defaultModel } from "./generate.ts";

function assertEquals(actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

const model = defaultModel();
try {
  await Deno.stat(model);
} catch {
  throw new Error(`${model} is missing: these tests need the shared model files (set EDGESPEC_FIXTURES or put them at ../shared)`);
}

Deno.test("greedy tokens equal the numpy reference's (tools/reference/llama_ref.py)", async () => {
  const golden = JSON.parse(await Deno.readTextFile(new URL("../../packages/models/test/golden/tinystories-656k.json", import.meta.url)));
  const { model: lm, tokenizer } = await loadCausalLM(await resolveModelSource(model));
  for (const c of golden.cases) {
    const r = await generate(lm, tokenizer, c.text, { maxTokens: c.greedy.length, temperature: 0 });
    assertEquals(r.tokens, c.greedy, c.text);
  }
  lm.free();
});

Deno.test("the same prompts, seeds and drafters give the same text in Deno and in Node", async () => {
  const deno = await answerAll(model);
  const node = new Deno.Command("node", { args: [new URL("./answers.mjs", import.meta.url).pathname, model], stdout: "piped", stderr: "piped" });
  const out = await node.output();
  if (!out.success) throw new Error(`node answers.mjs failed: ${new TextDecoder().decode(out.stderr)}`);
  const fromNode = JSON.parse(new TextDecoder().decode(out.stdout));
  assertEquals(deno, fromNode, "Deno vs Node");
  if (deno.some((t: string) => t.length < 10)) throw new Error(`suspiciously short outputs: ${JSON.stringify(deno)}`);
  // coupled verification: a drafter changes how many forwards run, never the text
  const plain = await answerAll(model, { drafters: false });
  assertEquals(deno, plain, "with vs without drafters");
  const sampledWithDrafter = CASES.filter((c: { temperature: number; drafter?: string }) => c.drafter && c.temperature > 0).length;
  if (sampledWithDrafter < 4) throw new Error(`cases.json has ${sampledWithDrafter} sampled cases with a drafter; the hosts are compared on at least 4`);
});

Deno.test("Deno's Workers run the worker pool: greedy text on 2 threads equals 1 thread", async () => {
  const { WasmBackend } = await import("@edgespec/runtime");
  const texts: string[] = [];
  for (const threads of [1, 2]) {
    const backend = await WasmBackend.create({ threads, minParallelWork: 0 });
    if (backend.threads !== threads) throw new Error(`asked for ${threads} threads, got ${backend.threads} (${backend.threadsNote})`);
    const { model: lm, tokenizer } = await loadCausalLM(await resolveModelSource(model), { backend });
    texts.push((await generate(lm, tokenizer, "Once upon a time", { maxTokens: 48, temperature: 0 })).text);
    lm.free();
    backend.close();
  }
  assertEquals(texts[1], texts[0], "2 threads vs 1");
  if (texts[0].length < 40) throw new Error(`suspiciously short output: ${JSON.stringify(texts[0])}`);
});
