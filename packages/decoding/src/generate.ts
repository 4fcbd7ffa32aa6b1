/**
 * generate(): a prompt or chat in, streamed tokens out.
 *
 *   ids = BOS? + encode(prompt or chat template)
 *   logits = prefill(ids)
 *   repeat: processors (steering, penalties, bias, masks, temperature, top-k/p...) → pick
 *           (with a constraint: ... temperature → constraint → top-k/p... → pick)
 *           → stop on EOS / stop id / stop string / max tokens / abort → step(token)
 *
 * The result is an async iterator of {token, text, logprob} and also a promise of the whole
 * result, whichever the caller uses. Text streams through TextStream (never half a UTF-8
 * character) and stop strings are held back until they can no longer match. Decoding
 * yields to the event loop every few tens of milliseconds so an AbortSignal fired from a
 * timer or a request close is seen promptly. Logits are awaited: a model on a backend without
 * synchronous reads (WebGPU, syncRead false) is run through its async twins (prefillAsync,
 * stepAsync, verifyAsync).
 */
import { type ChatMessage, TextStream, type Tokenizer } from "@edgespec/models";
import { awrsSample, type TokenConstraint } from "./constrained/index";
import { ConstraintError, DecodingOptionsError } from "./errors";
import { type CausalLM, canVerifyTrees, forwardsOf, type TreeVerifyingLM } from "./model";
import { applyProcessors, buildProcessors, type LogitsProcessor, type SamplingOptions, validateSamplingOptions } from "./processors";

const NO_TRUNCATION = { topK: undefined, topP: undefined, minP: undefined, typicalP: undefined };

import { encodePrompt, type PromptInput } from "./prompt";
import { type Rng, seededRng } from "./rng";
import { argmax, gumbelSample, logSumExp, sampleLogits } from "./sampling";
import { budgetFromCurve, verifyCostCurveAsync } from "./speculative/budget";
import type { Drafter } from "./speculative/drafter";
import { checkDrafterVocabulary, type Produced, SpeculativeEngine, type SpeculativeStats } from "./speculative/engine";
import { steeringProcessor } from "./steering";
import { StopStrings } from "./stop-strings";

export interface GenerateOptions extends SamplingOptions {
  /** most tokens to generate; default 256 */
  maxTokens?: number;
  /** generation ends before the first occurrence of any of these (not included in the text) */
  stop?: string | readonly string[];
  /** token ids that end generation, besides the tokenizer's and model's EOS ids */
  stopIds?: readonly number[];
  /** keep going through EOS ids (stop ids still stop); otherwise the EOS tokens' texts ("<|eot_id|>") are stop strings too */
  ignoreEos?: boolean;
  /** seed of the sampling generator; default 0 */
  seed?: number;
  signal?: AbortSignal;
  /** only outputs this regex / JSON Schema constraint accepts */
  constraint?: TokenConstraint;
  /**
   * "awrs" (default): check sampled tokens lazily; "mask": mask the whole vocabulary each
   * step. Truncation samplers (topK, topP, minP, typicalP) must see the constrained
   * distribution, so with any of them the mask is used; greedy uses the mask too.
   */
  constraintMethod?: "awrs" | "mask";
  /** SVDecode: logits += strength · vector (vocabulary-sized, logit space) before any other processor */
  steering?: { vector: Float32Array | ((context: readonly number[]) => Float32Array); strength: number };
  /** extra processors run after the built-in ones */
  processors?: readonly LogitsProcessor[];
  /**
   * speculative decoding: guesses verified as a tree in one forward. Greedy: the same tokens;
   * sampling: by default the same tokens as without the drafter for the same seed (see
   * `verification`).
   */
  drafter?: Drafter;
  /**
   * How sampled drafts are verified. "coupled" (default): every position's token is the keyed
   * Gumbel-max draw plain sampling takes with this seed, and a draft is accepted when it is
   * that token, so the text is the same with any drafter, budget or host. A one-hot draft x
   * is accepted with p(x) either way; drafts sampled from a q near p are accepted less often
   * than under the rejection rules (p(x) instead of min(1, p(x)/q(x))), since the draft's
   * randomness is not coupled to the target's. "rejection": the classic rules (Leviathan /
   * SpecInfer recursive rejection / RSD without replacement), lossless in distribution, but
   * the text depends on the trees, and so on the budget and timing.
   */
  verification?: "coupled" | "rejection";
  /**
   * most draft nodes per step. Default: from the model's measured verify cost curve, and the
   * engine pauses drafting while it costs more than it gains.
   */
  draftBudget?: number;
}

