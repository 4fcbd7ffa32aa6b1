/**
 * The `edgespec` command as users run it: a child process on the built CLI, text on stdout,
 * errors on stderr with exit codes (2: bad command line, 1: bad model or input).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FixtureServer, fixturesRoot } from "../../../packages/models/test/http-server";
import { CLI, cli, runNode } from "./run-cli";

const SHARED = fixturesRoot();
const STORIES = join(SHARED, "models/stories260K");
const TINY = join(SHARED, "models/tinystories-656k");

/** `edgespec serve --port 0 ...`: its address once it listens, and a stop that returns the exit code. */
async function startServe(args: string[]): Promise<{ address: string; stop(): Promise<unknown> }> {
  const p = spawn(process.execPath, [CLI, "serve", "--port", "0", ...args]);
  let stderr = "";
  const address = await new Promise<string>((done, fail) => {
    p.stderr.on("data", (d) => {
      stderr += d;
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) done(m[1]);
    });
    p.on("close", () => fail(new Error(`serve exited: ${stderr}`)));
  });
  return {
    address,
    stop: () => {
      const code = new Promise((r) => p.on("exit", r));
      p.kill("SIGTERM");
      return code;
    },
  };
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "edgespec-cli-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("edgespec generate", () => {
  it("stories260K: greedy from BOS prints llama2.c's published text, without the prompt", async () => {
    const r = await cli(["generate", "--model", join(STORIES, "stories260K.bin"), "--tokenizer", join(STORIES, "tok512.bin"), "--max-tokens", "256"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(STORIES, "greedy_ref_256.txt"), "utf8"));
  });

  it("--json prints one object with text, generated ids and stats", async () => {
    const r = await cli(["generate", "--model", TINY, "--prompt", "Once upon a time", "--max-tokens", "8", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(["finish_reason", "stats", "text", "tokens"]);
    expect(out.finish_reason).toBe("length");
    // the reference's greedy continuation (tools/reference/llama_ref.py, test/golden/tinystories-656k.json)
    expect(out.tokens).toEqual([313, 598, 303, 1049, 1468, 267, 628, 333]);
    expect(out.text).toBe(", a little girl named Lily lived in a small house with her mom");
    expect(Object.keys(out.stats).sort()).toEqual(["decode_ms", "generated_tokens", "prefill_ms", "prompt_tokens", "time_to_first_token_ms", "tokens_per_s"]);
    expect(out.stats.prompt_tokens).toBe(6);
    expect(out.stats.generated_tokens).toBe(8);
    expect(out.stats.tokens_per_s).toBeGreaterThan(0);
  });

  it("sampling is reproducible from --seed and varies with it", async () => {
    const args = ["generate", "--model", TINY, "--prompt", "The little dog", "--max-tokens", "24", "--temperature", "1", "--json"];
    const a = JSON.parse((await cli([...args, "--seed", "1"])).stdout).tokens;
    const b = JSON.parse((await cli([...args, "--seed", "1"])).stdout).tokens;
    const c = JSON.parse((await cli([...args, "--seed", "2"])).stdout).tokens;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("loads a Hugging Face repo id through the hub endpoint into the cache", async () => {
    const server = await new FixtureServer(SHARED).start();
    server.hubRepos.set("raincandy-u/TinyStories-656K", "models/tinystories-656k");
    try {
      const env = { HF_ENDPOINT: server.url, EDGESPEC_CACHE: join(tmp, "cache") };
      const args = ["generate", "--model", "raincandy-u/TinyStories-656K", "--prompt", "Once upon a time", "--max-tokens", "8", "--json"];
      const first = await cli(args, env);
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout).tokens).toEqual([313, 598, 303, 1049, 1468, 267, 628, 333]);
      const before = server.requests.length;
      expect(before).toBeGreaterThan(0);
      const second = await cli(args, env);
      expect(second.code).toBe(0);
      expect(server.requests.length).toBe(before);
    } finally {
      await server.close();
    }
  });

  it("--stats ends the streamed text with timings on stderr", async () => {
    const r = await cli(["generate", "--model", TINY, "--prompt", "Once upon a time", "--max-tokens", "8", "--stats"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(", a little girl named Lily lived in a small house with her mom\n");
    expect(r.stderr).toMatch(/6 prompt tokens, 8 generated \(length\) · first token [\d.]+ ms · prefill [\d.]+ ms · decode [\d.]+ ms · [\d.]+ tok\/s/);
  });

  it("sampling flags, stop strings and stop reasons", async () => {
    const base = ["generate", "--model", TINY, "--prompt", "Once upon a time", "--json"];
    const stop = JSON.parse((await cli([...base, "--max-tokens", "30", "--stop", "Lily"])).stdout);
    expect(stop.text).toBe(", a little girl named ");
    expect(stop.finish_reason).toBe("stop");
    const sampled = await cli([
      ...base,
      "--max-tokens",
      "30",
      "--temperature",
      "0.8",
      "--top-k",
      "40",
      "--top-p",
      "0.9",
      "--min-p",
      "0.05",
      "--repetition-penalty",
      "1.2",
      "--seed",
      "5",
    ]);
    expect(sampled.code, sampled.stderr).toBe(0);
    expect(JSON.parse(sampled.stdout).tokens.length).toBeGreaterThan(0);
  });

  it("--beams, --diverse-groups, --momentum and --first-finish run their searches", async () => {
    const base = ["generate", "--model", TINY, "--prompt", "Once upon a time", "--max-tokens", "20", "--json"];
    const beams = JSON.parse((await cli([...base, "--beams", "4"])).stdout);
    expect(beams.hypotheses.length).toBe(4);
    expect(beams.text).toBe(beams.hypotheses[0].text);
    for (let i = 1; i < 4; i++) expect(beams.hypotheses[i].score).toBeLessThanOrEqual(beams.hypotheses[i - 1].score);
    const diverse = JSON.parse((await cli([...base, "--beams", "4", "--diverse-groups", "2", "--diversity-penalty", "2"])).stdout);
    expect(new Set(diverse.hypotheses.map((h: { group: number }) => h.group))).toEqual(new Set([0, 1]));
    const momentum = JSON.parse((await cli([...base, "--momentum"])).stdout);
    expect(momentum.tokens.length).toBeGreaterThan(0);
    const ffs = JSON.parse((await cli([...base, "--first-finish", "3", "--seed", "1"])).stdout);
    expect(ffs.winner).toBeGreaterThanOrEqual(0);
    expect(ffs.tokens.length).toBeGreaterThan(0);
  });

  it("--drafter: speculative greedy prints the plain greedy text, with speculative stats", async () => {
    const base = ["generate", "--model", TINY, "--prompt", "The dog said woof. The cat said meow. The dog said", "--max-tokens", "40", "--json"];
    const plain = JSON.parse((await cli(base)).stdout);
    for (const d of [
      "lookup",
      "recycling",
      "early-exit:1",
      "rsd",
      "dyspec",
      `model:${resolve(__dirname, "../../../packages/drafters/weights/fastdraft-tinystories")}`,
    ]) {
      const r = await cli([...base, "--drafter", d, "--draft-budget", "4"]);
      expect(r.code, `${d}: ${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.tokens, d).toEqual(plain.tokens);
      expect(out.stats.steps).toBeGreaterThan(0);
      expect(out.stats.mean_accepted).toBeGreaterThanOrEqual(1);
      expect(out.stats.draft_budget).toBe(4);
    }
    const bad = await cli([...base, "--drafter", "telepathy"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown drafter "telepathy"/);
    const wrongVocab = await cli([...base, "--drafter", `model:${join(STORIES, "stories260K.bin")}`]);
    expect(wrongVocab.code).not.toBe(0);
    expect(wrongVocab.stderr).toMatch(/vocabulary|tokenizer/);
    expect(wrongVocab.stderr).not.toMatch(/internal error/);
  });

  it("--regex and --json-schema constrain the output", async () => {
    const base = ["generate", "--model", TINY, "--prompt", "Once upon a time", "--max-tokens", "60", "--json", "--temperature", "0.9", "--seed", "3"];
    const re = JSON.parse((await cli([...base, "--regex", "(Tom|Lily) (is|was) [a-z]+( [a-z]+){0,4}\\."])).stdout);
    expect(re.text).toMatch(/^(Tom|Lily) (is|was) [a-z]+( [a-z]+){0,4}\.$/);
    const schemaFile = join(tmp, "schema.json");
    writeFileSync(
      schemaFile,
      JSON.stringify({
        type: "object",
        properties: { name: { type: "string", maxLength: 12 }, age: { type: "integer", minimum: 0, maximum: 99 } },
        required: ["name", "age"],
        additionalProperties: false,
      }),
    );
    // TinyStories' vocabulary has no token with "{": the schema runs on stories260K (byte tokens)
    const stories = [
      "generate",
      "--model",
      join(STORIES, "stories260K.bin"),
      "--tokenizer",
      join(STORIES, "tok512.bin"),
      "--max-tokens",
      "80",
      "--json",
      "--temperature",
      "0.9",
    ];
    const js = await cli([...stories, "--json-schema", schemaFile]);
    expect(js.code, js.stderr).toBe(0);
    const obj = JSON.parse(JSON.parse(js.stdout).text);
    expect(typeof obj.name).toBe("string");
    expect(Number.isInteger(obj.age)).toBe(true);
  });

  it("the main demo streams a story and ends with stats; without the shared folder it downloads the hub id", async () => {
    const demo = (env: Record<string, string>) =>
      runNode(resolve(__dirname, "../../../scripts/demo.mjs"), ["--max-tokens", "20"], { EDGESPEC_NO_BUILD: "1", ...env });
    const local = await demo({});
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout.startsWith("Once upon a time")).toBe(true);
    expect(local.stdout.length).toBeGreaterThan("Once upon a time".length + 20);
    expect(local.stderr).toMatch(/tinystories-656k/);
    expect(local.stderr).toMatch(/prompt tokens, \d+ generated .* tok\/s\]/);
    const server = await new FixtureServer(SHARED).start();
    server.hubRepos.set("raincandy-u/TinyStories-656K", "models/tinystories-656k");
    try {
      const hub = await demo({ EDGESPEC_FIXTURES: join(tmp, "no-shared-here"), HF_ENDPOINT: server.url, EDGESPEC_CACHE: join(tmp, "demo-cache") });
      expect(hub.code, hub.stderr).toBe(0);
      expect(hub.stderr).toMatch(/--model raincandy-u\/TinyStories-656K/);
      // same model, same seed: the same story
      expect(hub.stdout).toBe(local.stdout);
      expect(server.requests.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it("bad command lines exit 2 with the usage", async () => {
    for (const args of [
      ["generate"],
      ["generate", "--model", TINY, "--dtype", "q5_k"],
      ["generate", "--model", TINY, "--max-tokens", "x"],
      ["generate", "--model", TINY, "--top-p", "1.5"],
      ["generate", "--model", TINY, "--beams", "2", "--temperature", "0.5"],
      ["generate", "--model", TINY, "--beams", "2", "--momentum"],
      ["generate", "--model", TINY, "--diverse-groups", "2"],
      ["generate", "--model", TINY, "--regex", "a", "--json-schema", "x.json"],
      ["frobnicate"],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/usage:/);
    }
  });

  it("contradictions found after loading (no chat template, unsatisfiable schema, bad regex) are clear errors", async () => {
    const chat = await cli(["generate", "--model", TINY, "--prompt", "hi", "--chat"]);
    expect(chat.code).toBe(2);
    expect(chat.stderr).toMatch(/no chat template/);
    const schemaFile = join(tmp, "impossible.json");
    writeFileSync(schemaFile, JSON.stringify({ type: "array", items: { type: "integer" }, minItems: 3, maxItems: 1 }));
    const js = await cli(["generate", "--model", TINY, "--json-schema", schemaFile]);
    expect(js.code).toBe(1);
    expect(js.stderr).toMatch(/minItems/);
    const re = await cli(["generate", "--model", TINY, "--regex", "(ab"]);
    expect(re.code).toBe(1);
    expect(re.stderr).not.toMatch(/internal error/);
  });

  it("bad models exit 1 with a message that names the file", async () => {
    const noTok = await cli(["generate", "--model", join(STORIES, "stories260K.bin")]);
    expect(noTok.code).toBe(1);
    expect(noTok.stderr).toMatch(/stories260K\.bin.*--tokenizer/);
    const corrupt = join(tmp, "broken.gguf");
    writeFileSync(corrupt, Buffer.from("GGUF\x03\x00\x00\x00garbage"));
    const r = await cli(["generate", "--model", corrupt]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.gguf/);
    expect(r.stderr).not.toMatch(/internal error|at .*\.js/);
  });
});

describe("edgespec transplant", () => {
  it("writes stories260K with TinyStories-656K's tokenizer as a folder that generate loads", async () => {
    const out = join(tmp, "transplanted");
    const r = await cli(["transplant", "--base", STORIES, "--donor", TINY, "--k", "8", "--out", out, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ method: "omp", k: 8, vocab_size: 2048, tied: true });
    expect(summary.anchors + summary.approximated).toBe(2048);
    expect(summary.files.sort()).toEqual([
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "special_tokens_map.json",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(config).toMatchObject({ vocab_size: 2048, hidden_size: 64, num_hidden_layers: 5, bos_token_id: 1, eos_token_id: 2 });
    expect(config.edgespec_transplant).toMatchObject({ method: "omp", k: 8, base: STORIES, donor: TINY });
    const g = await cli(["generate", "--model", out, "--prompt", "Once upon a time", "--max-tokens", "6", "--json"]);
    expect(g.code).toBe(0);
    const gen = JSON.parse(g.stdout);
    expect(gen.tokens).toHaveLength(6);
    expect(gen.tokens.every((t: number) => t >= 0 && t < 2048)).toBe(true);
  });

  it("never writes into a folder that holds files, and names bad options", async () => {
    const out = join(tmp, "occupied");
    rmSync(out, { recursive: true, force: true });
    (await import("node:fs")).mkdirSync(out);
    writeFileSync(join(out, "keep.txt"), "mine");
    const r = await cli(["transplant", "--base", STORIES, "--donor", TINY, "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exists and is not empty; choose a new folder \(nothing is overwritten\)/);
    expect(readFileSync(join(out, "keep.txt"), "utf8")).toBe("mine");
    expect((await import("node:fs")).readdirSync(out)).toEqual(["keep.txt"]);

    const m = await cli(["transplant", "--base", STORIES, "--donor", TINY, "--method", "fancy", "--out", join(tmp, "x")]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/--method must be one of omp, mean, zero, randn/);
    const k = await cli(["transplant", "--base", STORIES, "--donor", TINY, "--k", "500", "--out", join(tmp, "y")]);
    expect(k.code).toBe(1);
    expect(k.stderr).toMatch(/k = 500 is larger than the anchor set/);
    expect((await import("node:fs")).existsSync(join(tmp, "y"))).toBe(false);
  });
});

describe("edgespec chat", () => {
  const chat = (args: string[], stdin: string) => cli(["chat", ...args], {}, stdin);

  it("answers each stdin line as a turn of one conversation through the chat template", async () => {
    // TinyStories-656K with a chat template added to a copy of its tokenizer_config.json
    const dir = join(tmp, "tiny-chat");
    const { mkdirSync, symlinkSync } = await import("node:fs");
    mkdirSync(dir, { recursive: true });
    for (const f of ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json"]) symlinkSync(join(TINY, f), join(dir, f));
    const cfg = JSON.parse(readFileSync(join(TINY, "tokenizer_config.json"), "utf8"));
    cfg.chat_template = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(cfg));
    const r = await chat(["--model", dir, "--max-tokens", "12", "--json"], "Tell me a story.\n\nWhat happened next?\n");
    expect(r.code).toBe(0);
    const turns = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(turns.map((t) => [t.turn, t.user, t.tokens])).toEqual([
      [0, "Tell me a story.", 12],
      [1, "What happened next?", 12],
    ]);
    // the same conversation gives the same replies (seeded per turn)
    const again = await chat(["--model", dir, "--max-tokens", "12", "--json"], "Tell me a story.\nWhat happened next?\n");
    expect(again.stdout).toBe(r.stdout);
  });

  it("says when the model has no chat template", async () => {
    const r = await chat(["--model", TINY], "hi\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no chat template; use `edgespec generate`/);
  });
});

describe("edgespec bench load", () => {
  it("concurrent streams against edgespec serve all complete with their lone text; malformed ones get 4xx", async () => {
    const r = await cli(["bench", "load", "--requests", "16", "--malformed", "6", "--max-tokens", "24", "--json"], { EDGESPEC_FIXTURES: SHARED });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ requests: 16, completed: 16, mismatched: 0, malformed_rejected: 6, server_up: true, errors: [] });
    expect(out.ttft_p99_ms).toBeGreaterThanOrEqual(out.ttft_p50_ms);
    expect(out.rss_mb_after).toBeLessThan(1024);
  });

  it("refuses to load anything but this machine", async () => {
    const r = await cli(["bench", "load", "--url", "http://example.com"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/must be on 127\.0\.0\.1 or localhost/);
  });
});

describe("edgespec serve", () => {
  it("serves the OpenAI-compatible API on 127.0.0.1 and stops on SIGTERM", async () => {
    const { address, stop } = await startServe(["--model", TINY, "--max-tokens", "64"]);
    try {
      const res = await fetch(`${address}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 8, temperature: 0 }),
      });
      expect(res.status).toBe(200);
      const body = await res.json();
      // the same greedy continuation as `generate` (the reference's tokens)
      const g = await cli(["generate", "--model", TINY, "--prompt", "Once upon a time", "--max-tokens", "8"]);
      expect(body.choices[0].text).toBe(g.stdout.replace(/\n$/, "")); // generate ends the text with a newline
      const big = await fetch(`${address}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "a", max_tokens: 65 }),
      });
      expect(big.status).toBe(400);
    } finally {
      expect(await stop()).toBe(0);
    }
  });
});

describe("edgespec embed / index build / search", () => {
  let splade: string;
  let docs: string;
  beforeAll(async () => {
    const { writeEncoderFixture } = await import("../../../packages/retrieval/test/fixtures/encoders");
    splade = join(tmp, "splade-tiny");
    await writeEncoderFixture("splade-tiny", splade);
    docs = join(tmp, "docs.jsonl");
    writeFileSync(
      docs,
      [
        { id: 10, text: "The cat sat on the mat." },
        { id: 11, text: "Dogs like to run in the park." },
        { text: "Learned sparse retrieval bridges keyword and dense search." },
        { id: 40, text: "A small red boat sailed across the lake at dawn." },
      ]
        .map((d) => JSON.stringify(d))
        .join("\n"),
    );
  });

  it("embed prints a SPLADE vector with readable terms", async () => {
    const r = await cli(["embed", "--model", splade, "--text", "the cat", "--top-k", "50", "--terms", "5", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.mode).toBe("splade");
    const v = out.vectors[0].sparse;
    expect(v.nnz).toBe(50);
    expect(v.ids).toHaveLength(50);
    expect(v.top_terms).toHaveLength(5);
    // terms are sorted by weight and are the heaviest entries of the vector
    const heaviest = Math.max(...v.weights);
    expect(v.top_terms[0].weight).toBeCloseTo(heaviest, 3);
  });

  it("index build + search return the exact top k of the encoded collection", async () => {
    const idx = join(tmp, "idx");
    const b = await cli(["index", "build", "--model", splade, "--input", docs, "--out", idx, "--top-k", "200", "--query-top-k", "32", "--json"]);
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ mode: "splade", documents: 4 });
    const s = await cli(["search", "--index", idx, "--query", "a cat on a mat", "--k", "4", "--json"]);
    expect(s.stderr).toBe("");
    expect(s.code).toBe(0);
    const res = JSON.parse(s.stdout);
    expect(res.results.map((x: { id: number }) => x.id).sort((a: number, b: number) => a - b)).toEqual([10, 11, 12, 40]);
    // the scores are the brute-force dot products of the quantized query and document vectors
    const { loadSpladeEncoder, quantizeWeight } = await import("@edgespec/retrieval");
    const { resolveModelSource } = await import("@edgespec/models/node");
    const enc = await loadSpladeEncoder(await resolveModelSource(splade), { topK: 200, query: { topK: 32 } });
    const q = enc.encodeQuery("a cat on a mat");
    const texts = new Map<number, string>([
      [10, "The cat sat on the mat."],
      [11, "Dogs like to run in the park."],
      [12, "Learned sparse retrieval bridges keyword and dense search."],
      [40, "A small red boat sailed across the lake at dawn."],
    ]);
    for (const hit of res.results as { id: number; score: number; text: string }[]) {
      expect(hit.text).toBe(texts.get(hit.id));
      const d = enc.encodeDocument(hit.text);
      const dw = new Map<number, number>();
      d.ids.forEach((id, i) => {
        dw.set(id, quantizeWeight(d.weights[i]));
      });
      let score = 0;
      q.ids.forEach((id, i) => {
        score += quantizeWeight(q.weights[i]) * (dw.get(id) ?? 0);
      });
      expect(hit.score).toBe(score);
    }
    const scores = (res.results as { score: number }[]).map((x) => x.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it("serve --index answers /v1/search and /v1/embeddings like the CLI", async () => {
    const idx = join(tmp, "idx");
    const cliHits = JSON.parse((await cli(["search", "--index", idx, "--query", "a cat on a mat", "--k", "4", "--json"])).stdout).results;
    const { address, stop } = await startServe(["--model", TINY, "--index", idx]);
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${address}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const s = await (await post("/v1/search", { query: "a cat on a mat", k: 4 })).json();
      expect(s.data).toEqual(cliHits);
      const e = await (await post("/v1/embeddings", { input: "the cat", encoding: "splade" })).json();
      expect(e.data[0].embedding.indices).toHaveLength(200); // the index's document pruning
    } finally {
      expect(await stop()).toBe(0);
    }
  });

  it("names bad collections and damaged index folders", async () => {
    const bad = join(tmp, "bad.jsonl");
    writeFileSync(bad, '{"text": "fine"}\n{"text": 3}\n');
    const r = await cli(["index", "build", "--model", splade, "--input", bad, "--out", join(tmp, "idx-bad")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.jsonl:2: needs a string "text" field/);
    const idx = join(tmp, "idx-damaged");
    expect((await cli(["index", "build", "--model", splade, "--input", docs, "--out", idx, "--top-k", "50", "--query-top-k", "16"])).code).toBe(0);
    const file = join(idx, "index.bin");
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(file, bytes);
    const s = await cli(["search", "--index", idx, "--query", "cat"]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/checksum|corrupt|damaged/i);
    const none = await cli(["search", "--index", join(tmp, "nowhere"), "--query", "cat"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/not an index folder/);
  });
});
