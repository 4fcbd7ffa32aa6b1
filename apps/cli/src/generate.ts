/**
 * `edgespec generate`: load a model from anywhere, decode, stream the text.
 *
 * Modes: sampling / greedy through generate() (the default; --temperature 0 is greedy),
 * --beams N (beam search; with --diverse-groups G, Diverse Beam Search), --momentum
 * (momentum decoding), --first-finish N (First Finish Search). --regex / --json-schema
 * constrain the sampling mode. --chat renders the prompt as a user message with the
 * model's chat template.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  beamSearch,
  DecodingOptionsError,
  encodePrompt,
  firstFinishSearch,
  type GenerateOptions,
  generate,
  momentumDecode,
  TokenConstraint,
} from "@edgespec/decoding";
import { createDrafter } from "@edgespec/drafters";
import {
  type BackendChoice,
  type ChatMessage,
  type LlamaModel,
  type LoadedModel,
  loadCausalLM,
  loadLlama,
  TextStream,
  type Tokenizer,
  WEIGHT_DTYPES,
  type WeightDType,
} from "@edgespec/models";
import { resolveModelSource, terminalProgress } from "@edgespec/models/node";
import { backendLine, backendOptions, releaseBackend } from "./backend";
import { intOption, numberOption, threadsOption, UsageError } from "./usage";

const SAMPLING_FLAGS = ["temperature", "top-k", "top-p", "min-p", "typical-p"] as const;

export async function generateCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (!v.model) throw new UsageError("--model is required");
  const maxTokens = intOption("max-tokens", v["max-tokens"], 256, 0);
  const contextLength = v.context === undefined ? undefined : intOption("context", v.context, 0, 1);
  const dtype = v.dtype as WeightDType | undefined;
  if (dtype !== undefined && !WEIGHT_DTYPES.includes(dtype))
    throw new UsageError(`--dtype must be one of ${WEIGHT_DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`);
  const mode = pickMode(v);
  const sampling: GenerateOptions = {
    temperature: numberOption("temperature", v.temperature, mode === "first-finish" ? 1 : 0, 0, 100),
    topK: v["top-k"] === undefined ? undefined : intOption("top-k", v["top-k"], 0, 0),
    topP: v["top-p"] === undefined ? undefined : numberOption("top-p", v["top-p"], 1, 0, 1),
    minP: v["min-p"] === undefined ? undefined : numberOption("min-p", v["min-p"], 0, 0, 1),
    typicalP: v["typical-p"] === undefined ? undefined : numberOption("typical-p", v["typical-p"], 1, 0, 1),
    repetitionPenalty: v["repetition-penalty"] === undefined ? undefined : numberOption("repetition-penalty", v["repetition-penalty"], 1, 0, 100),
    frequencyPenalty: v["frequency-penalty"] === undefined ? undefined : numberOption("frequency-penalty", v["frequency-penalty"], 0, -100, 100),
    presencePenalty: v["presence-penalty"] === undefined ? undefined : numberOption("presence-penalty", v["presence-penalty"], 0, -100, 100),
    seed: intOption("seed", v.seed, 0, 0, 2 ** 32 - 1),
    stop: v.stop,
  };
  const schemaText = v["json-schema"] === undefined ? undefined : readSchema(v["json-schema"]);
  const json = Boolean(v.json);
  const backend = await backendOptions(v.backend);

  const onProgress = terminalProgress();
  const source = await resolveModelSource(v.model, { onProgress });
  const tokenizer = v.tokenizer ? { source: await resolveModelSource(v.tokenizer, { onProgress }), file: "" } : undefined;
  if (tokenizer) tokenizer.file = tokenizer.source.entry ?? "";
  if (tokenizer && !tokenizer.file) throw new UsageError("--tokenizer must name a file");
  const kvCache = v["kv-cache"] as "f32" | "f16" | undefined;
  if (kvCache !== undefined && kvCache !== "f32" && kvCache !== "f16") throw new UsageError(`--kv-cache must be f32 or f16, got ${JSON.stringify(kvCache)}`);
  const loaded = await loadCausalLM(source, { dtype, contextLength, kvCache, tokenizer, onProgress, threads: threadsOption(v.threads), ...backend });
  const choice = v.backend === undefined ? undefined : loaded.backendChoice;
  if (choice && v.stats && !json) process.stderr.write(backendLine(choice));
  try {
    const input: string | ChatMessage[] = v.chat ? [{ role: "user", content: v.prompt ?? "" }] : (v.prompt ?? "");
    if (mode === "sample") {
      if (v.regex !== undefined) sampling.constraint = TokenConstraint.regex(v.regex, loaded.tokenizer);
      if (schemaText !== undefined) sampling.constraint = TokenConstraint.jsonSchema(schemaText, loaded.tokenizer);
      // an early-exit draft runs on the target's backend, and drafters read their drafts synchronously
      if (v.drafter?.includes("early-exit") && !loaded.model.syncRead)
        throw new UsageError(
          `--drafter ${v.drafter} drafts on the model's ${loaded.model.backend.name} backend, which cannot read synchronously; use a model-free drafter or model:PATH`,
        );
      const drafter =
        v.drafter === undefined ? null : await createDrafter(v.drafter, { model: loaded.model, tokenizer: loaded.tokenizer, loadModel: loadDraftModel });
      if (drafter) sampling.drafter = drafter;
      if (v["draft-budget"] !== undefined) {
        if (!drafter) throw new UsageError("--draft-budget needs --drafter");
        sampling.draftBudget = intOption("draft-budget", v["draft-budget"], 0, 0, 1024);
      }
      try {
        return await runGenerate(loaded, input, { ...sampling, maxTokens }, json, Boolean(v.stats), choice);
      } finally {
        drafter?.free?.();
      }
    }
    const promptIds = encodePrompt(loaded.tokenizer, input);
    const eos = [...new Set([...loaded.tokenizer.eosIds, ...loaded.config.eosTokenIds])];
    const room = Math.max(1, Math.min(maxTokens, loaded.model.contextLength - promptIds.length));
    if (mode === "beams") {
      const beams = intOption("beams", v.beams, 1, 1, 256);
      const groups = intOption("diverse-groups", v["diverse-groups"], 1, 1, beams);
      const r = beamSearch(loaded.model, promptIds, {
        beams,
        groups,
        diversityPenalty: groups > 1 ? numberOption("diversity-penalty", v["diversity-penalty"], 1, 0, 1000) : 0,
        lengthPenalty: numberOption("length-penalty", v["length-penalty"], 1, -10, 10),
        maxTokens: room,
        numReturn: beams,
        endIds: eos,
        repetitionPenalty: sampling.repetitionPenalty,
      });
      const hyps = r.hypotheses.map((h) => ({
        text: detokenize(loaded.tokenizer, promptIds, h.tokens, eos),
        tokens: h.tokens,
        score: h.score,
        group: h.group,
      }));
      report(json, hyps[0].text, { hypotheses: hyps, stats: r.stats });
    } else if (mode === "momentum") {
      const r = momentumDecode(loaded.model, promptIds, {
        maxTokens: room,
        alpha: v["momentum-alpha"] === undefined ? undefined : numberOption("momentum-alpha", v["momentum-alpha"], 0.2, 0, 100),
        k: v["momentum-k"] === undefined ? undefined : intOption("momentum-k", v["momentum-k"], 5, 1),
      });
      report(json, detokenize(loaded.tokenizer, promptIds, r.tokens, eos), { tokens: r.tokens, revisits: r.revisits, finish_reason: r.finishReason });
    } else {
      const n = intOption("first-finish", v["first-finish"], 4, 1, 256);
      const r = firstFinishSearch(loaded.model, promptIds, { ...sampling, stop: undefined, n, maxTokens: room, endIds: eos } as never);
      report(json, detokenize(loaded.tokenizer, promptIds, r.sample.tokens, eos), {
        tokens: r.sample.tokens,
        winner: r.winner,
        finished: r.sample.finished,
        stats: r.stats,
      });
    }
    return 0;
  } catch (e) {
    if (e instanceof DecodingOptionsError) throw new UsageError(e.message);
    throw e;
  } finally {
    loaded.model.free();
    releaseBackend(loaded.model);
  }
}

type Mode = "sample" | "beams" | "momentum" | "first-finish";

function pickMode(v: ReturnType<typeof parse>["values"]): Mode {
  const modes: Mode[] = [];
  if (v.beams !== undefined) modes.push("beams");
  if (v.momentum) modes.push("momentum");
  if (v["first-finish"] !== undefined) modes.push("first-finish");
  if (modes.length > 1) throw new UsageError(`--${modes.join(", --")} are different search strategies; pick one`);
  const mode = modes[0] ?? "sample";
  if (v["diverse-groups"] !== undefined && mode !== "beams") throw new UsageError("--diverse-groups needs --beams N");
  if (mode !== "sample") {
    if (v.regex !== undefined || v["json-schema"] !== undefined)
      throw new UsageError(`--regex / --json-schema constrain sampling; they do not combine with --${mode}`);
    if (v.stop !== undefined) throw new UsageError(`--stop works with sampling and greedy decoding, not --${mode}`);
    if (v.drafter !== undefined) throw new UsageError(`--drafter speeds up sampling and greedy decoding, not --${mode}`);
  }
  if (mode === "beams" || mode === "momentum")
    for (const f of SAMPLING_FLAGS) if (v[f] !== undefined) throw new UsageError(`--${f} is a sampling option; --${mode} is deterministic`);
  if (v.regex !== undefined && v["json-schema"] !== undefined) throw new UsageError("--regex and --json-schema are two constraints; pick one");
  return mode;
}

function readSchema(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--json-schema ${file}: ${(e as Error).message}`);
  }
}

async function runGenerate(
  loaded: LoadedModel,
  input: string | ChatMessage[],
  opts: GenerateOptions,
  json: boolean,
  stats: boolean,
  backend?: BackendChoice,
): Promise<number> {
  const g = generate(loaded.model, loaded.tokenizer, input, opts);
  if (!json) for await (const t of g) if (t.text) process.stdout.write(t.text);
  const r = await g;
  const s = r.stats;
  if (json) {
    const out: Record<string, unknown> = {
      text: r.text,
      tokens: r.tokens,
      finish_reason: r.finishReason,
      stats: {
        prompt_tokens: s.promptTokens,
        generated_tokens: s.generatedTokens,
        time_to_first_token_ms: round(s.timeToFirstTokenMs),
        prefill_ms: round(s.prefillMs),
        decode_ms: round(s.decodeMs),
        tokens_per_s: round(s.tokensPerSecond),
        ...(s.constraintChecks !== undefined ? { constraint_checks: s.constraintChecks } : {}),
        ...(backend ? { backend: { name: backend.backend, reason: backend.reason, wasm_ms: backend.wasmMs, webgpu_ms: backend.webgpuMs } } : {}),
        ...(s.speculative
          ? {
              steps: s.speculative.steps,
              mean_accepted: round(s.speculative.meanAccepted),
              proposed: s.speculative.proposed,
              accepted: s.speculative.accepted,
              draft_budget: s.speculative.budget,
              draft_ms: round(s.speculative.draftMs),
              verify_ms: round(s.speculative.verifyMs),
            }
          : {}),
      },
    };
    if (r.logWeight !== undefined) out.log_weight = r.logWeight;
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    process.stdout.write("\n");
    const spec = s.speculative ? ` · ${s.speculative.steps} verify steps, ${fmt(s.speculative.meanAccepted)} tokens/step (budget ${s.speculative.budget})` : "";
    if (stats)
      process.stderr.write(
        `\n[${s.promptTokens} prompt tokens, ${s.generatedTokens} generated (${r.finishReason}) · first token ${fmt(s.timeToFirstTokenMs)} ms · prefill ${fmt(s.prefillMs)} ms · decode ${fmt(s.decodeMs)} ms · ${fmt(s.tokensPerSecond)} tok/s${spec}]\n`,
      );
  }
  return 0;
}

async function loadDraftModel(path: string): Promise<LlamaModel> {
  return (await loadLlama(await resolveModelSource(path))).model;
}

/** What the tokens add to the prompt's text (streaming rules: whole characters, no BOS space loss). */
function detokenize(tokenizer: Tokenizer, promptIds: number[], tokens: readonly number[], eos: readonly number[]): string {
  const stream = new TextStream(tokenizer, promptIds);
  let text = "";
  for (const t of tokens) if (!eos.includes(t)) text += stream.push(t);
  return text + stream.flush();
}

function report(json: boolean, text: string, extra: Record<string, unknown>): void {
  process.stdout.write(json ? `${JSON.stringify({ text, ...extra })}\n` : `${text}\n`);
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
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
      chat: { type: "boolean" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      "min-p": { type: "string" },
      "typical-p": { type: "string" },
      "repetition-penalty": { type: "string" },
      "frequency-penalty": { type: "string" },
      "presence-penalty": { type: "string" },
      stop: { type: "string", multiple: true },
      seed: { type: "string" },
      beams: { type: "string" },
      "diverse-groups": { type: "string" },
      "diversity-penalty": { type: "string" },
      "length-penalty": { type: "string" },
      momentum: { type: "boolean" },
      "momentum-alpha": { type: "string" },
      "momentum-k": { type: "string" },
      "first-finish": { type: "string" },
      regex: { type: "string" },
      "json-schema": { type: "string" },
      drafter: { type: "string" },
      "draft-budget": { type: "string" },
      dtype: { type: "string" },
      threads: { type: "string" },
      backend: { type: "string" },
      "kv-cache": { type: "string" },
      context: { type: "string" },
      json: { type: "boolean" },
      stats: { type: "boolean" },
    },
  });
}
