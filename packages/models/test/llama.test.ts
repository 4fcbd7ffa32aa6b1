/**
 * The Llama-family forward against tools/reference/llama_ref.py (numpy, float64): random
 * checkpoints for every variant we claim (GQA 1/2/3/8, Qwen2 biases, Llama 3 rope scaling,
 * untied heads, BF16/F16 shards) and the real TinyStories-656K; stories260K against the
 * text llama2.c's documentation shows.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Backend, createBackend } from "@edgespec/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnsupportedModelError } from "../src/errors";
import { llamaConfigFromHf } from "../src/llama/config";
import { type LoadedLlama, loadCausalLM, loadLlama } from "../src/load";
import { resolveRemoteModelSource } from "../src/sources/index";
import { LocalModelSource } from "../src/sources/node";
import { writeFixture } from "./fixtures/generate";
import { argmax, type LlamaGolden, readGolden, relErr, rows } from "./golden";
import { FixtureServer } from "./http-server";
import { sharedDir } from "./shared";

const FIXTURES = ["llama2-mha", "mistral-gqa2", "llama-gqa3", "llama3-gqa8", "qwen2-bias"];
const TOL = 1e-4;

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "edgespec-llama-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function fixtureModel(name: string, backend: Backend, dtype?: "f16" | "q8_0" | "q4_0"): Promise<LoadedLlama> {
  const dir = join(tmp, name);
  await writeFixture(name, dir);
  return loadLlama(await LocalModelSource.fromPath(dir), { backend, dtype });
}

/** Feeds each case like the reference did; returns the worst relative error and greedy agreement. */
function compare(loaded: LoadedLlama, g: LlamaGolden): { worst: number; agree: number; total: number; greedyOk: boolean } {
  const { model } = loaded;
  let worst = 0;
  let agree = 0;
  let total = 0;
  let greedyOk = true;
  for (const c of g.cases) {
    model.reset();
    const all = c.prompt_logits.shape[0] === c.prompt.length;
    const pre = model.prefill(c.prompt, { allLogits: all });
    const V = g.vocab_size;
    for (let r = 0; r < c.prompt_logits.shape[0]; r++) {
      const want = rows(g, c.prompt_logits, r);
      const got = pre.logits.subarray((all ? r : 0) * V, ((all ? r : 0) + 1) * V);
      worst = Math.max(worst, relErr(got, want));
      agree += Number(argmax(got) === argmax(want));
      total++;
    }
    // teacher-forced on the reference's greedy tokens, so one near-tie cannot derail the rest
    let next = argmax(pre.logits.subarray(pre.logits.length - V));
    for (let k = 0; k < c.greedy.length; k++) {
      if (next !== c.greedy[k] && c.greedy_margins[k] > 1e-3) greedyOk = false;
      const got = model.step(c.greedy[k]);
      const want = rows(g, c.decode_logits, k);
      worst = Math.max(worst, relErr(got, want));
      agree += Number(argmax(got) === argmax(want));
      total++;
      next = argmax(got);
    }
  }
  return { worst, agree, total, greedyOk };
}

describe.each(["wasm", "reference"] as const)("random-weight checkpoints vs numpy (%s)", (backendName) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(backendName);
  });
  it.each(FIXTURES)("%s: logits within 1e-4 relative, greedy tokens equal", async (name) => {
    const loaded = await fixtureModel(name, backend);
    const r = compare(loaded, readGolden(name));
    loaded.model.free();
    expect(r.worst).toBeLessThan(TOL);
    expect(r.greedyOk).toBe(true);
    expect(r.agree).toBe(r.total);
  });
});

describe("f16 / quantized weights vs the f32 reference (wasm)", () => {
  // dtype converts every matmul weight on load (q8_0 / q4_0: rows a multiple of 32 wide, ggml's
  // reference rounding); the bounds are on max|err| / max|logit| over all positions, and on
  // the share of positions whose top-1 token equals the reference's (teacher-forced greedy).
  const bounds = { f16: { err: 0.005, agree: 0.95 }, q8_0: { err: 0.05, agree: 0.9 }, q4_0: { err: 0.4, agree: 0.75 } };
  const report: string[] = [];
  afterAll(() => console.log(`quantized agreement with the f32 reference:\n${report.join("\n")}`));
  for (const dtype of ["f16", "q8_0", "q4_0"] as const) {
    it.each([...FIXTURES, "tinystories-656k"])(`${dtype} %s`, async (name) => {
      const backend = await createBackend("wasm");
      const loaded =
        name === "tinystories-656k"
          ? await loadLlama(await LocalModelSource.fromPath(sharedDir("models/tinystories-656k")), { backend, dtype })
          : await fixtureModel(name, backend, dtype);
      const r = compare(loaded, readGolden(name));
      loaded.model.free();
      report.push(`  ${dtype} ${name.padEnd(17)} max rel err ${r.worst.toExponential(2)}  top-1 agreement ${r.agree}/${r.total}`);
      expect(r.worst).toBeLessThan(bounds[dtype].err);
      expect(r.agree / r.total).toBeGreaterThanOrEqual(bounds[dtype].agree);
    });
  }
});

