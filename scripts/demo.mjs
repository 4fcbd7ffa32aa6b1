// The main demo: text generation with the default model, TinyStories-656K, streamed as it is
// produced and ending with stats. The model comes from the shared fixture folder
// ($EDGESPEC_FIXTURES or ../shared) when it is there, else from its Hugging Face hub id
// (downloaded once into the cache). Extra arguments go to `edgespec generate`
// (e.g. --prompt "..." --temperature 0 or --beams 4).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fixtures = resolve(process.env.EDGESPEC_FIXTURES ?? join(root, "..", "shared"));
const local = join(fixtures, "models", "tinystories-656k");
const model = existsSync(local) ? local : "raincandy-u/TinyStories-656K";
const args = process.argv.slice(2);
const search = ["--beams", "--momentum", "--first-finish"].some((f) => args.includes(f));
// sampling defaults, unless a deterministic search was asked for
const defaults = ["--prompt", "Once upon a time", "--max-tokens", "200", ...(search ? [] : ["--temperature", "0.7", "--top-p", "0.9", "--seed", "42"])];
const flags = [];
for (let i = 0; i < defaults.length; i += 2) if (!args.includes(defaults[i])) flags.push(defaults[i], defaults[i + 1]);
console.error(`edgespec generate --model ${model} ${[...flags, ...args].join(" ")}\n`);
const stats = args.includes("--json") ? [] : ["--stats"];
// generate prints only the continuation; show the prompt in front of it so the story reads whole
const all = [...flags, ...args];
const prompt = all[all.lastIndexOf("--prompt") + 1] ?? "";
process.stdout.write(prompt);
const run = spawnSync(
  process.execPath,
  [join(root, "scripts", "run-built.mjs"), "apps/cli/dist/main.js", "generate", "--model", model, ...stats, ...flags, ...args],
  {
    cwd: root,
    stdio: "inherit",
  },
);
process.exit(run.status ?? 1);
