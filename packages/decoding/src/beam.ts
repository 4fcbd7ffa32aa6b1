/**
 * Beam search and Diverse Beam Search (Vijayakumar et al. 2016) over a batched model.
 *
 * Every live beam is a ModelSequence; one stepBatch advances all of them, so each step reads
 * the weights once for the whole beam. Per step and per group (plain beam search is one group):
 *
 *   cand(b, v) = score(b) + log p(v | beam b) − λ · used(v)
 *
 * where used(v) counts how many beams of the earlier groups picked v at this step (the
 * Hamming diversity term; λ = 0 for plain beam search). The group keeps its 2·B' best
 * candidates: an end token among the first B' closes a hypothesis, the rest become the next
 * B' beams. A hypothesis scores sum / length^lengthPenalty, with length counting generated
 * tokens including its end token.
 *
 * Stopping follows Hugging Face's GenerationMixin._beam_search (transformers ≥ 4.50), per group:
 * earlyStopping true stops a group once it holds B' finished hypotheses; false also needs the
 * best live beam's score, divided by the current length^lengthPenalty, to be no better than the
 * worst finished one; "never" divides by maxTokens^lengthPenalty instead when lengthPenalty > 0
 * (Hugging Face's bound, which also uses the current length when lengthPenalty ≤ 0). At
 * maxTokens the beams still live at that step join their group's hypotheses, also in a group
 * that filled up at that very step (Hugging Face scores those cut candidates before its stop
 * check). test/hf-beam-reference.ts is an independent reference of these rules.
 */
import { DecodingOptionsError } from "./errors";
import { type BatchedCausalLM, isBatched, type ModelSequence, requireSyncRead } from "./model";
import { applyProcessors, buildProcessors, type LogitsProcessor, type SamplingOptions } from "./processors";
import { logSoftmax } from "./sampling";
import { topIndices } from "./top-candidates";

export interface BeamSearchOptions
  extends Pick<SamplingOptions, "repetitionPenalty" | "frequencyPenalty" | "presencePenalty" | "logitBias" | "allowedTokens" | "bannedTokens"> {
  /** total beams (all groups together) */
  beams: number;
  /** most generated tokens per hypothesis */
  maxTokens: number;
  /** exponent of the length normalisation; default 1 */
  lengthPenalty?: number;
  /** default false (Hugging Face's default) */
  earlyStopping?: boolean | "never";
  /** hypotheses returned, best first; default 1, at most beams */
  numReturn?: number;
  /** Diverse Beam Search: beam groups (beams must divide evenly); default 1 */
  groups?: number;
  /** λ, the Hamming diversity strength between groups; default 0 (must be > 0 with groups > 1 to diversify) */
  diversityPenalty?: number;
  /** ids that end a hypothesis; default the model's EOS ids */
  endIds?: readonly number[];
  signal?: AbortSignal;
}

export interface BeamHypothesis {
  tokens: number[];
  /** sum of the model's log-probabilities of the tokens (end token included) */
  logprob: number;
  /** the search's score: (logprob − diversity penalties) / length^lengthPenalty */
  score: number;
  /** ended with an end id (false: cut at maxTokens) */
  finished: boolean;
  /** the beam group it came from */
  group: number;
}

export interface BeamSearchResult {
  /** best first */
  hypotheses: BeamHypothesis[];
  /** every hypothesis each group finished with, best first (for diversity checks) */
  groups: BeamHypothesis[][];
  stats: { steps: number; forwardRows: number; ms: number; aborted: boolean };
}

interface Beam {
  seq: ModelSequence;
  tokens: number[];
  /** search score so far (with diversity penalties) */
  score: number;
  logprob: number;
  /** logits of the next token */
  logits: Float32Array;
}

interface Finished {
  hyps: BeamHypothesis[];
  done: boolean;
}

