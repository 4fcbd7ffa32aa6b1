/**
 * `edgespec generate`: load a model from anywhere, decode from BOS + prompt, stream the text.
 * Greedy at temperature 0; otherwise softmax sampling with a seeded generator, so a seed
 * reproduces a run.
 */
import { parseArgs } from "node:util";
import { type LoadedModel, loadCausalLM, TextStream, WEIGHT_DTYPES, type WeightDType } from "@edgespec/models";
import { resolveModelSource, terminalProgress } from "@edgespec/models/node";
import { splitmix32 } from "@edgespec/runtime";
import { intOption, numberOption, UsageError } from "./usage";

export async function generateCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values } = parsed;
  if (!values.model) throw new UsageError("--model is required");
  const maxTokens = intOption("max-tokens", values["max-tokens"], 256, 0);
  const temperature = numberOption("temperature", values.temperature, 0, 0, 100);
  const seed = intOption("seed", values.seed, 0, 0, 2 ** 32 - 1);
  const contextLength = values.context === undefined ? undefined : intOption("context", values.context, 0, 1);
  const dtype = values.dtype as WeightDType | undefined;
  if (dtype !== undefined && !WEIGHT_DTYPES.includes(dtype))
    throw new UsageError(`--dtype must be one of ${WEIGHT_DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`);
  const json = Boolean(values.json);

  const onProgress = terminalProgress();
  const source = await resolveModelSource(values.model, { onProgress });
  const tokenizer = values.tokenizer ? { source: await resolveModelSource(values.tokenizer, { onProgress }), file: "" } : undefined;
  if (tokenizer) tokenizer.file = tokenizer.source.entry ?? "";
  if (tokenizer && !tokenizer.file) throw new UsageError("--tokenizer must name a file");
  const loaded = await loadCausalLM(source, { dtype, contextLength, tokenizer, onProgress });
  const result = run(loaded, values.prompt ?? "", { maxTokens, temperature, seed, stream: !json });
  loaded.model.free();
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write("\n");
  return 0;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      model: { type: "string" },
      tokenizer: { type: "string" },
      prompt: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      seed: { type: "string" },
      dtype: { type: "string" },
      context: { type: "string" },
      json: { type: "boolean" },
    },
  });
}

interface RunOptions {
  maxTokens: number;
  temperature: number;
  seed: number;
  stream: boolean;
}

export function run({ model, tokenizer }: LoadedModel, prompt: string, opts: RunOptions) {
  // BOS as the tokenizer's config asks (HF add_bos_token, GGUF add_bos_token, llama2.c: always);
  // an empty prompt starts from BOS alone
  const bos = tokenizer.bosId;
  const text0 = tokenizer.encode(prompt);
  const promptIds = bos !== null && (tokenizer.addBos || text0.length === 0) ? [bos, ...text0] : text0;
  if (promptIds.length === 0) throw new UsageError("the prompt is empty and the tokenizer has no BOS token to start from");
  const eos = new Set([...tokenizer.eosIds, ...model.config.eosTokenIds]);
  const rand = splitmix32(opts.seed);
  const text = new TextStream(tokenizer, promptIds);
  const out: number[] = [];
  let generated = "";
  const emit = (s: string) => {
    generated += s;
    if (opts.stream && s) process.stdout.write(s);
  };

  const t0 = performance.now();
  model.reset();
  let logits = model.prefill(promptIds).logits;
  const t1 = performance.now();
  const room = model.contextLength - promptIds.length;
  for (let i = 0; i < Math.min(opts.maxTokens, room); i++) {
    const next = opts.temperature === 0 ? argmax(logits) : sample(logits, opts.temperature, rand);
    if (eos.has(next)) break;
    out.push(next);
    emit(text.push(next));
    if (i + 1 < opts.maxTokens && i + 1 < room) logits = model.step(next);
  }
  emit(text.flush());
  const t2 = performance.now();
  const decodeMs = t2 - t1;
  return {
    text: generated,
    tokens: out,
    stats: {
      prompt_tokens: promptIds.length,
      generated_tokens: out.length,
      prefill_ms: round(t1 - t0),
      decode_ms: round(decodeMs),
      tokens_per_s: out.length > 0 && decodeMs > 0 ? round((out.length * 1000) / decodeMs) : 0,
    },
  };
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** softmax(x / T) sampling; computed in float64 with the max subtracted. */
function sample(x: Float32Array, temperature: number, rand: () => number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of x) if (v > max) max = v;
  const p = new Float64Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    p[i] = Math.exp((x[i] - max) / temperature);
    sum += p[i];
  }
  let u = rand() * sum;
  for (let i = 0; i < x.length; i++) {
    u -= p[i];
    if (u < 0) return i;
  }
  return argmax(x);
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