export interface GeneratedToken {
  token: number;
  /** text this token releases (may be empty while a character or a possible stop string is incomplete) */
  text: string;
  /** log-probability of the token under the model (before processors) */
  logprob: number;
}

export type FinishReason = "eos" | "stop" | "length" | "context" | "abort" | "constraint";

export interface GenerateStats {
  promptTokens: number;
  generatedTokens: number;
  /** from the call to the first generated token (prefill included) */
  timeToFirstTokenMs: number;
  prefillMs: number;
  decodeMs: number;
  /** generated tokens per second of decoding (after prefill) */
  tokensPerSecond: number;
  /** constraint checks (token × automaton walks) done, when constrained */
  constraintChecks?: number;
  /** with a drafter: verify steps, proposed / accepted drafts, mean accepted tokens per step, per-step records */
  speculative?: SpeculativeStats;
}

export interface GenerateResult {
  text: string;
  tokens: number[];
  logprobs: number[];
  finishReason: FinishReason;
  /** AWRS: log of the sequence's unbiased importance weight (for sequential Monte Carlo) */
  logWeight?: number;
  stats: GenerateStats;
}

/** A running generation: iterate it for streamed tokens, or await it for the whole result. */
export class Generation implements AsyncIterable<GeneratedToken>, PromiseLike<GenerateResult> {
  private started = false;
  private result: Promise<GenerateResult> | null = null;
  private resolveResult!: (r: GenerateResult) => void;
  private rejectResult!: (e: unknown) => void;