export function beamSearch(model: BatchedCausalLM, promptIds: readonly number[], opts: BeamSearchOptions): BeamSearchResult {
  requireSyncRead(model, "beamSearch");
  const o = checkOptions(model, promptIds, opts);
  const t0 = performance.now();
  const vocab = model.config.vocabSize;
  const processors = buildProcessors(opts, vocab);
  const perGroup = o.beams / o.groups;
  const finished: Finished[] = Array.from({ length: o.groups }, () => ({ hyps: [], done: false }));
  const free: ModelSequence[] = [];
  const root = model.newSequence();
  let forwardRows = promptIds.length;
  let aborted = false;
  let steps = 0;
  // every group starts from the prompt; the root sequence is shared until the first step copies it
  let groups: Beam[][] = [];
  try {
    const logits = model.prefillSequence(root, promptIds).slice();
    groups = Array.from({ length: o.groups }, () => [{ seq: root, tokens: [], score: 0, logprob: 0, logits }]);
    for (let step = 0; step < o.maxTokens; step++) {
      if (opts.signal?.aborted) {
        aborted = true;
        break;
      }
      steps++;
      const used = new Float64Array(vocab);
      const chosen: { group: number; parent: Beam; token: number; score: number; logprob: number }[] = [];
      for (let g = 0; g < o.groups; g++) {
        if (finished[g].done) continue;
        const live = groups[g];
        const cands: { parent: Beam; token: number; score: number; logprob: number }[] = [];
        for (const beam of live) {
          const work = beam.logits.slice();
          applyProcessors(processors, work, [...promptIds, ...beam.tokens]);
          const lp = logSoftmax(work);
          const raw = processors.length ? logSoftmax(beam.logits) : lp;
          const scored = new Float64Array(vocab);
          for (let v = 0; v < vocab; v++) scored[v] = beam.score + lp[v] - o.diversityPenalty * used[v];
          for (const v of topIndices(scored, 2 * perGroup)) cands.push({ parent: beam, token: v, score: scored[v], logprob: beam.logprob + raw[v] });
        }
        // best first; ties by beam order then token id, so runs are reproducible
        cands.sort((a, b) => b.score - a.score || live.indexOf(a.parent) - live.indexOf(b.parent) || a.token - b.token);
        const next: typeof chosen = [];
        for (let r = 0; r < Math.min(cands.length, 2 * perGroup) && next.length < perGroup; r++) {
          const c = cands[r];
          if (o.endIds.has(c.token)) {
            if (r < perGroup)
              addHypothesis(finished[g], perGroup, {
                tokens: [...c.parent.tokens, c.token],
                logprob: c.logprob,
                score: c.score / (c.parent.tokens.length + 1) ** o.lengthPenalty,
                finished: true,
                group: g,
              });
          } else next.push({ group: g, ...c });
        }
        for (const c of next) used[c.token] += 1;
        chosen.push(...next);
        const best = next.length ? next[0].score : Number.NEGATIVE_INFINITY;
        finished[g].done = next.length === 0 || isDone(finished[g], perGroup, best, step + 1, o);
      }
      if (step + 1 === o.maxTokens) {
        // cut at maxTokens: every beam live at this step joins its group's hypotheses, even where
        // the group filled up at this step (Hugging Face's _beam_search adds the top candidates
        // that hit max length before it checks whether to stop)
        for (const c of chosen)
          addHypothesis(finished[c.group], perGroup, {
            tokens: [...c.parent.tokens, c.token],
            logprob: c.logprob,
            score: c.score / (c.parent.tokens.length + 1) ** o.lengthPenalty,
            finished: false,
            group: c.group,
          });
        break;
      }
      const liveNext = chosen.filter((c) => !finished[c.group].done);
      if (liveNext.length === 0) break;
      // each parent's sequence goes to its first child; later children get a copy
      const claimed = new Set<ModelSequence>();
      const seqs: ModelSequence[] = [];
      for (const c of liveNext) {
        if (!claimed.has(c.parent.seq)) {
          claimed.add(c.parent.seq);
          seqs.push(c.parent.seq);
        } else {
          const s = free.pop() ?? model.newSequence();
          s.copyFrom(c.parent.seq);
          seqs.push(s);
        }
      }
      for (const beams of groups) for (const b of beams) if (!claimed.has(b.seq) && !free.includes(b.seq)) free.push(b.seq);
      const out = model.stepBatch(
        seqs,
        liveNext.map((c) => c.token),
      );
      forwardRows += liveNext.length;
      groups = groups.map(() => []);
      liveNext.forEach((c, i) => {
        groups[c.group].push({
          seq: seqs[i],
          tokens: [...c.parent.tokens, c.token],
          score: c.score,
          logprob: c.logprob,
          logits: out.logits.slice(i * vocab, (i + 1) * vocab),
        });
      });
    }
    if (aborted) {
      for (let g = 0; g < o.groups; g++)
        for (const b of groups[g])
          if (b.tokens.length > 0)
            addHypothesis(finished[g], perGroup, {
              tokens: b.tokens,
              logprob: b.logprob,
              score: b.score / b.tokens.length ** o.lengthPenalty,
              finished: false,
              group: g,
            });
    }
  } finally {
    const all = new Set<ModelSequence>([root, ...free]);
    for (const beams of groups) for (const b of beams) all.add(b.seq);
    for (const s of all) s.free();
  }
  const perGroupHyps = finished.map((f) => [...f.hyps].sort(byScore));
  const hypotheses = perGroupHyps.flat().sort(byScore).slice(0, o.numReturn);
  return { hypotheses, groups: perGroupHyps, stats: { steps, forwardRows, ms: performance.now() - t0, aborted } };
}

