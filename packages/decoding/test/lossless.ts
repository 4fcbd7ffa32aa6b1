/**
 * The losslessness check of speculative sampling, shared by the engine's and the drafters'
 * tests: the next two tokens after a fixed context, drawn many times through the real
 * engine, against their exact distribution from plain forwards (chi-square).
 */

import type { CausalLM, TreeVerifyingLM } from "../src/model";
import { buildProcessors } from "../src/processors";
import { seededRng } from "../src/rng";
import { softmax } from "../src/sampling";
import type { Drafter } from "../src/speculative/drafter";
import { SpeculativeEngine } from "../src/speculative/engine";
import { chiSquarePValue } from "./stats";

/** Exact p(a, b | context) of the next two tokens at temperature 1. */
export function exactPairs(model: CausalLM, context: readonly number[]): Float64Array {
  const V = model.config.vocabSize;
  const out = new Float64Array(V * V);
  model.reset();
  const pa = softmax(model.prefill(context).logits);
  for (let a = 0; a < V; a++) {
    model.reset();
    const pb = softmax(model.prefill([...context, a]).logits);
    for (let b = 0; b < V; b++) out[a * V + b] = pa[a] * pb[b];
  }
  return out;
}

export interface LosslessResult {
  p: number;
  stat: number;
  df: number;
  proposed: number;
  accepted: number;
}

/**
 * Runs the real speculative engine `n` times from the same context at temperature 1 with
 * `drafter`, and compares the next two tokens with their exact distribution (chi-square).
 * Rejection rules by default; `coupled` checks the keyed Gumbel-max verification instead.
 */
export function losslessCheck(target: TreeVerifyingLM, drafter: Drafter, opts: { n: number; budget: number; seed: number; coupled?: boolean }): LosslessResult {
  const V = target.config.vocabSize;
  const prompt = [1, 2, 3];
  const context = [...prompt, 4];
  const want = exactPairs(target, context);
  const counts = new Float64Array(V * V);
  const rng = seededRng(opts.seed);
  let proposed = 0;
  let accepted = 0;
  drafter.begin(prompt);
  for (let i = 0; i < opts.n; i++) {
    target.reset();
    target.prefill(prompt);
    // coupled verification: each draw its own seed (one seed always gives the same tokens)
    const coupledSeed = opts.coupled ? opts.seed + i : undefined;
    const engine = new SpeculativeEngine(target, drafter, {
      budget: opts.budget,
      greedy: false,
      processors: buildProcessors({}, V),
      warpers: [],
      rng,
      coupledSeed,
    });
    const got: number[] = [];
    const ctx = [...context];
    while (got.length < 2) {
      const produced = engine.step(ctx).map((p) => p.token);
      got.push(...produced);
      ctx.push(...produced);
    }
    counts[got[0] * V + got[1]]++;
    const s = engine.stats();
    proposed += s.proposed;
    accepted += s.accepted;
  }
  let stat = 0;
  let bins = 0;
  for (let k = 0; k < V * V; k++) {
    const e = opts.n * want[k];
    if (e < 5) continue;
    stat += (counts[k] - e) ** 2 / e;
    bins++;
  }
  return { p: chiSquarePValue(stat, bins - 1), stat, df: bins - 1, proposed, accepted };
}
