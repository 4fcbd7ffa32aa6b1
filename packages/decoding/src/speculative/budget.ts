/**
 * The draft budget follows the hardware: verifying n nodes costs verify(n) ÷ step() of one
 * decode step, a curve that is flat where decoding is memory-bound (weights read once for
 * all nodes) and steep where it is compute-bound (small models, quantized matmuls in WASM).
 * The curve is measured once per model (on its backend) and cached; the budget is the
 * largest number of draft nodes whose verify (with the pending token: nodes + 1 rows) costs
 * at most `maxCostRatio` steps (default 2): a bigger tree would need more than that many
 * tokens per step just to break even.
 */
import type { TreeVerifyingLM } from "../model";

export interface CostPoint {
  /** rows verified: draft nodes + the pending token */
  nodes: number;
  /** verify(nodes) time ÷ one step's time */
  ratio: number;
}

const SIZES = [1, 2, 3, 5, 9, 17, 33, 65];
const curves = new WeakMap<object, CostPoint[]>();

/** verify(n) ÷ step() for n = 1..65 rows, measured once per model (it uses and then empties the model's cache). */
export function verifyCostCurve(model: TreeVerifyingLM): CostPoint[] {
  const cached = curves.get(model);
  if (cached) return cached;
  const vocab = model.config.vocabSize;
  const prefix = Array.from({ length: 32 }, (_, i) => (i * 7919 + 3) % vocab);
  const sizes = SIZES.filter((n) => prefix.length + n + 2 <= model.contextLength);
  model.reset();
  model.prefill(prefix);
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const time = (f: () => void) => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  // warm the kernels and scratch buffers of every size first
  const nodes = (n: number) => Array.from({ length: n }, (_, i) => (i * 104729 + 11) % vocab);
  for (const n of sizes) {
    model.verify(nodes(n), chainParents(n));
    model.step(prefix[0]);
    model.rollback(1);
  }
  const steps: number[] = [];
  const curve: CostPoint[] = [];
  for (const n of sizes) {
    const vs: number[] = [];
    for (let r = 0; r < 3; r++) {
      vs.push(time(() => model.verify(nodes(n), chainParents(n))));
      steps.push(
        time(() => {
          model.step(prefix[r]);
        }),
      );
      model.rollback(1);
    }
    curve.push({ nodes: n, ratio: median(vs) });
  }
  const step = median(steps);
  for (const p of curve) p.ratio = step > 0 ? p.ratio / step : 1;
  model.reset();
  curves.set(model, curve);
  return curve;
}

/** The most draft nodes n (of 1, 2, 4 ... 64) with verify(n + 1 rows) ≤ maxCostRatio × step; at least 1. */
export function draftBudget(model: TreeVerifyingLM, maxCostRatio = 2): number {
  let best = 1;
  for (const p of verifyCostCurve(model)) if (p.ratio <= maxCostRatio) best = Math.max(best, p.nodes - 1);
  return best;
}

function chainParents(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i - 1);
}