function byScore(a: BeamHypothesis, b: BeamHypothesis): number {
  return b.score - a.score;
}

function addHypothesis(f: Finished, keep: number, h: BeamHypothesis): void {
  f.hyps.push(h);
  if (f.hyps.length > keep) {
    f.hyps.sort(byScore);
    f.hyps.length = keep;
  }
}

function worst(f: Finished): number {
  let w = Number.POSITIVE_INFINITY;
  for (const h of f.hyps) w = Math.min(w, h.score);
  return w;
}

/** Hugging Face's BeamHypotheses.is_done, with `length` the generated tokens so far. */
function isDone(f: Finished, keep: number, bestRunning: number, length: number, o: Checked): boolean {
  if (f.hyps.length < keep) return false;
  if (o.earlyStopping === true) return true;
  if (o.earlyStopping === false) return worst(f) >= bestRunning / length ** o.lengthPenalty;
  // "never": Hugging Face's bound on what a live beam can still reach: with lengthPenalty > 0 a
  // longer hypothesis divides by more, so the longest; otherwise the current length (a looser
  // bound than length + 1, kept so the step counts match Hugging Face's)
  const bound = bestRunning / (o.lengthPenalty > 0 ? o.maxTokens : length) ** o.lengthPenalty;
  return worst(f) >= bound;
}

interface Checked {
  beams: number;
  groups: number;
  maxTokens: number;
  lengthPenalty: number;
  earlyStopping: boolean | "never";
  numReturn: number;
  diversityPenalty: number;
  endIds: Set<number>;
}

function checkOptions(model: BatchedCausalLM, promptIds: readonly number[], o: BeamSearchOptions): Checked {
  if (!isBatched(model)) throw new DecodingOptionsError("beam search needs a model that holds several sequences (newSequence / stepBatch)");
  const bad = (msg: string): never => {
    throw new DecodingOptionsError(msg);
  };
  const extra = o as SamplingOptions;
  for (const k of ["temperature", "topK", "topP", "minP", "typicalP"] as const)
    if (extra[k] !== undefined) bad(`${k} is a sampling option; beam search is deterministic (use generate() or firstFinishSearch() to sample)`);
  if (!Number.isInteger(o.beams) || o.beams < 1) bad(`beams must be an integer ≥ 1, got ${o.beams}`);
  const groups = o.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) bad(`groups must be an integer ≥ 1, got ${groups}`);
  if (o.beams % groups !== 0) bad(`beams (${o.beams}) must be a multiple of groups (${groups})`);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) bad(`maxTokens must be an integer ≥ 1, got ${o.maxTokens}`);
  const lengthPenalty = o.lengthPenalty ?? 1;
  if (!Number.isFinite(lengthPenalty)) bad(`lengthPenalty must be finite, got ${lengthPenalty}`);
  const earlyStopping = o.earlyStopping ?? false;
  if (earlyStopping !== true && earlyStopping !== false && earlyStopping !== "never")
    bad(`earlyStopping must be true, false or "never", got ${JSON.stringify(earlyStopping)}`);
  const numReturn = o.numReturn ?? 1;
  if (!Number.isInteger(numReturn) || numReturn < 1 || numReturn > o.beams) bad(`numReturn must be an integer in [1, beams=${o.beams}], got ${numReturn}`);
  const diversityPenalty = o.diversityPenalty ?? 0;
  if (!Number.isFinite(diversityPenalty) || diversityPenalty < 0) bad(`diversityPenalty must be a finite number ≥ 0, got ${diversityPenalty}`);
  if (diversityPenalty > 0 && groups === 1) bad("diversityPenalty needs groups > 1 (diversity is between beam groups)");
  const vocab = model.config.vocabSize;
  const endIds = new Set(o.endIds ?? model.config.eosTokenIds);
  for (const id of endIds) if (!Number.isInteger(id) || id < 0 || id >= vocab) bad(`end id ${id} is outside the vocabulary [0, ${vocab})`);
  if (promptIds.length === 0) bad("the prompt is empty");
  if (promptIds.length + o.maxTokens > model.contextLength)
    bad(`the prompt (${promptIds.length} tokens) plus maxTokens (${o.maxTokens}) exceeds the context length ${model.contextLength}`);
  return { beams: o.beams, groups, maxTokens: o.maxTokens, lengthPenalty, earlyStopping, numReturn, diversityPenalty, endIds };
}

export type { LogitsProcessor };
