/**
 * `edgespec convert <hf-model-dir> --to gguf --dtype f32|f16|q8_0|q4_0 -o out.gguf`: a Hugging
 * Face Llama / Mistral / Qwen2 folder to one GGUF file that our loader and llama.cpp read alike.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { GGUF_FILE_DTYPES, type GgufFileDType, type GgufProgress } from "@edgespec/models";
import { convertHfFolderToGguf, OutputExistsError } from "@edgespec/models/node";
import { InputError } from "./files";
import { parseOptions, UsageError } from "./usage";

export async function convertCommand(argv: string[]): Promise<number> {
  // the model folder comes first; parseOptions takes flags only
  const dir = argv[0] !== undefined && !argv[0].startsWith("-") ? argv[0] : undefined;
  const flags = dir === undefined ? argv : argv.slice(1);
  const values = parseOptions(flags, {
    to: { type: "string" },
    dtype: { type: "string" },
    output: { type: "string", short: "o" },
    vocab: { type: "string" },
    name: { type: "string" },
    force: { type: "boolean" },
    json: { type: "boolean" },
  }) as Record<string, string | boolean | undefined>;
  if (!dir) throw new UsageError("convert needs the model folder: edgespec convert <hf-model-dir> --to gguf --dtype D -o out.gguf");
  const to = (values.to as string | undefined) ?? "gguf";
  if (to !== "gguf") throw new UsageError(`--to must be gguf, got ${JSON.stringify(to)}`);
  const dtype = values.dtype as string | undefined;
  if (dtype === undefined) throw new UsageError(`convert needs --dtype (${GGUF_FILE_DTYPES.join(", ")})`);
  if (!GGUF_FILE_DTYPES.includes(dtype as GgufFileDType))
    throw new UsageError(`--dtype must be one of ${GGUF_FILE_DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`);
  const output = values.output as string | undefined;
  if (!output) throw new UsageError("convert needs -o out.gguf");
  if (!output.endsWith(".gguf")) throw new UsageError(`-o must name a .gguf file, got ${JSON.stringify(output)}`);

  const input = resolve(dir);
  if (!existsSync(input)) throw new InputError(`${input} does not exist`);
  if (!statSync(input).isDirectory()) throw new InputError(`${input} is not a folder; convert reads a Hugging Face model folder (config.json, *.safetensors)`);
  const vocabFile = values.vocab as string | undefined;
  if (vocabFile !== undefined && !existsSync(vocabFile)) throw new InputError(`--vocab ${resolve(vocabFile)} does not exist`);
  const out = resolve(output);
  if (existsSync(out) && !values.force) throw new InputError(`${out} exists; pass --force to replace it`);

  const t0 = performance.now();
  let result: Awaited<ReturnType<typeof convertHfFolderToGguf>>;
  try {
    result = await convertHfFolderToGguf(input, out, {
      dtype: dtype as GgufFileDType,
      vocabFile,
      name: values.name as string | undefined,
      force: Boolean(values.force),
      onProgress: progressLine(out),
    });
  } catch (e) {
    if (e instanceof OutputExistsError) throw new InputError(e.message);
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary = {
    out: result.out,
    dtype,
    architecture: result.plan.architecture,
    tensors: result.plan.tensors.length,
    bytes: result.bytes,
    seconds: Number(seconds.toFixed(3)),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else
    process.stdout.write(
      `wrote ${summary.out}: ${summary.architecture} GGUF, ${dtype}, ${summary.tensors} tensors, ${(summary.bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s\n`,
    );
  return 0;
}

/** Progress on stderr: one line redrawn on a terminal; a line per tenth of the bytes in logs. */
function progressLine(out: string): (p: GgufProgress) => void {
  let lastTenth = -1;
  return (p) => {
    const pct = Math.floor((100 * p.bytes) / p.totalBytes);
    const text = `converting to ${out}: ${p.index}/${p.count} tensors, ${pct}%`;
    if (process.stderr.isTTY) {
      process.stderr.write(`\r${text}\x1b[K${p.index === p.count ? "\n" : ""}`);
      return;
    }
    const tenth = Math.floor(pct / 10);
    if (tenth !== lastTenth || p.index === p.count) {
      lastTenth = tenth;
      process.stderr.write(`${text}\n`);
    }
  };
}
