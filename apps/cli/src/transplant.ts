import { resolve } from "node:path";
import { resolveModelSource, terminalProgress } from "@edgespec/models/node";
import { checkpointFiles, DEFAULT_K, readCheckpoint, TRANSPLANT_METHODS, type TransplantMethod, transplantTokenizer } from "@edgespec/transplant";
import { assertNewFolder, writeFolder } from "./files";
import { intOption, parseOptions, UsageError } from "./usage";

export async function transplantCommand(argv: string[]): Promise<number> {
  const values = parseOptions(argv, {
    base: { type: "string" },
    donor: { type: "string" },
    "base-tokenizer": { type: "string" },
    "donor-tokenizer": { type: "string" },
    k: { type: "string" },
    method: { type: "string" },
    seed: { type: "string" },
    out: { type: "string" },
    json: { type: "boolean" },
  }) as Record<string, string | boolean | undefined>;
  const need = (name: string) => {
    const v = values[name];
    if (typeof v !== "string" || !v) throw new UsageError(`transplant needs --${name}`);
    return v;
  };
  const baseRef = need("base");
  const donorRef = need("donor");
  const out = resolve(need("out"));
  const method = (values.method ?? "omp") as TransplantMethod;
  if (!TRANSPLANT_METHODS.includes(method))
    throw new UsageError(`--method must be one of ${TRANSPLANT_METHODS.join(", ")}, got ${JSON.stringify(values.method)}`);
  const k = intOption("k", values.k as string | undefined, DEFAULT_K, 1, 4096);
  const seed = intOption("seed", values.seed as string | undefined, 0, 0, 2 ** 32 - 1);
  assertNewFolder(out);

  // a hub id or URL downloads first, with a progress bar
  const onProgress = terminalProgress();
  const sourceOf = (ref: string) => resolveModelSource(ref, { onProgress });
  const tokenizerOf = async (flag: string) => {
    const v = values[flag];
    if (typeof v !== "string") return undefined;
    const source = await sourceOf(v);
    if (!source.entry) throw new UsageError(`--${flag} must name a file`);
    return { source, file: source.entry };
  };
  const base = await readCheckpoint(await sourceOf(baseRef), { tokenizer: await tokenizerOf("base-tokenizer") });
  const donor = await readCheckpoint(await sourceOf(donorRef), { tokenizer: await tokenizerOf("donor-tokenizer") });
  const bar = progressLine();
  const result = await transplantTokenizer(base, donor, { method, k, seed, onProgress: bar });
  const files = checkpointFiles(result.checkpoint, { ...result.record, base: baseRef, donor: donorRef });

  writeFolder(out, files);
  const summary = {
    out,
    method,
    k: method === "omp" ? k : null,
    anchors: result.match.anchors.length,
    approximated: result.embed.approximated.length,
    vocab_size: result.checkpoint.config.vocabSize,
    tied: result.checkpoint.config.tieWordEmbeddings,
    seconds: Number(result.seconds.toFixed(3)),
    files: [...files.keys()],
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `wrote ${out}: ${base.label} now speaks the tokenizer of ${donor.label} (${summary.vocab_size} tokens: ${summary.anchors} shared and copied, ${summary.approximated} approximated by ${method}${method === "omp" ? ` with k = ${k}` : ""}, ${summary.seconds} s)\n`,
    );
  }
  return 0;
}

/** OMP progress on stderr: a redrawn line on a terminal, nothing in logs. */
function progressLine(): (done: number, total: number, name: string) => void {
  return (done, total, name) => {
    if (!process.stderr.isTTY) return;
    process.stderr.write(`\r${name}: ${done}/${total} tokens approximated\x1b[K${done === total ? "\n" : ""}`);
  };
}
