// The main demo: text generation with the default model (TinyStories-656K from the shared
// fixture folder, $EDGESPEC_FIXTURES or ../shared), streamed as it is produced. Extra
// arguments go to `edgespec generate` (e.g. --prompt "..." --temperature 0.8).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fixtures = resolve(process.env.EDGESPEC_FIXTURES ?? join(root, "..", "shared"));
const model = join(fixtures, "models", "tinystories-656k");
if (!existsSync(model)) {
  console.error(`demo: the default model is not at ${model}; set EDGESPEC_FIXTURES to the shared fixture folder`);
  process.exit(1);
}
const args = process.argv.slice(2);
const defaults = ["--prompt", "Once upon a time", "--max-tokens", "200"];
const flags = [];
for (let i = 0; i < defaults.length; i += 2) if (!args.includes(defaults[i])) flags.push(defaults[i], defaults[i + 1]);
console.error(`edgespec generate --model ${model} ${[...flags, ...args].join(" ")}\n`);
// generate prints only the continuation; show the prompt in front of it so the story reads whole
const all = [...flags, ...args];
const prompt = all[all.lastIndexOf("--prompt") + 1] ?? "";
process.stdout.write(prompt);
const run = spawnSync(process.execPath, [join(root, "scripts", "run-built.mjs"), "apps/cli/dist/main.js", "generate", "--model", model, ...flags, ...args], {
  cwd: root,
  stdio: "inherit",
});
process.exit(run.status ?? 1);