  constructor(private readonly body: (finish: (r: GenerateResult) => void) => AsyncGenerator<GeneratedToken>) {
    this.result = new Promise((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // an unobserved failure is reported through the iterator or then(), not as unhandled
    this.result.catch(() => {});
  }

  [Symbol.asyncIterator](): AsyncIterator<GeneratedToken> {
    if (this.started) throw new DecodingOptionsError("a generation can be iterated once");
    this.started = true;
    const it = this.body((r) => this.resolveResult(r));
    return {
      next: async () => {
        try {
          return await it.next();
        } catch (e) {
          this.rejectResult(e);
          throw e;
        }
      },
      return: async (v?: unknown) => {
        // a consumer that stops early: the result so far is still delivered
        const r = await it.return(v as undefined);
        return r;
      },
    };
  }

  // biome-ignore lint/suspicious/noThenProperty: awaiting a Generation for its whole result is the documented API
  then<A = GenerateResult, B = never>(
    onfulfilled?: ((value: GenerateResult) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    if (!this.started) {
      const it = this[Symbol.asyncIterator]();
      (async () => {
        while (!(await it.next()).done);
      })().catch(() => {});
    }
    return (this.result as Promise<GenerateResult>).then(onfulfilled, onrejected);
  }
}

interface Plan {
  promptIds: number[];
  maxTokens: number;
  stops: string[];
  endIds: Set<number>;
  greedy: boolean;
  /** before the constraint: steering, penalties, bias, masks, temperature */
  processors: LogitsProcessor[];
  /** after the constraint: truncation samplers, then the caller's extra processors */
  warpers: LogitsProcessor[];
  /** check sampled tokens lazily (AWRS) rather than masking */
  lazy: boolean;
  rng: Rng;
  seed: number;
  /** speculative decoding; without a budget, it comes from the cost curve measured when decoding starts */
  spec: { drafter: Drafter; budget?: number } | null;
}

/**
 * Generate from a prompt string or chat messages. Options are checked here, before any
 * decoding: a bad option throws DecodingOptionsError (or ConstraintError) synchronously.
 */
export function generate(model: CausalLM, tokenizer: Tokenizer, input: PromptInput, options: GenerateOptions = {}): Generation {
  const plan = planGeneration(model, tokenizer, input, options);
  return new Generation((finish) => decode(model, tokenizer, plan, options, finish));
}

function planGeneration(model: CausalLM, tokenizer: Tokenizer, input: PromptInput, o: GenerateOptions): Plan {
  const vocab = model.config.vocabSize;
  const maxTokens = o.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new DecodingOptionsError(`maxTokens must be a non-negative integer, got ${maxTokens}`);
  const stops = o.stop === undefined ? [] : typeof o.stop === "string" ? [o.stop] : [...o.stop];
  for (const s of stops)
    if (typeof s !== "string" || s.length === 0) throw new DecodingOptionsError(`stop strings must be non-empty strings, got ${JSON.stringify(s)}`);
  for (const id of o.stopIds ?? [])
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new DecodingOptionsError(`stop id ${id} is outside the vocabulary [0, ${vocab})`);
  if (o.constraintMethod !== undefined && o.constraintMethod !== "awrs" && o.constraintMethod !== "mask")
    throw new DecodingOptionsError(`constraintMethod must be "awrs" or "mask", got ${JSON.stringify(o.constraintMethod)}`);
  if (o.constraint && o.constraint.vocabSize !== vocab)
    throw new DecodingOptionsError(`the constraint was built for a vocabulary of ${o.constraint.vocabSize} tokens, the model has ${vocab}`);
  if (o.signal !== undefined && typeof o.signal?.aborted !== "boolean") throw new DecodingOptionsError("signal must be an AbortSignal");
  if (model.syncRead === false && (typeof model.prefillAsync !== "function" || typeof model.stepAsync !== "function"))
    throw new DecodingOptionsError("the model's backend reads logits asynchronously only (WebGPU), and the model has no prefillAsync / stepAsync");
  const steering = o.steering ? [steeringProcessor(o.steering.vector, o.steering.strength, vocab)] : [];
  const greedy = o.temperature === 0;
  validateSamplingOptions(o, vocab);
  const truncation = { topK: o.topK, topP: o.topP, minP: o.minP, typicalP: o.typicalP };
  // greedy picks the argmax itself (after the constraint's mask); truncation never changes it
  const processors = [...steering, ...buildProcessors({ ...o, ...NO_TRUNCATION, temperature: greedy ? undefined : o.temperature }, vocab)];
  const warpers = [...(greedy ? [] : buildProcessors(truncation, vocab)), ...(o.processors ?? [])];
  const lazy = !greedy && (o.constraintMethod ?? "awrs") === "awrs" && warpers.length === 0;
  const rng = seededRng(o.seed ?? 0);
  const promptIds = encodePrompt(tokenizer, input);
  const outside = promptIds.find((id) => id >= vocab);
  if (outside !== undefined)
    throw new DecodingOptionsError(
      `the tokenizer gave id ${outside}, outside the model's vocabulary of ${vocab}: are the tokenizer and the model from the same checkpoint?`,
    );
  if (promptIds.length >= model.contextLength)
    throw new DecodingOptionsError(`the prompt has ${promptIds.length} tokens; the context holds ${model.contextLength}, leaving no room to generate`);
  const endIds = new Set<number>(o.stopIds ?? []);
  if (!o.ignoreEos) {
    for (const id of [...tokenizer.eosIds, ...model.config.eosTokenIds]) endIds.add(id);
    // small models learn to spell their end token out of ordinary pieces ("<|end_story|>"):
    // its text ends generation like the token does
    for (const id of endIds) {
      const text = id < vocab ? tokenizer.decode([id], { skipSpecial: false }).trim() : "";
      if (text.length > 2 && /^<.*>$/.test(text) && !stops.includes(text)) stops.push(text);
    }
  }
  let spec: Plan["spec"] = null;
  if (o.drafter) {
    if (o.constraint) throw new DecodingOptionsError("a drafter and a constraint do not combine yet; pick one");
    if (!canVerifyTrees(model)) throw new DecodingOptionsError("speculative decoding needs a model with verify(tree) and commit(path)");
    if (model.syncRead === false && typeof model.verifyAsync !== "function")
      throw new DecodingOptionsError("speculative decoding on a backend that reads asynchronously only (WebGPU) needs the model's verifyAsync");
    checkDrafterVocabulary(o.drafter, vocab);
    if (o.draftBudget !== undefined && (!Number.isInteger(o.draftBudget) || o.draftBudget < 0 || o.draftBudget > 1024))
      throw new DecodingOptionsError(`draftBudget must be an integer in [0, 1024], got ${o.draftBudget}`);
    spec = { drafter: o.drafter, budget: o.draftBudget };
  } else if (o.draftBudget !== undefined) throw new DecodingOptionsError("draftBudget needs a drafter");
  if (o.verification !== undefined && o.verification !== "coupled" && o.verification !== "rejection")
    throw new DecodingOptionsError(`verification must be "coupled" or "rejection", got ${JSON.stringify(o.verification)}`);
  return { promptIds, maxTokens, stops, endIds, greedy, processors, warpers, lazy, rng, seed: o.seed ?? 0, spec };
}

async function* decode(
  model: CausalLM,
  tokenizer: Tokenizer,
  plan: Plan,
  o: GenerateOptions,
  finish: (r: GenerateResult) => void,
): AsyncGenerator<GeneratedToken> {
  const run = forwardsOf(model);
  // an explicit budget is used as given; the measured one comes with back-off when speculation does not pay
  const costCurve = plan.spec && plan.spec.budget === undefined ? await verifyCostCurveAsync(model as TreeVerifyingLM) : undefined;
  const t0 = now();
  const { promptIds } = plan;
  const constraint = o.constraint;
  let state = constraint?.initial();
  const checks0 = constraint?.checks ?? 0;
  let logWeight = constraint && plan.lazy ? 0 : undefined;
  const context = [...promptIds];
  const tokens: number[] = [];
  const logprobs: number[] = [];
  const stream = new TextStream(tokenizer, promptIds);
  const stopper = new StopStrings(plan.stops);
  let text = "";
  let reason: FinishReason = "length";
  let firstTokenAt = 0;
  let held: GeneratedToken | null = null;

  /** The next token from one row of logits (processors, constraint, sampling); -1 when the constraint is finished. */
  const pick = (row: Float32Array): number => {
    const work = row.slice();
    applyProcessors(plan.processors, work, context);
    if (!constraint || state === undefined) {
      applyProcessors(plan.warpers, work, context);
      // keyed by position: the speculative engine draws the same token (coupled verification)
      return plan.greedy ? argmax(work) : gumbelSample(work, plan.seed, context.length);
    }
    if (constraint.isFinished(state)) return -1;
    let token: number;
    if (plan.lazy) {
      const draw = awrsSample(constraint, state, work, plan.rng);
      token = draw.token;
      if (logWeight !== undefined) logWeight += draw.logWeight;
    } else {
      const mask = constraint.mask(state);
      for (let t = 0; t < work.length; t++) if (!mask[t]) work[t] = Number.NEGATIVE_INFINITY;
      applyProcessors(plan.warpers, work, context);
      token = plan.greedy ? argmax(work) : sampleLogits(work, plan.rng);
      if (work[token] === Number.NEGATIVE_INFINITY)
        throw new ConstraintError(`after ${JSON.stringify(constraint.text(tokens))} the constraint allows only tokens that the bias / token masks ban`);
    }
    if (!plan.endIds.has(token)) {
      const next = constraint.advance(state, token);
      if (next === null) throw new Error(`internal: the constraint picked token ${token} that it does not allow`);
      state = next;
    }
    return token;
  };

  const result = (): GenerateResult => {
    const t2 = now();
    const decodeMs = t2 - t1;
    return {
      text,
      tokens,
      logprobs,
      finishReason: reason,
      ...(logWeight !== undefined ? { logWeight } : {}),
      stats: {
        promptTokens: promptIds.length,
        generatedTokens: tokens.length,
        timeToFirstTokenMs: (firstTokenAt || t2) - t0,
        prefillMs: t1 - t0,
        decodeMs,
        tokensPerSecond: tokens.length > 0 && decodeMs > 0 ? (tokens.length * 1000) / decodeMs : 0,
        ...(constraint ? { constraintChecks: constraint.checks - checks0 } : {}),
        ...(engine ? { speculative: engine.stats() } : {}),
      },
    };
  };

  model.reset();
  const engine = plan.spec
    ? new SpeculativeEngine(model as TreeVerifyingLM, plan.spec.drafter, {
        ...plan,
        budget: plan.spec.budget ?? budgetFromCurve(costCurve ?? []),
        costCurve,
        coupledSeed: o.verification === "rejection" ? undefined : plan.seed,
      })
    : null;
  if (plan.spec) plan.spec.drafter.begin(promptIds);
  let logits = plan.maxTokens > 0 ? (await run.prefill(promptIds)).logits : new Float32Array(0);
  const t1 = now();
  let lastYield = t1;
  let completed = false;
  let failed = false;
  try {
    outer: while (tokens.length < plan.maxTokens) {
      if (o.signal?.aborted) {
        reason = "abort";
        break;
      }
      let produced: Produced[];
      if (engine && tokens.length > 0) produced = await engine.stepAsync(context);
      else {
        const token = pick(logits);
        if (token < 0) {
          reason = "constraint";
          break;
        }
        produced = [{ token, logprob: logits[token] - logSumExp(logits) }];
      }
      for (const { token, logprob } of produced) {
        if (tokens.length === 0) firstTokenAt = now();
        if (plan.endIds.has(token)) {
          reason = "eos";
          break outer;
        }
        tokens.push(token);
        logprobs.push(logprob);
        context.push(token);
        const { release, stopped } = stopper.push(stream.push(token));
        text += release;
        if (held) yield held;
        held = null;
        const item: GeneratedToken = { token, text: release, logprob };
        if (stopped) {
          reason = "stop";
          yield item;
          break outer;
        }
        // an item whose text is incomplete waits, so the end of generation can complete it
        if (release === "" || stopper.holding) held = item;
        else yield item;
        if (tokens.length >= plan.maxTokens) break outer;
      }
      // the last token is in the cache (plain) or pending (speculative: verified next step)
      if (model.length + (engine ? 1 : 0) >= model.contextLength) {
        reason = "context";
        break;
      }
      if (!engine) logits = await run.step(tokens[tokens.length - 1]);
      if (now() - lastYield > 40) {
        await new Promise((r) => setTimeout(r, 0));
        lastYield = now();
      }
    }
    if (reason !== "stop") {
      const tail = stopper.push(stream.flush());
      if (tail.stopped) reason = "stop";
      const rest = tail.release + (tail.stopped ? "" : stopper.flush());
      text += rest;
      if (held) held.text += rest;
    }
    if (held) yield held;
    completed = true;
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // a consumer that stops iterating early still gets the result so far
    if (!failed) {
      if (!completed) reason = "abort";
      finish(result());
    }
  }
}

function now(): number {
  return performance.now();
}

export type { ChatMessage };
