/**
 * First Finish Search (Agarwal et al. 2025): decode n samples of the same prompt together and
 * return the first one to finish. Shorter traces are the likelier correct ones for reasoning
 * models, and the batch costs about one decode: each step is one stepBatch over the samples
 * still running, reading the weights once for all of them.
 *
 * Sample i draws from its own generator (seeded from seed and i), so the batched run and
 * the one-sample-at-a-time reference (`sequential: true`) pick the same tokens.
 */
import { DecodingOptionsError } from "./errors";
import { type BatchedCausalLM, type CausalLM, isBatched, type ModelSequence, requireSyncRead } from "./model";
import { applyProcessors, buildProcessors, type LogitsProcessor, type SamplingOptions } from "./processors";
import { type Rng, seededRng } from "./rng";
import { argmax, logSumExp, sampleLogits } from "./sampling";

export interface FirstFinishOptions extends SamplingOptions {
  /** samples decoded together */
  n: number;
  /** most tokens per sample */
  maxTokens: number;
  seed?: number;
  /** ids that finish a sample; default the model's EOS ids */
  endIds?: readonly number[];
  signal?: AbortSignal;
  /** the slow reference: decode the samples one after another on the model's own sequence */
  sequential?: boolean;
}

export interface FirstFinishSample {
  /** generated tokens, the end token excluded */
  tokens: number[];
  /** model log-probabilities (before processors) of the tokens */
  logprobs: number[];
  /** ended with an end id */
  finished: boolean;
}

export interface FirstFinishResult {
  /** index of the sample returned: the first to finish (lowest index on a tie), or when none finished the longest-running lowest index */
  winner: number;
  /** the winning sample */
  sample: FirstFinishSample;
  /** every sample as far as it was decoded (the batch stops when the winner finishes) */
  samples: FirstFinishSample[];
  stats: { steps: number; forwardRows: number; ms: number; aborted: boolean };
}

/** Sample i's generator: seeds spread by the golden ratio so streams do not overlap early. */
export function sampleRng(seed: number, i: number): Rng {
  return seededRng((seed + Math.imul(i, 0x9e3779b9)) >>> 0);
}

export function firstFinishSearch(model: CausalLM, promptIds: readonly number[], opts: FirstFinishOptions): FirstFinishResult {
  requireSyncRead(model, "firstFinishSearch");
  const { endIds, processors, greedy } = checkOptions(model, promptIds, opts);
  const t0 = performance.now();
  const pick = (logits: Float32Array, context: readonly number[], rng: Rng) => {
    const work = logits.slice();
    applyProcessors(processors, work, context);
    return greedy ? argmax(work) : sampleLogits(work, rng);
  };
  const samples: FirstFinishSample[] = Array.from({ length: opts.n }, () => ({ tokens: [], logprobs: [], finished: false }));
  const rngs = samples.map((_, i) => sampleRng(opts.seed ?? 0, i));
  let steps = 0;
  let forwardRows = promptIds.length;
  let aborted = false;

  if (opts.sequential) {
    // reference: each sample alone, to the end; the winner is the one that ended first
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < opts.n; i++) {
      const s = samples[i];
      model.reset();
      let logits = model.prefill(promptIds).logits;
      forwardRows += i > 0 ? promptIds.length : 0;
      // no sample needs to run longer than the earliest finish found so far
      for (let t = 0; t < Math.min(opts.maxTokens, best); t++) {
        if (opts.signal?.aborted) {
          aborted = true;
          break;
        }
        const token = pick(logits, [...promptIds, ...s.tokens], rngs[i]);
        if (endIds.has(token)) {
          s.finished = true;
          best = Math.min(best, t);
          break;
        }
        s.tokens.push(token);
        s.logprobs.push(logits[token] - logSumExp(logits));
        steps = Math.max(steps, t + 1);
        if (t + 1 < opts.maxTokens) {
          logits = model.step(token);
          forwardRows++;
        }
      }
    }
    return finish(samples, { steps, forwardRows, ms: performance.now() - t0, aborted });
  }

  const bm = model as BatchedCausalLM;
  const seqs: ModelSequence[] = [];
  try {
    for (let i = 0; i < opts.n; i++) seqs.push(bm.newSequence());
    const first = bm.prefillSequence(seqs[0], promptIds).slice();
    for (let i = 1; i < opts.n; i++) seqs[i].copyFrom(seqs[0]);
    const vocab = model.config.vocabSize;
    let logits: Float32Array[] = samples.map(() => first);
    for (let t = 0; t < opts.maxTokens; t++) {
      if (opts.signal?.aborted) {
        aborted = true;
        break;
      }
      const tokens = samples.map((s, i) => pick(logits[i], [...promptIds, ...s.tokens], rngs[i]));
      let someoneFinished = false;
      tokens.forEach((token, i) => {
        if (endIds.has(token)) {
          samples[i].finished = true;
          someoneFinished = true;
        }
      });
      if (someoneFinished) break;
      samples.forEach((s, i) => {
        s.tokens.push(tokens[i]);
        s.logprobs.push(logits[i][tokens[i]] - logSumExp(logits[i]));
      });
      steps = t + 1;
      if (t + 1 === opts.maxTokens) break;
      const out = bm.stepBatch(seqs, tokens);
      forwardRows += seqs.length;
      logits = samples.map((_, i) => out.logits.subarray(i * vocab, (i + 1) * vocab));
    }
  } finally {
    for (const s of seqs) s.free();
  }
  return finish(samples, { steps, forwardRows, ms: performance.now() - t0, aborted });
}

function finish(samples: FirstFinishSample[], stats: FirstFinishResult["stats"]): FirstFinishResult {
  let winner = -1;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    if (s.finished && (winner < 0 || s.tokens.length < samples[winner].tokens.length)) winner = i;
  }
  if (winner < 0) {
    winner = 0;
    for (let i = 1; i < samples.length; i++) if (samples[i].tokens.length > samples[winner].tokens.length) winner = i;
  }
  return { winner, sample: samples[winner], samples, stats };
}

function checkOptions(
  model: CausalLM,
  promptIds: readonly number[],
  o: FirstFinishOptions,
): { endIds: Set<number>; processors: LogitsProcessor[]; greedy: boolean } {
  const bad = (msg: string): never => {
    throw new DecodingOptionsError(msg);
  };
  if (!Number.isInteger(o.n) || o.n < 1) bad(`n (samples) must be an integer ≥ 1, got ${o.n}`);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) bad(`maxTokens must be an integer ≥ 1, got ${o.maxTokens}`);
  if (!o.sequential && !isBatched(model))
    bad("first finish search needs a model that holds several sequences (newSequence / stepBatch); pass sequential: true otherwise");
  if (promptIds.length === 0) bad("the prompt is empty");
  if (promptIds.length + o.maxTokens > model.contextLength)
    bad(`the prompt (${promptIds.length} tokens) plus maxTokens (${o.maxTokens}) exceeds the context length ${model.contextLength}`);
  const vocab = model.config.vocabSize;
  const endIds = new Set(o.endIds ?? model.config.eosTokenIds);
  if (endIds.size === 0) bad("first finish search needs end ids: the model has no EOS id, pass endIds");
  for (const id of endIds) if (!Number.isInteger(id) || id < 0 || id >= vocab) bad(`end id ${id} is outside the vocabulary [0, ${vocab})`);
  if (o.temperature === 0 && o.n > 1) bad("temperature 0 makes every sample identical; first finish search needs sampling (temperature > 0)");
  seededRng(o.seed ?? 0);
  return { endIds, processors: buildProcessors(o, vocab), greedy: o.temperature === 0 };
}
