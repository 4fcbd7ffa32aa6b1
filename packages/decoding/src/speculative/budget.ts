/**
 * The draft budget follows the hardware: verifying n nodes costs verify(n) ÷ step() of one
 * decode step, a curve that is flat where decoding is memory-bound (weights read once for
 * all nodes) and steep where it is compute-bound (small models, quantized matmuls in WASM).
 * The curve is measured once per model (on its backend) and cached; the budget is the
 * largest number of draft nodes whose verify (with the pending token: nodes + 1 rows) costs
 * at most `maxCostRatio` steps (default 2): a bigger tree would need more than that many
 * tokens per step just to break even.
 */
import { forwardsOf, type TreeVerifyingLM } from "../model";

export interface CostPoint {
  /** rows verified: draft nodes + the pending token */
  nodes: number;
  /** verify(nodes) time ÷ one step's time */
  ratio: number;
}

const SIZES = [1, 2, 3, 5, 9, 17, 33, 65];
const REPS = 5;
const curves = new WeakMap<object, CostPoint[]>();

/** What one measurement runs: a 32-token prefix, then verify(n) and step() for each size. */
function measurementPlan(model: TreeVerifyingLM) {
  const vocab = model.config.vocabSize;
  const prefix = Array.from({ length: 32 }, (_, i) => (i * 7919 + 3) % vocab);
  const sizes = SIZES.filter((n) => prefix.length + n + 2 <= model.contextLength);
  const nodes = (n: number) => Array.from({ length: n }, (_, i) => (i * 104729 + 11) % vocab);
  return { prefix, sizes, nodes };
}

/**
 * Fastest verify(n) ÷ fastest step, cached for the model. The fastest of the repetitions, not
 * the median: interference (another process, a GC) only ever adds time, and a median of three
 * still let one noisy run halve the budget and pause drafting that pays.
 */
function finishCurve(model: TreeVerifyingLM, sizes: number[], verifyMs: number[][], stepMs: number[]): CostPoint[] {
  const step = Math.min(...stepMs);
  const curve = sizes.map((n, i) => ({ nodes: n, ratio: step > 0 ? Math.min(...verifyMs[i]) / step : 1 }));
  curves.set(model, curve);
  return curve;
}

/** verify(n) ÷ step() for n = 1..65 rows, measured once per model (it uses and then empties the model's cache). */
export function verifyCostCurve(model: TreeVerifyingLM): CostPoint[] {
  const cached = curves.get(model);
  if (cached) return cached;
  const { prefix, sizes, nodes } = measurementPlan(model);
  const time = (f: () => void) => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  model.reset();
  model.prefill(prefix);
  // warm the kernels and scratch buffers of every size first
  for (const n of sizes) {
    model.verify(nodes(n), chainParents(n));
    model.step(prefix[0]);
    model.rollback(1);
  }
  const verifyMs = sizes.map(() => [] as number[]);
  const stepMs: number[] = [];
  for (const [i, n] of sizes.entries()) {
    for (let r = 0; r < REPS; r++) {
      verifyMs[i].push(time(() => model.verify(nodes(n), chainParents(n))));
      stepMs.push(time(() => model.step(prefix[r])));
      model.rollback(1);
    }
  }
  model.reset();
  return finishCurve(model, sizes, verifyMs, stepMs);
}

/**
 * verifyCostCurve for any model, awaiting each forward (through the async twins on a model
 * that cannot read synchronously: on WebGPU a forward's time is only known once its logits
 * arrive). Shares the cache.
 */
export async function verifyCostCurveAsync(model: TreeVerifyingLM): Promise<CostPoint[]> {
  const cached = curves.get(model);
  if (cached) return cached;
  const { prefix, sizes, nodes } = measurementPlan(model);
  const run = forwardsOf(model);
  const time = async (f: () => Promise<unknown>) => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  model.reset();
  await run.prefill(prefix);
  for (const n of sizes) {
    await run.verify(nodes(n), chainParents(n));
    await run.step(prefix[0]);
    model.rollback(1);
  }
  const verifyMs = sizes.map(() => [] as number[]);
  const stepMs: number[] = [];
  for (const [i, n] of sizes.entries()) {
    for (let r = 0; r < REPS; r++) {
      verifyMs[i].push(await time(() => run.verify(nodes(n), chainParents(n))));
      stepMs.push(await time(() => run.step(prefix[r])));
      model.rollback(1);
    }
  }
  model.reset();
  return finishCurve(model, sizes, verifyMs, stepMs);
}

/** The most draft nodes n (of 1, 2, 4 ... 64) with verify(n + 1 rows) ≤ maxCostRatio × step; at least 1. */
export function draftBudget(model: TreeVerifyingLM, maxCostRatio = 2): number {
  return budgetFromCurve(verifyCostCurve(model), maxCostRatio);
}

/** draftBudget for a measured curve. */
export function budgetFromCurve(curve: readonly CostPoint[], maxCostRatio = 2): number {
  let best = 1;
  for (const p of curve) if (p.ratio <= maxCostRatio) best = Math.max(best, p.nodes - 1);
  return best;
}

function chainParents(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i - 1);
}
