// FastDraft step 1: a distillation corpus written by the target itself.
//
// Runs `edgespec generate --json` (the CLI, built) on TinyStories-656K many times with
// varied openers, seeds and temperatures, two processes at a time, and stores every story
// as token ids: BOS, the prompt's ids (our tokenizer), the generated ids, EOS when the
// story ended. Output (gitignored): .data/corpus.u16 (little-endian uint16, stories one
// after another) and .data/corpus.json (counts). Stories are appended to .data/stories.part
// as they come (a rerun resumes from there), and a failed CLI run is retried (the CLI
// reads the workspace's built dists, which a concurrent build may briefly remove).
//
//   node tools/fastdraft/gen-corpus.mjs [stories=5000] [model=../shared/models/tinystories-656k]
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const stories = Number(process.argv[2] ?? 5000);
const modelDir = resolve(root, process.argv[3] ?? "../shared/models/tinystories-656k");
const cli = join(root, "apps/cli/dist/main.js");
const out = join(here, ".data");

// the tokenizer, from the built models package
const { loadCausalLM } = await import(join(root, "packages/models/dist/index.js"));
const { resolveModelSource } = await import(join(root, "packages/models/dist/node.js"));
const { encodePrompt } = await import(join(root, "packages/decoding/dist/index.js"));
const { model, tokenizer } = await loadCausalLM(await resolveModelSource(modelDir));
model.free();

const OPENERS = [
  "Once upon a time",
  "Once upon a time, there was a little girl named",
  "Once upon a time, there was a little boy named",
  "Once upon a time, in a big forest,",
  "One day,",
  "One day, a little",
  "Tom and Lily",
  "Sue had a",
  "There was a big",
  "Ben wanted to",
  "The dog",
  "Mom said",
  "It was a sunny day.",
  "Max was a",
  "The little bird",
  "Anna liked to",
  "In the park,",
  "A cat named",
  "The sky was",
  "Tim found a",
  "Sara and her mom",
  "Every day,",
  "The old man",
  "Lucy was sad because",
  "Jack had a red",
  "At school,",
  "The princess",
  "A big bear",
  "Once there was a happy",
  "Amy saw a",
];
const TEMPS = [0.6, 0.7, 0.8, 0.9, 1.0];

function runOnce(i) {
  const prompt = OPENERS[i % OPENERS.length];
  const temperature = TEMPS[Math.floor(i / OPENERS.length) % TEMPS.length];
  const args = [
    cli,
    "generate",
    "--model",
    modelDir,
    "--prompt",
    prompt,
    "--temperature",
    String(temperature),
    "--max-tokens",
    "300",
    "--seed",
    String(i + 1),
    "--json",
  ];
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let s = "";
    p.stdout.on("data", (d) => {
      s += d;
    });
    p.on("close", (code) => {
      if (code !== 0) return fail(new Error(`generate ${i} exited ${code}`));
      const r = JSON.parse(s);
      const ids = [...encodePrompt(tokenizer, prompt), ...r.tokens];
      if (r.finish_reason === "stop") ids.push(tokenizer.eosIds?.[0] ?? 2);
      ok(ids);
    });
  });
}

async function run(i) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(i);
    } catch (e) {
      if (attempt >= 30) throw e;
      console.error(`${e.message}; retrying in 2 s`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

// resume: records of [index, length, ...ids] (uint16) already written
mkdirSync(out, { recursive: true });
const part = join(out, "stories.part");
const results = new Array(stories);
if (existsSync(part)) {
  const b = readFileSync(part);
  const a = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + (b.byteLength & ~1)));
  for (let o = 0; o + 2 <= a.length && o + 2 + a[o + 1] <= a.length; o += 2 + a[o + 1])
    if (a[o] < stories) results[a[o]] = Array.from(a.subarray(o + 2, o + 2 + a[o + 1]));
}
const todo = [];
for (let i = 0; i < stories; i++) if (!results[i]) todo.push(i);
console.error(`${stories - todo.length} stories already in ${part}; ${todo.length} to go`);
let next = 0;
const t0 = performance.now();
async function worker() {
  while (next < todo.length) {
    const i = todo[next++];
    const ids = await run(i);
    results[i] = ids;
    appendFileSync(part, Buffer.from(Uint16Array.from([i, ids.length, ...ids]).buffer));
    if (next % 250 === 0) console.error(`${next}/${todo.length} stories, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
}
await Promise.all([worker(), worker()]);
const total = results.reduce((a, r) => a + r.length, 0);
const buf = new Uint16Array(total);
let o = 0;
for (const r of results) {
  buf.set(r, o);
  o += r.length;
}
writeFileSync(join(out, "corpus.u16"), Buffer.from(buf.buffer));
writeFileSync(
  join(out, "corpus.json"),
  JSON.stringify({ stories, tokens: total, vocab: 2048, bos: tokenizer.bosId, model: modelDir, seconds: (performance.now() - t0) / 1000 }, null, 2),
);
console.error(`${stories} stories, ${total} tokens in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${out}`);