describe("TinyStories-656K (real weights, Hugging Face folder)", () => {
  const golden = readGolden("tinystories-656k");
  it.each(["wasm", "reference"] as const)("prompt and greedy logits equal the reference (%s)", async (backendName) => {
    const backend = await createBackend(backendName);
    const loaded = await loadCausalLM(await LocalModelSource.fromPath(sharedDir("models/tinystories-656k")), { backend });
    for (const c of golden.cases) {
      if (c.text !== undefined) expect([loaded.tokenizer.bosId, ...loaded.tokenizer.encode(c.text)]).toEqual(c.prompt);
    }
    const r = compare(loaded, golden);
    loaded.model.free();
    expect(r.worst).toBeLessThan(TOL);
    expect(r.greedyOk).toBe(true);
  });
  it("greedy tokens from BOS equal the reference's up to its first near-tie", async () => {
    const loaded = await loadLlama(await LocalModelSource.fromPath(sharedDir("models/tinystories-656k")));
    const bos = golden.bos_greedy;
    if (!bos) throw new Error("golden has no bos_greedy");
    // at step reliable_prefix the reference's top two logits differ by ~4e-6: float32 may pick either
    expect(bos.reliable_prefix).toBeGreaterThan(100);
    const out: number[] = [];
    let logits = loaded.model.prefill(bos.prompt).logits;
    for (let i = 0; i < bos.reliable_prefix; i++) {
      const t = argmax(logits);
      out.push(t);
      logits = loaded.model.step(t);
    }
    expect(out.slice(0, bos.reliable_prefix)).toEqual(bos.tokens.slice(0, bos.reliable_prefix));
  });
});

describe("streaming from fetch (the browser and Workers path: no filesystem, no cache)", () => {
  it("TinyStories-656K from a hub URL streams in tensor by tensor and gives the reference logits", async () => {
    const server = await new FixtureServer(sharedDir()).start();
    server.hubRepos.set("raincandy-u/TinyStories-656K", "models/tinystories-656k");
    try {
      const source = resolveRemoteModelSource("raincandy-u/TinyStories-656K", { endpoint: server.url });
      const events: number[] = [];
      const loaded = await loadCausalLM(source, { onProgress: (e) => e.file === "model.safetensors" && events.push(e.loaded) });
      expect(loaded.format).toBe("safetensors");
      // progress arrived in several steps: the body was consumed as a stream
      expect(events.length).toBeGreaterThan(2);
      const r = compare(loaded, readGolden("tinystories-656k"));
      loaded.model.free();
      expect(r.worst).toBeLessThan(TOL);
      expect(server.requests.filter((q) => q.path.endsWith("model.safetensors") && q.method === "GET").length).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe("stories260K (llama2.c checkpoint + tokenizer.bin)", () => {
  it("greedy decoding from BOS for 256 tokens reproduces greedy_ref_256.txt exactly", async () => {
    const dir = sharedDir("models/stories260K");
    const source = await LocalModelSource.fromPath(join(dir, "stories260K.bin"));
    const tokenizer = { source: await LocalModelSource.fromPath(join(dir, "tok512.bin")), file: "tok512.bin" };
    const { model, tokenizer: tok } = await loadCausalLM(source, { tokenizer });
    const ids = [1];
    let logits = model.prefill(ids).logits;
    for (let i = 0; i < 256; i++) {
      const t = argmax(logits);
      ids.push(t);
      if (i < 255) logits = model.step(t);
    }
    const want = readFileSync(join(dir, "greedy_ref_256.txt"), "utf8");
    expect(tok.decode(ids)).toBe(want.replace(/\n$/, ""));
  });
});

describe("configs we do not run are refused by name", () => {
  const base = { architectures: ["LlamaForCausalLM"], hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 256 };
  it.each([
    [{ ...base, architectures: ["GPT2LMHeadModel"], model_type: "gpt2" }, /GPT2LMHeadModel.*not supported/],
    [{ ...base, hidden_act: "gelu" }, /hidden_act "gelu"/],
    [{ ...base, rope_scaling: { rope_type: "yarn", factor: 4 } }, /rope_scaling type "yarn"/],
    [{ ...base, hidden_size: -64 }, /"hidden_size" must be a positive integer/],
    [{ ...base, num_key_value_heads: 3 }, /4 attention heads cannot be grouped over 3 kv heads/],
    [{ ...base, mlp_bias: true }, /mlp_bias/],
  ])("%j", (cfg, message) => {
    expect(() => llamaConfigFromHf("m/config.json", cfg)).toThrow(UnsupportedModelError);
    expect(() => llamaConfigFromHf("m/config.json", cfg)).toThrow(message);
    expect(() => llamaConfigFromHf("m/config.json", cfg)).toThrow(/^m\/config\.json: /);
  });
});
